//! The one `/metrics` reader of the tests: Prometheus' text exposition parsed into samples (name, labels, value),
//! from the API server's `/metrics` ([`scrape`]) or any program's (its body, [`Exposition::parse`]). Tests ask
//! for a series as it is exposed (`name{a="b"}`) or filter samples by name and label, never by matching lines.

use std::collections::BTreeMap;

/// One sample: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name (`apiserver_request_total`).
    pub name: String,
    /// Its labels, in the order exposed.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`; empty when the sample has none (as Prometheus treats a missing label).
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The series as exposed: `name{a="b",c="d"}`, or the bare name.
    pub fn series(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', r"\\").replace('"', "\\\"")))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses Prometheus' text format; comments and lines that are not samples are skipped.
    pub fn parse(text: &str) -> Exposition {
        Exposition {
            samples: text.lines().filter_map(sample).collect(),
        }
    }

    /// The value of one series, given as exposed (`name{a="b"}`, labels in the exposed order) or as a bare name.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.series() == series)
            .map(|s| s.value)
    }

    /// The samples of metric `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The sum of metric `name` over its samples, by the value of `key(sample)` (a label, or several joined).
    pub fn sum_by(
        &self,
        name: &str,
        key: impl Fn(&Sample) -> Option<String>,
    ) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for s in self.named(name) {
            if let Some(k) = key(s) {
                *out.entry(k).or_insert(0.0) += s.value;
            }
        }
        out
    }
}

/// One line as a sample: `name value`, `name{k="v",...} value`, optionally followed by a timestamp.
fn sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let end;
        loop {
            // Skip separators, find the key.
            while chars
                .peek()
                .is_some_and(|(_, c)| *c == ',' || c.is_whitespace())
            {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    end = *i;
                    break;
                }
                None => return None,
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return None;
            }
            let mut value = String::new();
            let mut escaped = false;
            for (_, c) in chars.by_ref() {
                match (escaped, c) {
                    (true, 'n') => {
                        value.push('\n');
                        escaped = false;
                    }
                    (true, c) => {
                        value.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (false, c) => value.push(c),
                }
            }
            labels.push((key.trim().to_string(), value));
        }
        rest = &inner[end + 1..];
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The API server's own `/metrics`, read as `client` (admin may read it).
pub async fn scrape(client: &kube::Client) -> Result<Exposition, kube::Error> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    Ok(Exposition::parse(&client.request_text(request).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_with_and_without_labels() {
        let text = "# HELP x y\n# TYPE apiserver_request_total counter\n\
                    apiserver_request_total{code=\"200\",resource=\"documents\",subresource=\"\",verb=\"PATCH\"} 3\n\
                    apiserver_request_total{code=\"409\",resource=\"documents\",subresource=\"status\",verb=\"PATCH\"} 2 1700000000\n\
                    doc_controller_leader 1\n\
                    odd{msg=\"a \\\"quoted\\\", comma\"} 1.5e1\n";
        let e = Exposition::parse(text);
        assert_eq!(e.samples.len(), 4);
        assert_eq!(e.value("doc_controller_leader"), Some(1.0));
        assert_eq!(
            e.value(
                "apiserver_request_total{code=\"200\",resource=\"documents\",subresource=\"\",verb=\"PATCH\"}"
            ),
            Some(3.0)
        );
        assert_eq!(e.samples[3].label("msg"), "a \"quoted\", comma");
        assert_eq!(e.samples[3].value, 15.0);
        assert_eq!(e.samples[2].label("absent"), "");
        let by_sub = e.sum_by("apiserver_request_total", |s| {
            Some(format!("{} {}", s.label("verb"), s.label("subresource")))
        });
        assert_eq!(by_sub.get("PATCH status"), Some(&2.0));
        assert_eq!(by_sub.get("PATCH "), Some(&3.0));
    }
}
