//! What pasting does to a message, for the property tests (`diagnose_props.rs`, `catalog.rs`): every kind of damage
//! the normaliser undoes (`src/read/normalize.rs`), as a function of the text and a width.

/// The kinds of damage, in the order [`damaged`] takes them.
pub const DAMAGES: &[&str] = &[
    "none",
    "typographic quotes",
    "pane borders",
    "e-mail quoting, wrapped",
    "hanging indent",
    "escaped in a JSON log",
    "numbered error chain",
    "markdown code span",
    "markdown auto-links",
    "table cell",
    "line prefix",
    "wrapped at a space",
    "CRLF line ends",
    "code span inside a line",
    "markdown links that lost their target",
];

/// Greedy word wrap at `width` columns.
pub fn word_wrap(m: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in m.split(' ') {
        let cur = lines.last_mut().expect("one line");
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

/// Each line of `m` through `f`, joined again.
fn per_line(m: &str, f: impl Fn(&str) -> String) -> String {
    m.lines().map(f).collect::<Vec<_>>().join("\n")
}

/// The message damaged the way a paste damages it (`damage` indexes [`DAMAGES`]).
pub fn damaged(m: &str, damage: usize, width: usize) -> String {
    match damage {
        0 => m.to_string(),
        // Typographic quotes: a word processor or a chat turned "…" into “…”.
        1 => {
            let mut open = true;
            m.chars()
                .map(|c| match c {
                    '"' => {
                        open = !open;
                        if open { '”' } else { '“' }
                    }
                    other => other,
                })
                .collect()
        }
        // A k9s pane: every line cut every `width` characters, framed by borders.
        2 => per_line(m, |line| {
            let chars: Vec<char> = line.chars().collect();
            if chars.is_empty() {
                return format!("│ {:<width$} │", "");
            }
            chars
                .chunks(width)
                .map(|c| format!("│ {:<width$} │", c.iter().collect::<String>()))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        // Quoted in an e-mail reply, wrapped at `width` columns.
        3 => per_line(m, |line| {
            word_wrap(line, width)
                .iter()
                .map(|l| format!("> {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        // Rich: a hanging indent under the log record's first line, padded to the pane.
        4 => {
            let lines: Vec<String> = m.lines().flat_map(|l| word_wrap(l, width)).collect();
            let mut out = format!(
                "[05/24/26 08:30:05] ERROR    all.tool - {:<width$}",
                lines.first().map_or("", String::as_str)
            );
            for l in lines.iter().skip(1) {
                out.push_str(&format!("\n{:29}{:<width$}", "", l));
            }
            out
        }
        // Escaped into a JSON log after a line of noise.
        5 => {
            let blob = format!(
                "I0101 00:00:00.000000 1 x.go:1] noise\nE0101 00:00:00.000000 1 y.go:2] {m}"
            );
            serde_json::json!({ "level": "error", "stderr": blob }).to_string()
        }
        // The last cause of a numbered error chain.
        6 => format!("Error: reconcile failed\n\nCaused by:\n   0: reconcile failed\n   1: {m}"),
        // A markdown code span (one line) or a fenced block (several).
        7 => {
            if m.contains('\n') {
                format!("```\n{m}\n```")
            } else {
                format!("`{m}`")
            }
        }
        // A tracker's auto-links: every dotted host-like word becomes `[word](http://word)`.
        8 => auto_linked(m, |w| format!("[{w}](http://{w})")),
        // A markdown table's cell: one row, the message's lines joined by HTML line breaks.
        9 => format!(
            "| 2026-07-01 10:00:00 | {} |",
            m.lines().collect::<Vec<_>>().join("<br>")
        ),
        // A prefix tools put before each line (kubectl logs --prefix, a CI step).
        10 => per_line(m, |line| format!("[pod/app-7d9f6c5b8-x2x9z/app] {line}")),
        // Wrapped at a space by a terminal or a person, nothing else.
        11 => per_line(m, |line| word_wrap(line, width).join("\n")),
        // Windows line ends.
        12 => m.replace('\n', "\r\n"),
        // A person put an inline-code span around part of the first line, from a word in its first third to a word
        // in its last (kubernetes-sigs/controller-tools#197: `` error ` "admission webhook "x"` does not … ``).
        13 => {
            let (first, rest) = m.split_once('\n').map_or((m, None), |(f, r)| (f, Some(r)));
            let n = first.len();
            let boundary = |at: usize| {
                (0..=at)
                    .rev()
                    .find(|&i| first.is_char_boundary(i))
                    .unwrap_or(0)
            };
            let (third, two_thirds) = (boundary(n / 3), boundary(2 * n / 3));
            let open = first[..third].rfind(' ').map_or(0, |i| i + 1);
            let close = first[two_thirds..].find(' ').map_or(n, |i| two_thirds + i);
            let line = format!(
                "{}`{}`{}",
                &first[..open],
                &first[open..close],
                &first[close..]
            );
            match rest {
                Some(r) => format!("{line}\n{r}"),
                None => line,
            }
        }
        // Auto-links copied from a page that dropped their targets: every dotted host-like word keeps the link's
        // brackets (`on [deployments.apps] "x"`, dell/csm#1670).
        _ => auto_linked(m, |w| format!("[{w}]")),
    }
}

/// The message with every dotted host-like word (`pods.example.com`, `deployments.apps`) made a link by `link`.
fn auto_linked(m: &str, link: impl Fn(&str) -> String) -> String {
    m.split(' ')
        .map(|w| {
            let host_like = w.len() > 3
                && w.contains('.')
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                && !w.starts_with('.')
                && !w.ends_with('.');
            if host_like { link(w) } else { w.to_string() }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
