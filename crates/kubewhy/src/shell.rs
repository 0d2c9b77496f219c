//! Words for a POSIX shell: the one quoter behind every command line kubewhy shows a person to copy — a `kubectl`
//! hint, the `--fix` line of a report, a `curl` line of the request inspector.

use std::borrow::Cow;

/// `arg` as one word of a POSIX shell: as it is when a shell would not split or expand it, single-quoted
/// otherwise (a `'` inside becomes `'\''`).
pub fn word(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(word("/tmp/needs.yaml"), "/tmp/needs.yaml");
        assert_eq!(
            word("--as=system:serviceaccount:a:b"),
            "--as=system:serviceaccount:a:b"
        );
        assert_eq!(word("dev team"), "'dev team'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word(""), "''");
        assert_eq!(word("$HOME"), "'$HOME'");
        assert_eq!(word("a&b"), "'a&b'");
        assert_eq!(word("*"), "'*'");
    }
}
