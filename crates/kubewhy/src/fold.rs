//! One failure, counted once: folds the diagnoses read from a text, message by message, into distinct
//! [`Finding`]s with a count of occurrences, their first and last line, and the requests they hit ([`Hit`]).
//!
//! Two readings are one failure when they say the same thing ([`Key`]: class, answer, subject, request, cause),
//! or when they are *layers* of one failure: logged a few lines apart by two parts of a program (kube_runtime at
//! `DEBUG` and the program at `ERROR`, a reflector's `W` and `E` lines, a Python traceback under the operator's
//! line, an exception and the exception it caused), each adding what the other left out. Layers agree on everything
//! both name; the one that names more is kept, completed from the other. A hyper `client error (Connect)` that hides
//! its cause is a layer of the TLS or connection failure logged beside it, and a reading that names nothing but its
//! answer's status (the Java client's `ApiException: Conflict` line above the response body it prints) is a layer
//! of the reading beside it with the same status code.
//!
//! Where the cause is not the request's — a server that cannot be reached, refuses TLS or does not answer, a
//! credential the server rejects, a server that throttles — the failures of every request it hit are one finding:
//! its diagnosis keeps what those requests share (the origin of their URLs), and [`Finding::requests`] lists each
//! request with its own count and lines. A denial stays one finding per missing permission.
//!
//! An occurrence is a run of readings of one request's failure where no text repeats: the same failure logged by
//! two layers is seen once; when a text comes again (digits aside: time stamps, resource versions), the failure
//! happened again.

use std::collections::{HashMap, VecDeque};

use crate::cause::{Admitter, Cause, ConnectionFailure, TlsFailure};
use crate::diagnosis::{Class, Diagnosis, Request};
use crate::url::{merge_missing, origin};

/// How many lines apart two layers of one failure may be logged (a Python traceback sits between them).
pub(crate) const NEAR_LINES: u64 = 16;
/// How many of the most recently seen findings a reading is compared with as a possible layer.
const RECENT: usize = 8;
/// How much of a line a finding keeps to show (characters).
pub const EXCERPT_CHARS: usize = 400;

/// One distinct failure found in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The diagnosis (the reading that said most, completed from its other layers; when the failure hit several
    /// requests, its request keeps only what they all share).
    pub diagnosis: Diagnosis,
    /// Where it was read (`controller.log`, `<stdin>`).
    pub source: String,
    /// How many times it occurred (one failure logged by two layers occurs once); the sum of its requests' counts.
    pub count: u64,
    /// The first line (1-based) of the message that first held it (a message may span several lines).
    pub first_line: u64,
    /// The first line of the message that last held it.
    pub last_line: u64,
    /// The message that first held it, cleaned of paste damage, for display (at most [`EXCERPT_CHARS`]
    /// characters).
    pub excerpt: String,
    /// The requests it hit, in order of first appearance, each with its count and lines: one, unless the cause is
    /// not the request's (an unreachable server, a rejected credential, a throttling server). At most
    /// [`MAX_REQUESTS`]: the first ones and, last, the latest other one (a log of a million requests to a dead
    /// server keeps a bounded list).
    pub requests: Vec<Hit>,
    /// How many of its failures were of requests not in `requests` (0 unless it hit more than [`MAX_REQUESTS`]):
    /// the counts of `requests` and this add up to `count`.
    pub unlisted: u64,
}

/// How many requests a [`Finding`] lists: the first `MAX_REQUESTS - 1` it hit, and the latest of the others.
pub const MAX_REQUESTS: usize = 64;

/// One request a [`Finding`] hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The request, as far as its readings name it (completed from every layer's reading).
    pub request: Request,
    /// How many times it failed.
    pub count: u64,
    /// The first line (1-based) of the message that first held it.
    pub first_line: u64,
    /// The first line of the message that last held it.
    pub last_line: u64,
}

/// What makes two readings the same failure: the class, the answer, the subject and request (without the URL,
/// whose query changes on every retry) and the cause without its free text (which may run on into the rest of a
/// line); for unrecognised failures also the message with digits folded (timestamps, resource versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    source: String,
    class: Class,
    code: Option<u16>,
    reason: Option<String>,
    user: Option<String>,
    fields: [Option<String>; 9],
    cause: Cause,
    text: Option<String>,
}

impl Key {
    fn of(source: &str, d: &Diagnosis) -> Key {
        let r = &d.request;
        Key {
            source: source.to_string(),
            class: d.class,
            code: d.code,
            reason: d.reason.clone(),
            user: d.user.clone(),
            fields: [
                r.verb.clone(),
                r.group.clone(),
                r.version.clone(),
                r.resource.clone(),
                r.subresource.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.path.clone(),
            ],
            cause: d.cause.without_text(),
            text: (d.class == Class::Unknown).then(|| fold_digits(&d.message)),
        }
    }
}

/// What makes two diagnoses the same failure wherever they were read (a workload's pods fold one failure into one
/// finding): [`Key`] without the source.
#[cfg(feature = "live")]
pub(crate) fn failure_key(d: &Diagnosis) -> Key {
    Key::of("", d)
}

fn fold_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(512));
    let mut last_digit = false;
    for c in s.chars().take(512) {
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
        } else {
            out.push(c);
            last_digit = false;
        }
    }
    out
}

/// A message's text with digits folded, hashed (FNV-1a): what tells a repeat from another layer. A collision
/// could only count two layers' texts as one.
fn form_of(text: &str) -> u64 {
    let mut h = crate::hash::Fnv1a64::new();
    let mut last_digit = false;
    for &b in text.trim().as_bytes() {
        let b = if b.is_ascii_digit() {
            if last_digit {
                continue;
            }
            last_digit = true;
            b'#'
        } else {
            last_digit = false;
            b
        };
        h.byte(b);
    }
    h.finish()
}

/// How many of a finding's latest requests a reading that names less than they do is compared with.
const RECENT_REQUESTS: usize = 32;

/// What the folder keeps beside a finding to count the occurrences of its requests.
#[derive(Debug, Default)]
struct Tally {
    /// Per request hit, the texts seen in its current occurrence.
    forms: Vec<Vec<u64>>,
    /// The requests hit, by every [`identity`] they were read with.
    named: HashMap<String, usize>,
}

/// Folds readings into findings, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    findings: Vec<Finding>,
    /// Per finding, what is kept beside it to count its requests' occurrences.
    tallies: Vec<Tally>,
    index: HashMap<Key, usize>,
    /// The findings whose cause is not the request's ([`is_the_servers`]), by class and cause kind.
    by_cause: HashMap<(Class, &'static str), Vec<usize>>,
    /// The findings seen most recently, newest last.
    recent: VecDeque<usize>,
    /// The denials and admission refusals, by the permission each lacks or the rule each broke ([`Shared`]).
    by_shared: HashMap<Shared, usize>,
    /// The findings of a failure the server logged as its own: a server error read from a line that names no
    /// request (the API server's `apiserver received an error that is not an api.Status: <the storage's error>`).
    /// The requests failing alike beside it (its access log's 500 lines) are the requests it hit.
    server_logged: Vec<usize>,
}

/// A cause several objects' requests share though each request names its own object: a missing permission
/// ([`Permission`]) or a broken admission rule ([`Refusal`]). Readings with the same one are one finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Shared {
    Permission(Permission),
    Refusal(Refusal),
}

impl Shared {
    /// The shared cause of a reading from `source`, when it has one.
    fn of(source: &str, d: &Diagnosis) -> Option<Shared> {
        Permission::of(source, d)
            .map(Shared::Permission)
            .or_else(|| Refusal::of(source, d).map(Shared::Refusal))
    }
}

/// The rule an admission refusal says was broken, without the object it was broken by: which admission plugin,
/// webhook or policy refused which verb on which resource in which namespace, and why, with the object's own name
/// taken out. One ReplicaSet's pods refused by one Pod Security level for the same fields are one cause, the pod
/// template's (issue 19: "fold by cause, not by request, where the cause is not the request's").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Refusal {
    source: String,
    verb: Option<String>,
    group: Option<String>,
    resource: String,
    namespace: Option<String>,
    by: Admitter,
    detail: String,
}

impl Refusal {
    /// The rule a reading broke, when it is an admission refusal that names its resource and why.
    fn of(source: &str, d: &Diagnosis) -> Option<Refusal> {
        let Cause::Admission {
            by,
            detail: Some(detail),
        } = &d.cause
        else {
            return None;
        };
        let r = &d.request;
        let detail = match r.name.as_deref() {
            Some(name) if !name.is_empty() => detail.replace(name, "\u{1}"),
            _ => detail.clone(),
        };
        Some(Refusal {
            source: source.to_string(),
            verb: r.verb.clone(),
            group: r.group.clone(),
            resource: r.resource.clone()?,
            namespace: r.namespace.clone(),
            by: by.clone(),
            detail,
        })
    }
}

/// The permission a denial says is missing: who, which verb on which resource (and subresource) of which group,
/// in which namespace. The object's name is not part of it: one missing permission denied on several objects is
/// one diagnosis (issue 19: "Forbidden stays one diagnosis per missing permission").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Permission {
    source: String,
    user: String,
    verb: String,
    group: Option<String>,
    resource: String,
    subresource: Option<String>,
    namespace: Option<String>,
}

impl Permission {
    /// The permission a reading lacks, when it is an authorizer's denial that names the subject, the verb and the
    /// resource (what a denial without them lacks cannot be told apart from another's).
    fn of(source: &str, d: &Diagnosis) -> Option<Permission> {
        if d.class != Class::Forbidden || !matches!(d.cause, Cause::Denied(_)) {
            return None;
        }
        let r = &d.request;
        Some(Permission {
            source: source.to_string(),
            user: d.user.clone()?,
            verb: r.verb.clone()?,
            group: r.group.clone(),
            resource: r.resource.clone()?,
            subresource: r.subresource.clone(),
            namespace: r.namespace.clone(),
        })
    }
}

impl Folder {
    /// The findings so far.
    pub(crate) fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings, consuming the folder.
    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// Adds the diagnosis of one message (`text`, cleaned) read from `source`, starting on `line`.
    pub(crate) fn add(&mut self, source: &str, line: u64, text: &str, d: Diagnosis) {
        let key = Key::of(source, &d);
        let form = form_of(text);
        let request = d.request.clone();
        let id = identity(&request);
        let i = if let Some(&i) = self.index.get(&key) {
            i
        } else if let Some(i) = self.layer_of(source, line, &d) {
            self.merge(i, d);
            let merged = Key::of(source, &self.findings[i].diagnosis);
            self.index.insert(merged, i);
            self.index.insert(key, i);
            self.register(i);
            i
        } else if let Some(i) = self
            .same_cause(source, &d)
            .or_else(|| self.server_failure_beside(source, line, &d))
        {
            self.join(i, &d);
            self.index.insert(key, i);
            i
        } else if let Some(&i) = Shared::of(source, &d)
            .as_ref()
            .and_then(|c| self.by_shared.get(c))
        {
            // The same missing permission denied on another object, or the same admission rule broken by another
            // object of the same kind (another pod of one template).
            self.join(i, &d);
            self.index.insert(key, i);
            i
        } else {
            let i = self.findings.len();
            self.index.insert(key, i);
            self.findings.push(Finding {
                diagnosis: d,
                source: source.to_string(),
                count: 1,
                first_line: line,
                last_line: line,
                excerpt: excerpt(text),
                requests: vec![Hit {
                    request,
                    count: 1,
                    first_line: line,
                    last_line: line,
                }],
                unlisted: 0,
            });
            if self.findings[i].diagnosis.class == Class::ServerError
                && id == identity(&Request::default())
            {
                self.server_logged.push(i);
            }
            self.tallies.push(Tally {
                forms: vec![vec![form]],
                named: HashMap::from([(id, 0)]),
            });
            self.register(i);
            self.touch(i);
            return;
        };
        self.hit(i, line, form, &request, id);
        self.touch(i);
    }

    /// Counts a reading of `request` (named `id`) in finding `i`: another layer's report of an occurrence of one
    /// of its requests, that request failing again, or a request it had not hit yet.
    fn hit(&mut self, i: usize, line: u64, form: u64, request: &Request, id: String) {
        let f = &mut self.findings[i];
        let tally = &mut self.tallies[i];
        // The request read before under this name, else a recent one this reading names part of.
        let known = tally.named.get(&id).copied().or_else(|| {
            let n = f.requests.len();
            (n.saturating_sub(RECENT_REQUESTS)..n)
                .rev()
                .find(|&j| same_request(&f.requests[j].request, request))
        });
        match known {
            Some(j) => {
                let h = &mut f.requests[j];
                merge_missing(&mut h.request, request);
                tally.named.insert(id, j);
                tally.named.insert(identity(&h.request), j);
                let seen = &mut tally.forms[j];
                if line.saturating_sub(h.last_line) <= NEAR_LINES && !seen.contains(&form) {
                    // Another layer's report of the same occurrence.
                    seen.push(form);
                } else if h.last_line != line {
                    // The request failed again (a message of one line is counted once, however often it repeats
                    // it).
                    h.count += 1;
                    f.count += 1;
                    seen.clear();
                    seen.push(form);
                }
                h.last_line = line;
            }
            None => {
                let hit = Hit {
                    request: request.clone(),
                    count: 1,
                    first_line: line,
                    last_line: line,
                };
                if f.requests.len() < MAX_REQUESTS {
                    tally.named.insert(id, f.requests.len());
                    f.requests.push(hit);
                    tally.forms.push(vec![form]);
                } else {
                    // The list is full: the newest request takes the last place; the one it replaces is counted.
                    let last = MAX_REQUESTS - 1;
                    f.unlisted += f.requests[last].count;
                    tally.named.retain(|_, j| *j != last);
                    tally.named.insert(id, last);
                    f.requests[last] = hit;
                    tally.forms[last] = vec![form];
                }
                f.count += 1;
                narrow(&mut f.diagnosis.request, request);
            }
        }
        f.last_line = f.last_line.max(line);
    }

    fn touch(&mut self, i: usize) {
        self.recent.retain(|&r| r != i);
        self.recent.push_back(i);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Files finding `i` under its cause when that is not the request's.
    fn register(&mut self, i: usize) {
        let d = &self.findings[i].diagnosis;
        if let Some(c) = Shared::of(&self.findings[i].source, d) {
            self.by_shared.entry(c).or_insert(i);
        }
        if is_the_servers(&d.cause) {
            let at = self.by_cause.entry((d.class, d.cause.kind())).or_default();
            if !at.contains(&i) {
                at.push(i);
            }
        }
    }

    /// A finding seen in the last few lines that `d` is another layer of.
    fn layer_of(&self, source: &str, line: u64, d: &Diagnosis) -> Option<usize> {
        self.recent.iter().rev().copied().find(|&i| {
            let f = &self.findings[i];
            f.source == source
                && line.saturating_sub(f.last_line) <= NEAR_LINES
                && are_layers(&f.diagnosis, d)
        })
    }

    /// The finding of the same server, credential or throttling as `d`, whatever request each failed: same source,
    /// class and cause, no server or user that differs.
    fn same_cause(&self, source: &str, d: &Diagnosis) -> Option<usize> {
        if !is_the_servers(&d.cause) {
            return None;
        }
        let server = server_of(&d.request);
        self.by_cause
            .get(&(d.class, d.cause.kind()))?
            .iter()
            .rev()
            .copied()
            .find(|&i| {
                let f = &self.findings[i];
                f.source == source
                    && f.diagnosis.class == d.class
                    && same_server_cause(&f.diagnosis.cause, &d.cause)
                    && agree(&f.diagnosis.user, &d.user)
                    && f.requests.iter().all(|h| {
                        let theirs = server_of(&h.request);
                        server.is_none() || theirs.is_none() || theirs == server
                    })
            })
    }

    /// The finding of a server failure the server logged without a request (see `server_logged`) a few lines
    /// above `d`, when `d` is a request that failed alike: the server's failure, not the request's.
    fn server_failure_beside(&self, source: &str, line: u64, d: &Diagnosis) -> Option<usize> {
        if d.class != Class::ServerError || identity(&d.request) == identity(&Request::default()) {
            return None;
        }
        self.server_logged.iter().rev().copied().find(|&i| {
            let f = &self.findings[i];
            f.source == source
                && line.saturating_sub(f.last_line) <= NEAR_LINES
                && f.diagnosis.cause.kind() == d.cause.kind()
        })
    }

    /// Keeps the reading of finding `i` or `d`, whichever names more, completed from the other; a finding that
    /// already spans several requests keeps its own (what they share), completed.
    fn merge(&mut self, i: usize, d: Diagnosis) {
        if self.findings[i].requests.len() > 1 {
            self.join(i, &d);
            return;
        }
        merge_layer(&mut self.findings[i].diagnosis, d);
    }

    /// Adds to finding `i` what a reading of the same cause for another request says of the cause: the answer, the
    /// subject, the notes; a step of the program that differs is dropped (the requests failed in different steps).
    fn join(&mut self, i: usize, d: &Diagnosis) {
        let kept = &mut self.findings[i].diagnosis;
        if kept.code.is_none() {
            kept.code = d.code;
        }
        if kept.reason.is_none() {
            kept.reason.clone_from(&d.reason);
        }
        if kept.user.is_none() {
            kept.user.clone_from(&d.user);
        }
        if kept.phase != d.phase {
            kept.phase = None;
        }
        for note in &d.notes {
            if !kept.notes.contains(note) {
                kept.notes.push(note.clone());
            }
        }
    }
}

/// Whether a failure's cause is not the request's but the server's or the client's credential: the server
/// cannot be reached, refuses TLS or does not answer, rejects the credential, or throttles. Every request to it
/// fails alike, so they are one finding.
fn is_the_servers(c: &Cause) -> bool {
    matches!(
        c,
        Cause::Connection { .. }
            | Cause::Tls { .. }
            | Cause::NoAnswer { .. }
            | Cause::Unauthenticated { .. }
            | Cause::CredentialsUnavailable
            | Cause::Throttled { .. }
            | Cause::Reinitializing { .. }
            | Cause::ClientThrottled
    )
}

/// Whether two causes of the server's are the same problem: the same kind of connection or TLS failure (a failure
/// whose kind is not shown agrees with any), otherwise the same kind (a throttling server's `Retry-After` varies).
fn same_server_cause(a: &Cause, b: &Cause) -> bool {
    match (a, b) {
        (Cause::Connection { failure: x, .. }, Cause::Connection { failure: y, .. }) => {
            x == y || *x == ConnectionFailure::Other || *y == ConnectionFailure::Other
        }
        (Cause::Tls { failure: x }, Cause::Tls { failure: y }) => {
            x == y || *x == TlsFailure::Other || *y == TlsFailure::Other
        }
        _ => a.kind() == b.kind(),
    }
}

/// The server a request went to (`10.0.0.1:6443`, without the scheme's default port), when its URL names one.
fn server_of(r: &Request) -> Option<String> {
    let origin = origin(r.url.as_deref()?)?.to_ascii_lowercase();
    let (authority, default_port) = match origin.split_once("://") {
        Some(("https", authority)) => (authority, ":443"),
        Some(("http", authority)) => (authority, ":80"),
        Some((_, authority)) => (authority, ""),
        // kubectl names the server without a scheme (`localhost:8080`).
        None => (origin.as_str(), ""),
    };
    Some(
        authority
            .strip_suffix(default_port)
            .unwrap_or(authority)
            .to_string(),
    )
}

/// Whether two readings name the same request: every field both name agrees, and so do their URLs' paths (a
/// query changes on every retry; one text names the URL, another only its path).
fn same_request(a: &Request, b: &Request) -> bool {
    agree(&a.method, &b.method)
        && targets_agree(a, b)
        && agree(&url_path(&a.url), &url_path(&b.url))
}

/// The path of a URL a text names, without its query (`/api/v1/pods` of `https://host/api/v1/pods?watch=1`).
fn url_path(url: &Option<String>) -> Option<&str> {
    let url = url.as_deref()?;
    let after = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    let path = after.split('?').next().unwrap_or(after);
    (!path.is_empty()).then_some(path)
}

/// What names a request exactly: its method, URL path (without the query, which changes on every retry) and
/// target.
fn identity(r: &Request) -> String {
    let mut id = String::with_capacity(96);
    let named = [r.method.as_deref(), url_path(&r.url)]
        .into_iter()
        .chain(target(r).into_iter().map(|f| f.as_deref()));
    for field in named {
        // A field not named differs from every name (`\u{1}` is in none).
        id.push_str(field.unwrap_or("\u{1}"));
        id.push('\u{0}');
    }
    id
}

/// Keeps of `r` what `other` names alike (the request of a finding that hit several requests keeps what they
/// share): each field both name alike, and the origin of their URLs when it is one.
fn narrow(r: &mut Request, other: &Request) {
    fn keep(mine: &mut Option<String>, theirs: &Option<String>) {
        if mine != theirs {
            *mine = None;
        }
    }
    let url = match (
        r.url.as_deref().and_then(origin),
        other.url.as_deref().and_then(origin),
    ) {
        (Some(mine), Some(theirs)) if mine == theirs => Some(mine.to_string()),
        _ => None,
    };
    r.url = url;
    keep(&mut r.method, &other.method);
    keep(&mut r.verb, &other.verb);
    keep(&mut r.group, &other.group);
    keep(&mut r.version, &other.version);
    keep(&mut r.resource, &other.resource);
    keep(&mut r.subresource, &other.subresource);
    keep(&mut r.kind, &other.kind);
    keep(&mut r.namespace, &other.namespace);
    keep(&mut r.name, &other.name);
    keep(&mut r.path, &other.path);
    r.audit_id = None;
    keep(&mut r.flow_schema_uid, &other.flow_schema_uid);
    keep(&mut r.priority_level_uid, &other.priority_level_uid);
}

fn agree<T: PartialEq>(x: &Option<T>, y: &Option<T>) -> bool {
    x.is_none() || y.is_none() || x == y
}

/// Keeps the reading `kept` or `d` of one failure, whichever names more, completed from the other.
pub(crate) fn merge_layer(kept: &mut Diagnosis, d: Diagnosis) {
    let (mut richer, other) = if detail(&d) > detail(kept) {
        (d, kept.clone())
    } else {
        (kept.clone(), d)
    };
    complete(&mut richer, &other);
    *kept = richer;
}

/// hyper's `client error (Connect)`: a failed connection whose cause the text does not show.
fn is_hidden_connect(c: &Cause) -> bool {
    matches!(
        c,
        Cause::Connection {
            failure: ConnectionFailure::Other,
            os_code: None
        }
    )
}

/// Whether two readings can be two layers' reports of one failure: the same cause (or a hidden connect failure
/// beside a transport failure that shows its cause), and no field that both name differs; or one of them names
/// nothing but the status code the other has.
pub(crate) fn are_layers(a: &Diagnosis, b: &Diagnosis) -> bool {
    if a.class == Class::Unknown || b.class == Class::Unknown {
        return false;
    }
    if names_only_its_status(a, b) || names_only_its_status(b, a) {
        return true;
    }
    let transport = |c: Class| matches!(c, Class::Connection | Class::Tls | Class::Timeout);
    let same_cause = if a.class == b.class {
        a.cause.kind() == b.cause.kind() && causes_agree(&a.cause, &b.cause)
    } else {
        (is_hidden_connect(&a.cause) && transport(b.class))
            || (is_hidden_connect(&b.cause) && transport(a.class))
    };
    if !same_cause {
        return false;
    }
    agree(&a.code, &b.code)
        && agree(&a.reason, &b.reason)
        && agree(&a.user, &b.user)
        && agree(&a.phase, &b.phase)
        && targets_agree(&a.request, &b.request)
}

/// What a request asks for: its verb and target (not how it was sent).
fn target(r: &Request) -> [&Option<String>; 9] {
    [
        &r.verb,
        &r.group,
        &r.version,
        &r.resource,
        &r.subresource,
        &r.kind,
        &r.namespace,
        &r.name,
        &r.path,
    ]
}

/// Whether two requests' targets agree on every field both name.
fn targets_agree(a: &Request, b: &Request) -> bool {
    target(a).iter().zip(target(b)).all(|(x, y)| agree(x, y))
}

/// How many of a request's fields a text named: its method, URL and target.
fn named(r: &Request) -> usize {
    usize::from(r.method.is_some())
        + usize::from(r.url.is_some())
        + target(r).iter().filter(|f| f.is_some()).count()
}

/// Whether `a` names nothing but the status code `b` has too: no request, no subject, a cause without data (the
/// Java client's `ApiException: Conflict` line, whose body the program prints next).
fn names_only_its_status(a: &Diagnosis, b: &Diagnosis) -> bool {
    a.code.is_some()
        && a.code == b.code
        && named(&a.request) == 0
        && a.user.is_none()
        && a.phase.is_none()
        && cause_says_nothing_more(&a.cause)
}

/// Whether a cause carries no data beyond its kind.
fn cause_says_nothing_more(c: &Cause) -> bool {
    // Causes are plain serde data: serialising them cannot fail.
    match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(fields)) => fields
            .iter()
            .all(|(name, value)| name == "kind" || is_silent(value)),
        _ => false,
    }
}

/// Whether two causes of one kind agree on everything both name (two webhooks that could not be called are two
/// failures; a detail cut short in one layer's text is the same detail).
fn causes_agree(a: &Cause, b: &Cause) -> bool {
    // Causes are plain serde data: serialising them cannot fail.
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => values_agree(&x, &y),
        _ => a == b,
    }
}

/// Whether two values agree where both say something: an absent, empty, `false` or `unknown` value says nothing;
/// a text agrees with one that holds it.
fn values_agree(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    if is_silent(a) || is_silent(b) || a == b {
        return true;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .all(|(k, v)| y.get(k).is_none_or(|w| values_agree(v, w))),
        (Value::String(x), Value::String(y)) => x.contains(y.as_str()) || y.contains(x.as_str()),
        _ => false,
    }
}

/// An absent, empty, `false` or `unknown` value: it says nothing.
fn is_silent(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty() || s == "unknown",
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// How much a reading names: its request fields, subject, answer, and whether its cause shows itself.
fn detail(d: &Diagnosis) -> usize {
    let shown = if is_hidden_connect(&d.cause) { 0 } else { 100 };
    shown
        + named(&d.request)
        + usize::from(d.user.is_some())
        + usize::from(d.reason.is_some())
        + usize::from(d.code.is_some())
        + usize::from(d.phase.is_some())
}

/// Fills what `d` leaves out from another layer's reading of the same failure.
fn complete(d: &mut Diagnosis, other: &Diagnosis) {
    merge_missing(&mut d.request, &other.request);
    if d.user.is_none() {
        d.user.clone_from(&other.user);
    }
    if d.code.is_none() {
        d.code = other.code;
    }
    if d.reason.is_none() {
        d.reason.clone_from(&other.reason);
    }
    if d.phase.is_none() {
        d.phase = other.phase;
    }
    for note in &other.notes {
        if !d.notes.contains(note) {
            d.notes.push(note.clone());
        }
    }
}

fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(EXCERPT_CHARS).collect();
    if out.len() < trimmed.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading of one message, as the scanner gives it to the folder.
    fn diagnose_message(text: &str) -> Option<Diagnosis> {
        crate::read::read_text(text).map(crate::classify::classify)
    }

    /// Folds the lines of `log` (one message each), as the scanner does.
    fn fold(log: &[&str]) -> Vec<Finding> {
        let mut folder = Folder::default();
        for (i, text) in log.iter().enumerate() {
            if let Some(d) = diagnose_message(text) {
                folder.add("t", i as u64 + 1, text, d);
            }
        }
        folder.into_findings()
    }

    fn refused(kind: &str, path: &str) -> String {
        format!(
            r#"E0922 01:30:03.632236       7 reflector.go:138] k8s.io/client-go@v0.23.6/tools/cache/reflector.go:167: Failed to watch *v1.{kind}: Get "https://10.43.0.1:443{path}?watch=true": dial tcp 10.43.0.1:443: connect: connection refused"#
        )
    }

    fn unauthorized(kind: &str) -> String {
        format!(
            "E0105 14:31:49.596625       1 reflector.go:126] pkg/mod/k8s.io/client-go@v0.16.8/tools/cache/reflector.go:94: Failed to list *v1.{kind}: Unauthorized"
        )
    }

    fn pod_security(pod: &str, container: &str) -> String {
        format!(
            r#"Warning  FailedCreate  2m6s  replicaset-controller  Error creating: pods "{pod}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "{container}" must set securityContext.allowPrivilegeEscalation=false)"#
        )
    }

    #[test]
    fn pods_of_one_template_refused_by_one_rule_are_one_finding() {
        // redhat-developer/odo#6847: one ReplicaSet's pods, one Pod Security level, the same violations.
        let found = fold(&[
            &pod_security("web-8665bd77fb-2dd4n", "runtime"),
            &pod_security("web-8665bd77fb-kpvmf", "runtime"),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!((f.count, f.requests.len()), (2, 2));
        let names: Vec<_> = f
            .requests
            .iter()
            .map(|h| h.request.name.as_deref())
            .collect();
        assert_eq!(
            names,
            [Some("web-8665bd77fb-2dd4n"), Some("web-8665bd77fb-kpvmf")]
        );
        // What the requests share: the verb and resource, not one pod's name.
        assert_eq!(
            (
                f.diagnosis.request.verb.as_deref(),
                f.diagnosis.request.resource.as_deref(),
                f.diagnosis.request.name.as_deref()
            ),
            (Some("create"), Some("pods"), None)
        );
        // Another violation is another rule broken: two findings.
        let apart = fold(&[
            &pod_security("web-8665bd77fb-2dd4n", "runtime"),
            &pod_security("web-8665bd77fb-kpvmf", "sidecar"),
        ]);
        assert_eq!(apart.len(), 2, "{apart:#?}");
    }

    #[test]
    fn a_failure_the_server_logged_as_its_own_is_one_finding_listing_the_requests_it_failed() {
        // kubernetes#10122: the API server's log, etcd unreachable: its own error, then the 500 it answered, twice.
        let own = "E0619 20:37:50.685032       5 errors.go:62] apiserver received an error that is not an api.Status: 501: All the given peers are not reachable";
        let found = fold(&[
            own,
            "I0619 20:37:50.685229       5 handlers.go:135] POST /api/v1/namespaces: (12.228060557s) 500",
            own,
            "I0619 20:37:50.643762       5 handlers.go:135] POST /api/v1/nodes: (12.228247163s) 500",
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].requests.len(), 2, "{found:#?}");
        // Without the server's own line, two requests' 500s are two failures: nothing says the cause is one.
        let apart = fold(&[
            "I0619 20:37:50.685229       5 handlers.go:135] POST /api/v1/namespaces: (12.228060557s) 500",
            "I0619 20:37:50.643762       5 handlers.go:135] POST /api/v1/nodes: (12.228247163s) 500",
        ]);
        assert_eq!(apart.len(), 2, "{apart:#?}");
    }

    fn shown(f: &Finding) -> Vec<(Option<&str>, u64, u64, u64)> {
        f.requests
            .iter()
            .map(|h| {
                (
                    h.request.resource.as_deref().or(h.request.kind.as_deref()),
                    h.count,
                    h.first_line,
                    h.last_line,
                )
            })
            .collect()
    }

    #[test]
    fn one_missing_permission_denied_on_several_objects_is_one_finding() {
        let denied = |name: &str| {
            format!(
                r#"secrets "{name}" is forbidden: User "system:serviceaccount:vault:eso" cannot get resource "secrets" in API group "" in the namespace "team""#
            )
        };
        let (a, b) = (denied("camunda"), denied("gitlab-repo"));
        let found = fold(&[&a, &b, &a]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!((f.count, f.requests.len()), (3, 2));
        // The diagnosis keeps the permission, not one object's name.
        let r = &f.diagnosis.request;
        assert_eq!((r.verb.as_deref(), r.name.as_deref()), (Some("get"), None));
        // Another permission is another finding.
        let other = a.replace("cannot get", "cannot update");
        assert_eq!(fold(&[&a, &other]).len(), 2);
    }

    #[test]
    fn a_finding_lists_a_bounded_number_of_requests_and_counts_the_rest() {
        // One dead server, 1,000 namespaces' pods watched, the first one again at the end.
        let lines: Vec<String> = (0..1000)
            .map(|n| refused("Pod", &format!("/api/v1/namespaces/n{n}/pods")))
            .chain(std::iter::once(refused(
                "Pod",
                "/api/v1/namespaces/n0/pods",
            )))
            .collect();
        let log: Vec<&str> = lines.iter().map(String::as_str).collect();
        let found = fold(&log);
        assert_eq!(found.len(), 1, "{:#?}", found.len());
        let f = &found[0];
        assert_eq!(f.count, 1001);
        assert_eq!(f.requests.len(), MAX_REQUESTS);
        // The first ones in order (the first twice), and the latest of the others last.
        assert_eq!(f.requests[0].request.namespace.as_deref(), Some("n0"));
        assert_eq!((f.requests[0].count, f.requests[0].last_line), (2, 1001));
        assert_eq!(
            f.requests[MAX_REQUESTS - 2].request.namespace.as_deref(),
            Some("n62")
        );
        let last = &f.requests[MAX_REQUESTS - 1];
        assert_eq!(last.request.namespace.as_deref(), Some("n999"));
        assert_eq!((last.first_line, last.last_line), (1000, 1000));
        // Nothing is lost from the count.
        let listed: u64 = f.requests.iter().map(|h| h.count).sum();
        assert_eq!((listed, f.unlisted), (65, 936));
        assert_eq!(listed + f.unlisted, f.count);
    }

    #[test]
    fn one_refused_server_is_one_finding_listing_the_requests_it_hit() {
        let (s, i, c) = (
            refused("Service", "/api/v1/services"),
            refused("Ingress", "/apis/networking.k8s.io/v1/ingresses"),
            refused("ConfigMap", "/api/v1/configmaps"),
        );
        let found = fold(&[&s, &i, &c, "noise", &s]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.diagnosis.class, Class::Connection);
        assert_eq!((f.count, f.first_line, f.last_line), (4, 1, 5));
        assert_eq!(
            shown(f),
            vec![
                (Some("services"), 2, 1, 5),
                (Some("ingresses"), 1, 2, 2),
                (Some("configmaps"), 1, 3, 3)
            ]
        );
        // The diagnosis keeps what the three requests share: the server and the verb, not one request's resource.
        let r = &f.diagnosis.request;
        assert_eq!(r.url.as_deref(), Some("https://10.43.0.1:443"));
        assert_eq!(r.verb.as_deref(), Some("watch"));
        assert_eq!((r.resource.as_deref(), r.kind.as_deref()), (None, None));
        assert!(f.diagnosis.describe().summary.contains("10.43.0.1:443"));
    }

    #[test]
    fn two_refused_servers_are_two_findings() {
        let other = refused("Pod", "/api/v1/pods").replace("10.43.0.1", "10.99.0.1");
        let found = fold(&[&refused("Service", "/api/v1/services"), &other]);
        assert_eq!(found.len(), 2, "{found:#?}");
        // A request named by its path alone (urllib3's retry warning) names no server: it joins the refused
        // server's finding, as another request.
        let mut folder = Folder::default();
        let first = refused("Service", "/api/v1/services");
        folder.add("t", 1, &first, diagnose_message(&first).unwrap());
        let mut bare = diagnose_message(&other).unwrap();
        bare.request = crate::url::parse_request("GET", "/api/v1/namespaces/x/pods");
        folder.add("t", 2, "a path alone", bare);
        let found = folder.into_findings();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            shown(&found[0]),
            vec![(Some("services"), 1, 1, 1), (Some("pods"), 1, 2, 2)]
        );
    }

    #[test]
    fn one_rejected_credential_is_one_finding_whatever_types_it_was_used_for() {
        let (a, b, c) = (
            unauthorized("Pod"),
            unauthorized("Deployment"),
            unauthorized("Node"),
        );
        let found = fold(&[&a, &b, &c]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.diagnosis.class, Class::Unauthorized);
        assert_eq!(f.count, 3);
        assert_eq!(
            shown(f),
            vec![
                (Some("pods"), 1, 1, 1),
                (Some("deployments"), 1, 2, 2),
                (Some("nodes"), 1, 3, 3)
            ]
        );
        assert_eq!(f.diagnosis.request.verb.as_deref(), Some("list"));
        assert_eq!(f.diagnosis.request.kind, None);
    }

    #[test]
    fn one_throttling_server_is_one_finding() {
        let line = |kind: &str, what: &str| {
            format!(
                "E0806 06:29:33.557593       1 reflector.go:138] sigs.k8s.io/controller-runtime/pkg/cache/internal/informers_map.go:225: Failed to watch *v1.{kind}: the server has received too many requests and has asked us to try again later (get {what})"
            )
        };
        let found = fold(&[
            &line("ServiceAccount", "serviceaccounts"),
            &line("RoleBinding", "rolebindings.rbac.authorization.k8s.io"),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].diagnosis.class, Class::Throttled);
        assert_eq!(found[0].requests.len(), 2);
    }

    #[test]
    fn one_server_refusing_tls_is_one_finding() {
        let line = |kind: &str, path: &str| {
            format!(
                r#"E0922 01:30:03.632236       7 reflector.go:138] k8s.io/client-go@v0.23.6/tools/cache/reflector.go:167: Failed to watch *v1.{kind}: Get "https://10.43.0.1:443{path}?watch=true": x509: certificate signed by unknown authority"#
            )
        };
        let found = fold(&[
            &line("Service", "/api/v1/services"),
            &line("Secret", "/api/v1/secrets"),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].diagnosis.class, Class::Tls);
        assert_eq!(found[0].requests.len(), 2);
    }

    #[test]
    fn a_denial_stays_one_finding_per_missing_permission() {
        let denied = |resource: &str| {
            format!(
                r#"{resource} is forbidden: User "system:serviceaccount:x:y" cannot list resource "{resource}" in API group "" at the cluster scope"#
            )
        };
        let found = fold(&[&denied("pods"), &denied("services"), &denied("secrets")]);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found.iter().all(|f| f.requests.len() == 1 && f.count == 1));
        // One missing permission denied on several named objects is one finding listing them (linode/apl-core#743);
        // another subject's denial is another.
        let named = |name: &str, user: &str| {
            format!(
                r#"secrets "{name}" is forbidden: User "{user}" cannot get resource "secrets" in API group "" in the namespace "team-a""#
            )
        };
        let found = fold(&[
            &named("a", "system:serviceaccount:x:y"),
            &named("b", "system:serviceaccount:x:y"),
            &named("c", "system:serviceaccount:x:z"),
        ]);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!((found[0].count, found[0].requests.len()), (2, 2));
        let names: Vec<_> = found[0]
            .requests
            .iter()
            .map(|h| h.request.name.as_deref())
            .collect();
        assert_eq!(names, vec![Some("a"), Some("b")]);
        // What the two share: not one object's name.
        assert_eq!(found[0].diagnosis.request.name, None);
        assert_eq!(
            found[0].diagnosis.request.resource.as_deref(),
            Some("secrets")
        );
    }

    #[test]
    fn a_reason_line_and_its_body_are_one_failure() {
        // kubernetes-client/java (fabric8io/kubernetes-client#1578): the exception's reason phrase, then its body.
        let found = fold(&[
            "Exception occured while Creating the Apache ConfigMap\tio.kubernetes.client.ApiException: Conflict",
            "",
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"nifi\" already exists","reason":"AlreadyExists","details":{"name":"nifi","kind":"configmaps"},"code":409}"#,
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.diagnosis.class, f.diagnosis.code),
            (Class::AlreadyExists, Some(409))
        );
        assert_eq!(f.diagnosis.request.name.as_deref(), Some("nifi"));
        assert_eq!((f.count, f.requests.len()), (1, 1));
        // A bare status beside a failure of another status is another failure.
        let found = fold(&[
            "io.kubernetes.client.ApiException: Forbidden",
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"nifi\" already exists","reason":"AlreadyExists","details":{"name":"nifi","kind":"configmaps"},"code":409}"#,
        ]);
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn the_librarys_debug_line_and_the_programs_error_are_one_failure() {
        let found = fold(&[
            r#"2026-07-01T10:00:00.100Z DEBUG kube_runtime::watcher: watcher error: InitialListFailed(Api(Status { status: Some(Failure), code: 404, message: "404 page not found\n", metadata: None, reason: "Failed to parse error data", details: None }))"#,
            r#"2026-07-01T10:00:00.101Z ERROR doc_controller: watcher failed: failed to perform initial object list: ApiError: 404 page not found: Failed to parse error data (Status { status: Some(Failure), code: 404, message: "404 page not found\n", metadata: None, reason: "Failed to parse error data", details: None })"#,
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].diagnosis.class, Class::ResourceNotFound);
        assert_eq!(found[0].count, 1);
    }

    #[test]
    fn an_exception_and_the_exception_it_caused_are_one_failure() {
        // Kopf (nolar/kopf#770): the operator's line, aiohttp's exception, Kopf's own exception raised from it.
        let found = fold(&[
            "[2021-05-13 17:55:38,353] kopf._core.reactor.r [ERROR   ] Resource observer has failed: ('Unauthorized', {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401})",
            "Traceback (most recent call last):",
            "aiohttp.client_exceptions.ClientResponseError: 401, message='Unauthorized', url=URL('https://0.0.0.0:64952/api')",
            "The above exception was the direct cause of the following exception:",
            "Traceback (most recent call last):",
            "kopf._cogs.clients.errors.APIUnauthorizedError: ('Unauthorized', {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401})",
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].count, 1, "{found:#?}");
    }

    #[test]
    fn a_request_is_the_same_whatever_its_query_or_how_much_a_text_names() {
        let full = crate::url::parse_request(
            "GET",
            "https://10.0.0.1:6443/api/v1/namespaces/x/pods?watch=true&resourceVersion=5",
        );
        let retried = crate::url::parse_request(
            "GET",
            "https://10.0.0.1:6443/api/v1/namespaces/x/pods?watch=true&resourceVersion=9",
        );
        let path_only = Request {
            url: Some("/api/v1/namespaces/x/pods".into()),
            ..Request::default()
        };
        assert!(same_request(&full, &retried));
        assert!(same_request(&full, &path_only));
        assert!(same_request(&full, &Request::default()));
        let other =
            crate::url::parse_request("GET", "https://10.0.0.1:6443/api/v1/namespaces/x/services");
        assert!(!same_request(&full, &other));
        assert_eq!(server_of(&full).as_deref(), Some("10.0.0.1:6443"));
        let default_port = crate::url::parse_request("GET", "https://host.example:443/api");
        assert_eq!(server_of(&default_port).as_deref(), Some("host.example"));
        let kubectl = Request {
            url: Some("localhost:8080".into()),
            ..Request::default()
        };
        assert_eq!(server_of(&kubectl).as_deref(), Some("localhost:8080"));
        assert_eq!(server_of(&path_only), None);
    }
}
