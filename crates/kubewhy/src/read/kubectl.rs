//! kubectl output: `Error from server (Reason): ..`, `error: You must be logged in to the server (..)`,
//! `error: the server doesn't have a resource type "x"`, `resource mapping not found for name: ..`,
//! `The connection to the server .. was refused`, `Unable to connect to the server: ..`.

use std::sync::LazyLock;

use regex::Regex;

use super::{Evidence, Transport};
use crate::cause::ConnectionFailure;
use crate::note::Note;

static FROM_SERVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Error from server(?: \((?P<reason>[A-Za-z]+)\))?: (?:error when [a-z]+ \x22[^\x22]*\x22: )?(?P<msg>.*)")
        .expect("built-in pattern")
});
static MAPPING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"resource mapping not found for name: "(?P<name>[^"]*)" namespace: "(?P<ns>[^"]*)""#,
    )
    .expect("built-in pattern")
});
static LOGGED_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"You must be logged in to the server(?: \((?P<msg>.*)\))?")
        .expect("built-in pattern")
});

/// Reads kubectl framing into `ev`.
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    if text.contains("Error from server")
        && let Some(c) = FROM_SERVER.captures(text)
    {
        if ev.reason.is_none() {
            ev.reason = c.name("reason").map(|m| m.as_str().to_string());
        }
        if ev.message.is_empty() {
            ev.message = c
                .name("msg")
                .map_or_else(String::new, |m| m.as_str().trim().to_string());
        }
        ev.is_failure = true;
    }
    if text.contains("logged in")
        && let Some(c) = LOGGED_IN.captures(text)
    {
        ev.reason.get_or_insert_with(|| "Unauthorized".to_string());
        ev.code.get_or_insert(401);
        if ev.message.is_empty() {
            ev.message = c
                .name("msg")
                .map_or_else(|| "Unauthorized".to_string(), |m| m.as_str().to_string());
        }
    }
    if text.contains("resource mapping")
        && let Some(c) = MAPPING.captures(text)
    {
        ev.request.name = c
            .name("name")
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty());
        ev.request.namespace = c
            .name("ns")
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty());
        ev.notes.push(Note::KindNotMapped);
    }
    if let Some(at) = text.find("Unable to connect to the server") {
        ev.transport =
            super::transport::classify_text(&text[at + "Unable to connect to the server".len()..])
                .or(Some(Transport::Connection {
                    failure: ConnectionFailure::Other,
                    os_code: None,
                }));
    }
}
