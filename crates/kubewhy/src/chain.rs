//! Error chains: walking an error's `source()` chain by type (never by matching text), and the chain's causes with
//! the repeats left out — what [`crate::diagnose_error`] searches and what [`crate::render::chain`] prints.

use std::error::Error;

/// How deep a chain is followed: a cyclic or absurdly deep chain stops there.
const MAX_DEPTH: usize = 64;

/// `err` and its sources, outermost first.
///
/// An `std::io::Error` that wraps another error (`io::Error::other(e)`, as kube does with a watch stream's body
/// errors) is followed into that error: its own `source()` skips the wrapped error and goes to that error's source.
pub fn iter<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    let mut next: Option<&'a (dyn Error + 'static)> = Some(err);
    std::iter::from_fn(move || {
        let e = next?;
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
        Some(e)
    })
    .take(MAX_DEPTH)
}

/// The first error of type `T` in `err`'s chain, `err` included.
pub fn find<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    iter(err).find_map(|e| e.downcast_ref::<T>())
}

/// The texts of `err` and its sources, leaving out empty ones and a source whose text an outer one already shows
/// (an error that prints its source too, or two layers that say the same: `client error (Connect)` twice).
pub fn messages(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in iter(err) {
        let text = e.to_string();
        let text = text.trim();
        if text.is_empty() || out.iter().any(|outer| outer.contains(text)) {
            continue;
        }
        out.push(text.to_string());
    }
    out
}

/// The chain on one line: `a: b: c`.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    messages(err).join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the needs failed")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Echo(#[source] std::io::Error);

    #[test]
    fn walks_by_type_and_leaves_out_echoed_causes() {
        let err = Outer(std::io::Error::other("disk on fire"));
        assert!(find::<std::io::Error>(&err).is_some());
        assert_eq!(one_line(&err), "reading the needs failed: disk on fire");
        let echo = Echo(std::io::Error::other("disk on fire"));
        assert_eq!(messages(&echo), ["outer: disk on fire"]);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Layer(#[source] Box<dyn Error + Send + Sync>);

    #[test]
    fn a_source_any_outer_error_already_shows_is_left_out() {
        // hyper's shape: two layers both say `client error (Connect)`, one between them says something else.
        let err = Layer(Box::new(Outer(std::io::Error::other(Layer(Box::new(
            std::io::Error::other("tcp connect error: Connection refused (os error 111)"),
        ))))));
        assert_eq!(
            one_line(&err),
            "client error (Connect): reading the needs failed: tcp connect error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn an_io_error_is_followed_into_the_error_it_wraps() {
        let err = Outer(std::io::Error::other(Outer(std::io::Error::other("inner"))));
        assert_eq!(iter(&err).filter(|e| e.is::<Outer>()).count(), 2);
    }
}
