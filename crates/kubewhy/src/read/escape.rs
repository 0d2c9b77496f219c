//! Quoting in logged text: the same server message appears with its quotes plain (`"`), escaped once (`\"`,
//! Rust `Debug` or Go `%q`) or escaped again (`\\\"`, a `Debug` string inside a JSON log). Helpers here undo
//! that, so the readers can match one shape.

/// Removes one level of backslash escaping (`\"` → `"`, `\\` → `\`, `\n` → newline, `\t` → tab); other
/// escapes are kept as they are.
pub(crate) fn unescape_once(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\'') => out.push('\''),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The number of backslashes right before byte `at` of `s`.
pub(crate) fn backslashes_before(s: &str, at: usize) -> usize {
    s.as_bytes()[..at]
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count()
}

/// Undoes escaping until a quote at byte `quote_at` is no longer escaped: returns the text from `from` on,
/// unescaped as many times as needed (`\"` once, `\\\"` twice, ...).
pub(crate) fn normalize_from(s: &str, from: usize, quote_at: usize) -> String {
    let mut level = backslashes_before(s, quote_at);
    let mut text = s[from..].to_string();
    // Each level of escaping doubles the backslashes and adds one: 1, 3, 7, ...
    while level > 0 {
        text = unescape_once(&text);
        level = (level - 1) / 2;
    }
    text
}

/// Reads a Rust or Go string literal whose opening quote is at byte 0 of `s`: its unescaped value and the byte
/// length consumed. An unterminated literal (a truncated line) yields the rest of the text.
pub(crate) fn string_literal(s: &str) -> (String, usize) {
    debug_assert!(s.starts_with('"'));
    let mut out = String::new();
    let mut iter = s.char_indices().skip(1);
    while let Some((i, c)) = iter.next() {
        match c {
            '"' => return (out, i + 1),
            '\\' => match iter.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, 'u')) => {
                    // `\u{1F600}` (Rust) or `\u00e9` (Go/JSON).
                    let rest = &s[i + 2..];
                    let (hex, used) = if let Some(inner) = rest.strip_prefix('{') {
                        let end = inner.find('}').unwrap_or(inner.len());
                        (&inner[..end], end + 2)
                    } else {
                        let end = rest
                            .char_indices()
                            .take(4)
                            .take_while(|(_, c)| c.is_ascii_hexdigit())
                            .count();
                        (&rest[..end], end)
                    };
                    if let Some(ch) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                        out.push(ch);
                    }
                    for _ in 0..used {
                        iter.next();
                    }
                }
                Some((_, other)) => out.push(other),
                None => break,
            },
            other => out.push(other),
        }
    }
    (out, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_levels() {
        assert_eq!(unescape_once(r#"User \"a\" x\\y"#), r#"User "a" x\y"#);
        let s = r#"message: \\\"x\\\""#;
        let q = s.find('"').unwrap();
        assert_eq!(backslashes_before(s, q), 3);
        assert_eq!(normalize_from(s, 0, q), r#"message: "x""#);
    }

    #[test]
    fn reads_literals() {
        assert_eq!(
            string_literal(r#""a \"b\"\n c" rest"#),
            ("a \"b\"\n c".to_string(), 13)
        );
        assert_eq!(string_literal("\"trunc"), ("trunc".to_string(), 6));
        assert_eq!(string_literal(r#""\u{e9}\u00e9""#).0, "éé");
    }
}
