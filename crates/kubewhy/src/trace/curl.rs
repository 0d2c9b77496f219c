//! A request as a copy-paste `curl` command (like `kubectl -v=9`), with every credential redacted: the
//! `Authorization` header, cookies, token-like headers and query parameters, client certificates and keys, and
//! the bodies of Secrets and token requests.

use http::HeaderMap;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// How the client authenticates, for the curl command's placeholders (never the secret itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthKind {
    /// Nothing known.
    #[default]
    None,
    /// A bearer token (static, ServiceAccount, OIDC, exec plugin).
    Bearer,
    /// A client certificate and key.
    ClientCertificate,
    /// HTTP basic auth.
    Basic,
}

/// Header names whose values are credentials.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("api-key")
        || name.contains("apikey")
}

/// Removes credential-looking query parameters (`access_token`, `token`, ...) from a URL.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_header(k) || k.eq_ignore_ascii_case("access_token") => {
                format!("{k}={REDACTED}")
            }
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// Whether a request body may carry secrets and must not be printed.
pub fn is_secret_body(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .any(|seg| seg == "secrets" || seg == "token" || seg == "tokenreviews")
}

/// Renders a request as a curl command. `url` is the full URL (server + path + query).
pub fn to_curl(
    method: &str,
    url: &str,
    headers: &HeaderMap,
    auth: AuthKind,
    body: Option<&[u8]>,
) -> String {
    let mut out = format!("curl -v -X{method}");
    let mut has_auth_header = false;
    for (name, value) in headers {
        let shown = if is_secret_header(name.as_str()) {
            has_auth_header |= name == http::header::AUTHORIZATION;
            match value.to_str().ok().and_then(|v| v.split_once(' ')) {
                Some((scheme, _)) if name == http::header::AUTHORIZATION => {
                    format!("{scheme} {REDACTED}")
                }
                _ => REDACTED.to_string(),
            }
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.push_str(&format!(
            " -H {}",
            crate::shell::word(&format!("{}: {shown}", name.as_str()))
        ));
    }
    match auth {
        AuthKind::Bearer if !has_auth_header => out.push_str(&format!(
            " -H {}",
            crate::shell::word(&format!("Authorization: Bearer {REDACTED}"))
        )),
        AuthKind::Basic if !has_auth_header => out.push_str(&format!(
            " -H {}",
            crate::shell::word(&format!("Authorization: Basic {REDACTED}"))
        )),
        AuthKind::ClientCertificate => {
            out.push_str(&format!(" --cert {REDACTED} --key {REDACTED}"))
        }
        _ => {}
    }
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        if is_secret_body(url) {
            out.push_str(&format!(" --data-binary {}", crate::shell::word(REDACTED)));
        } else {
            out.push_str(&format!(
                " --data-binary {}",
                crate::shell::word(&String::from_utf8_lossy(body))
            ));
        }
    }
    out.push(' ');
    out.push_str(&crate::shell::word(&redact_url(url)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_keeps_the_rest() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cr3t-token".parse().unwrap());
        headers.insert("x-auth-token", "s3cr3t-token".parse().unwrap());
        headers.insert("accept", "application/json".parse().unwrap());
        let curl = to_curl(
            "GET",
            "https://127.0.0.1:6443/api/v1/pods?limit=1&access_token=s3cr3t-token",
            &headers,
            AuthKind::Bearer,
            None,
        );
        assert!(!curl.contains("s3cr3t"), "{curl}");
        assert!(
            curl.contains("'authorization: Bearer <redacted>'"),
            "{curl}"
        );
        assert!(curl.contains("'accept: application/json'"), "{curl}");
        assert!(
            curl.ends_with("'https://127.0.0.1:6443/api/v1/pods?limit=1&access_token=<redacted>'"),
            "{curl}"
        );
        assert_eq!(
            curl.matches("Authorization").count() + curl.matches("authorization").count(),
            1,
            "{curl}"
        );
    }

    #[test]
    fn adds_auth_placeholders_and_hides_secret_bodies() {
        let headers = HeaderMap::new();
        let curl = to_curl(
            "POST",
            "https://h/api/v1/namespaces/a/secrets",
            &headers,
            AuthKind::ClientCertificate,
            Some(b"{\"data\":{\"k\":\"c2VjcmV0\"}}"),
        );
        assert!(
            curl.contains("--cert <redacted> --key <redacted>"),
            "{curl}"
        );
        assert!(!curl.contains("c2VjcmV0"), "{curl}");
        let curl = to_curl(
            "PATCH",
            "https://h/api/v1/namespaces/a/configmaps/c",
            &headers,
            AuthKind::Bearer,
            Some(b"{\"a\":\"it's\"}"),
        );
        assert!(
            curl.contains(r#"--data-binary '{"a":"it'\''s"}'"#),
            "{curl}"
        );
        assert!(
            curl.contains("'Authorization: Bearer <redacted>'"),
            "{curl}"
        );
    }
}
