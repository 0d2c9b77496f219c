//! A `Status` printed as a Python dict (Kopf's `(message, {'kind': 'Status', …, 'code': 403})`, the Python
//! client's repr) or a JavaScript object literal (`{ kind: 'Status', …, code: 403 }` from `@kubernetes/client-node`
//! errors), or a JSON `Status` cut short by the paste: a tolerant reader of these literal syntaxes turns the object
//! into a JSON value, keeping what was printed before a cut.

use serde_json::{Map, Value};

use super::{Answer, from_status_value};

/// How many `{` before a `kind` key are tried as the start of the object.
const CANDIDATES: usize = 8;
/// How deeply literals may nest.
const MAX_DEPTH: usize = 32;

/// Reads the first `Status` object printed as a Python or JavaScript literal.
pub(crate) fn read(text: &str) -> Option<Answer> {
    let mut from = 0;
    while let Some(rel) = text[from..].find("kind") {
        let at = from + rel;
        from = at + 4;
        let rest = text[at + 4..].trim_start_matches(['\'', '"', ' ', ':']);
        if !rest.starts_with("Status") {
            continue;
        }
        let mut end = at;
        for _ in 0..CANDIDATES {
            let Some(open) = text[..end].rfind('{') else {
                break;
            };
            end = open;
            let mut p = Parser {
                s: text.as_bytes(),
                i: open,
                depth: 0,
            };
            if let Some(v) = p.value()
                && v.get("kind").and_then(Value::as_str) == Some("Status")
            {
                // A `Status` cut before any of its fields says nothing.
                let answer = from_status_value(&v);
                return (!answer.is_empty()).then_some(answer);
            }
        }
    }
    None
}

/// Parses Python and JavaScript literals: dicts and objects (quoted or bare keys), lists, tuples, strings in
/// either quote with their escapes (`b'…'` too), numbers, `True`/`False`/`None`/`null`/`undefined`, and calls
/// (`HTTPHeaderDict({…})`, `URL('…')`) as their first argument.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let v = match self.peek()? {
            b'{' => self.object(),
            b'[' => self.sequence(b']'),
            b'(' => self.sequence(b')'),
            b'\'' | b'"' => self.string().map(Value::String),
            b'b' if matches!(self.s.get(self.i + 1), Some(b'\'' | b'"')) => {
                self.i += 1;
                self.string().map(Value::String)
            }
            b'-' | b'0'..=b'9' => self.number(),
            b if b.is_ascii_alphabetic() || b == b'_' => self.word(),
            _ => None,
        };
        self.depth -= 1;
        v
    }

    /// Whether the text ended: a paste cut short keeps what was read before the cut.
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn object(&mut self) -> Option<Value> {
        self.i += 1; // {
        let mut map = Map::new();
        loop {
            self.skip_ws();
            let Some(b) = self.peek() else {
                return Some(Value::Object(map));
            };
            match b {
                b'}' => {
                    self.i += 1;
                    return Some(Value::Object(map));
                }
                b',' => self.i += 1,
                _ => {
                    let entry = self.key().and_then(|key| {
                        self.skip_ws();
                        (self.peek()? == b':').then_some(())?;
                        self.i += 1;
                        self.skip_ws();
                        // A message that lost its quotes (bitnami/charts#13544) runs to the next key.
                        let bytes_literal = self.peek() == Some(b'b')
                            && matches!(self.s.get(self.i + 1), Some(b'\'' | b'"'));
                        if key == "message"
                            && !bytes_literal
                            && self.peek().is_some_and(|b| b.is_ascii_alphabetic())
                        {
                            return Some((key, self.unquoted_message()));
                        }
                        Some((key, self.value()?))
                    });
                    match entry {
                        Some((key, v)) => {
                            map.insert(key, v);
                        }
                        None => return self.at_end().then_some(Value::Object(map)),
                    }
                }
            }
        }
    }

    fn key(&mut self) -> Option<String> {
        match self.peek()? {
            b'\'' | b'"' => self.string(),
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                {
                    self.i += 1;
                }
                (self.i > start)
                    .then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
        }
    }

    /// A message printed without its quotes: the text up to the next key of a `Status` (`reason:`, `details:`,
    /// `code:`, …, after a space or a comma) or the end of the object.
    fn unquoted_message(&mut self) -> Value {
        const KEYS: [&[u8]; 6] = [
            b"reason:",
            b"details:",
            b"code:",
            b"status:",
            b"metadata:",
            b"apiVersion:",
        ];
        let start = self.i;
        let rest = &self.s[start..];
        let mut end = rest.len();
        for (at, &b) in rest.iter().enumerate() {
            if b == b'}' {
                end = at;
                break;
            }
            if matches!(b, b' ' | b',') && KEYS.iter().any(|k| rest[at + 1..].starts_with(k)) {
                end = at;
                break;
            }
        }
        self.i = start + end;
        let text = String::from_utf8_lossy(&rest[..end]);
        match text.trim_end_matches([' ', ',']) {
            "None" | "null" | "undefined" => Value::Null,
            message => Value::String(message.to_string()),
        }
    }

    fn sequence(&mut self, close: u8) -> Option<Value> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            let Some(b) = self.peek() else {
                return Some(Value::Array(items));
            };
            match b {
                b if b == close => {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                b',' => self.i += 1,
                _ => match self.value() {
                    Some(v) => items.push(v),
                    None => return self.at_end().then_some(Value::Array(items)),
                },
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.i += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                _ if b == quote => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'x' | b'u' => {
                            let len = if e == b'x' { 2 } else { 4 };
                            let hex = self.s.get(self.i..self.i + len)?;
                            let code =
                                u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            self.i += len;
                            let mut buf = [0; 4];
                            out.extend_from_slice(
                                char::from_u32(code)?.encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        s.parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| s.parse::<f64>().ok().map(Value::from))
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'))
        {
            self.i += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        self.skip_ws();
        if self.peek() == Some(b'(') {
            // A call: its first argument stands for it.
            let args = self.sequence(b')')?;
            return Some(args.get(0).cloned().unwrap_or(Value::Null));
        }
        Some(match word {
            "True" | "true" => Value::Bool(true),
            "False" | "false" => Value::Bool(false),
            "None" | "null" | "undefined" => Value::Null,
            other => Value::String(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_whose_quotes_were_lost_keeps_its_fields() {
        // bitnami/charts#13544, as pasted: no quote left, the message runs to the next key.
        let text = r"HTTP response body: {kind:Status, apiVersion:v1,metadata:{},status:failure,message:pods is forbidden: User \system:serviceaccount:ns:default\ cannot list resource pods in API group \ in the namespace ns reason: Forbidden, details: {kind:pods} code: 403";
        let a = read(text).unwrap();
        assert_eq!(
            (a.code, a.reason.as_deref()),
            (Some(403), Some("Forbidden"))
        );
        assert_eq!(a.kind.as_deref(), Some("pods"));
        assert!(a.message.unwrap().ends_with("in the namespace ns"));
    }

    #[test]
    fn a_kopf_tuple_gives_the_status_in_its_dict() {
        // dask-kubernetes#916.
        let text = r#"Watcher for daskclusters.v1.kubernetes.dask.org@none has failed: ('daskclusters.kubernetes.dask.org is forbidden: User "system:serviceaccount:tst:op" cannot list resource "daskclusters" in API group "kubernetes.dask.org" at the cluster scope', {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'daskclusters.kubernetes.dask.org is forbidden: User "system:serviceaccount:tst:op" cannot list resource "daskclusters" in API group "kubernetes.dask.org" at the cluster scope', 'reason': 'Forbidden', 'details': {'group': 'kubernetes.dask.org', 'kind': 'daskclusters'}, 'code': 403})"#;
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(403));
        assert_eq!(a.reason.as_deref(), Some("Forbidden"));
        assert_eq!(a.group.as_deref(), Some("kubernetes.dask.org"));
        assert_eq!(a.kind.as_deref(), Some("daskclusters"));
        assert!(
            a.message
                .unwrap()
                .starts_with("daskclusters.kubernetes.dask.org is forbidden")
        );
    }

    #[test]
    fn a_javascript_object_literal_gives_its_status() {
        let text = "HttpError: HTTP request failed\n  body: {\n    kind: 'Status',\n    apiVersion: 'v1',\n    metadata: {},\n    status: 'Failure',\n    message: 'pods \"x\" not found',\n    reason: 'NotFound',\n    details: { name: 'x', kind: 'pods' },\n    code: 404\n  },\n  statusCode: 404\n}";
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(404));
        assert_eq!(a.reason.as_deref(), Some("NotFound"));
        assert_eq!(a.name.as_deref(), Some("x"));
        assert_eq!(a.message.as_deref(), Some("pods \"x\" not found"));
    }

    #[test]
    fn calls_bytes_escapes_and_broken_literals_are_read_or_refused_safely() {
        let text = r#"{'kind': 'Status', 'headers': HTTPHeaderDict({'Audit-Id': 'x'}), 'message': b'caf\xe9 \u00e9', 'code': 409, 'reason': 'AlreadyExists', 'ok': True, 'n': None}"#;
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(409));
        assert_eq!(a.message.as_deref(), Some("café é"));
        // Cut short by the paste: what was printed before the cut; broken otherwise: nothing.
        assert_eq!(
            read("{'kind': 'Status', 'code': 403, 'message': 'x is"),
            read("{'kind': 'Status', 'code': 403}")
        );
        assert_eq!(
            read("{'kind': 'Status', 'code': 403 ] 'reason': 'x'}"),
            None
        );
        assert_eq!(read("kind: 'Status'"), None);
        assert_eq!(read(&format!("{}kind: 'Status'", "{".repeat(100))), None);
    }
}
