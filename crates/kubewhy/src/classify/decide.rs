//! The rules that decide a failure's cause, in order: what the message says (an unreachable webhook or an
//! admission plugin's words beat the 403 code; an authorizer's `User ... cannot` is a denial), then the HTTP code
//! with the reason and the details, then what the framing implies, then the transport failure.

use crate::cause::{
    Admitter, Cause, ConnectionFailure, Denial, FieldError, NotServed, Scope, TlsFailure,
};
use crate::diagnosis::{Class, Request};
use crate::read::message::{Facts, Said};
use crate::read::{Evidence, Transport};
use crate::vocab::{builtin_group, is_wrong_core_group};

/// The option fields whose rules say what went wrong more precisely than "bad options".
const SEND_INITIAL_EVENTS: &str = "sendInitialEvents";
const RESOURCE_VERSION_MATCH: &str = "resourceVersionMatch";

/// The cause of a failure.
pub(super) fn cause(ev: &Evidence, facts: &Facts, r: &Request) -> Cause {
    // kubewhy's own text names its class: the code beside it (`(403)` of an admission denial) does not overrule it.
    if let Some(class) = ev.class_said {
        return with_request(for_class(class), ev, r);
    }
    match facts.said {
        Some(Said::WebhookUnreachable) => {
            let (webhook, service) = facts.webhook.clone().unwrap_or_default();
            return Cause::WebhookUnreachable {
                webhook,
                service,
                detail: facts.detail.clone(),
                conversion: facts.conversion.clone(),
            };
        }
        Some(Said::Admission) => {
            return Cause::Admission {
                by: facts.admission.clone().unwrap_or(Admitter::Other),
                detail: facts.detail.clone(),
            };
        }
        Some(Said::Escalation) => {
            return Cause::Escalation {
                not_held: facts.escalation_rules.clone(),
                near_miss: None,
            };
        }
        Some(Said::Denied | Said::DeniedPath) => return Cause::Denied(denial(facts, r)),
        _ => {}
    }
    let reason = ev.reason.as_deref().unwrap_or("");
    if reason == "StorageReadError" || facts.said == Some(Said::StorageRead) {
        return storage_read(&ev.causes);
    }
    let code = ev.code.or_else(|| super::code_of_reason(reason));
    if let Some(code) = code {
        return match code {
            401 => Cause::Unauthenticated {
                expired: facts.expired,
            },
            403 => Cause::Denied(denial(facts, r)),
            404 => match facts.said {
                Some(Said::ObjectMissing) => Cause::ObjectMissing,
                Some(Said::NotServed) => not_served(ev, r),
                _ if reason == "NotFound" && ev.detail_name.is_some() => Cause::ObjectMissing,
                _ => not_served(ev, r),
            },
            409 if reason == "AlreadyExists" || facts.said == Some(Said::Exists) => {
                Cause::AlreadyExists
            }
            409 => conflict(facts),
            410 => Cause::Expired,
            422 if facts.said == Some(Said::PatchFailed) && ev.causes.is_empty() => {
                Cause::StalePatch {
                    detail: facts.detail.clone(),
                }
            }
            422 if facts.said == Some(Said::BadOptions) => options(ev, facts, r),
            422 => invalid(ev, facts),
            400 if facts.said == Some(Said::BadOptions) => options(ev, facts, r),
            400 | 406 | 411 | 413 | 414 | 415 => Cause::BadRequest {
                detail: facts.detail.clone(),
            },
            405 => Cause::VerbUnsupported {
                verbs: r.verb.iter().cloned().collect(),
                supported: Vec::new(),
            },
            429 if facts.said == Some(Said::Reinitializing) => Cause::Reinitializing {
                retry_after: ev.retry_after,
            },
            429 => Cause::Throttled {
                retry_after: ev.retry_after,
            },
            // Servers before 1.16 answered a JSON patch's failed `test` with a 500.
            500 if facts.said == Some(Said::PatchFailed) => Cause::StalePatch {
                detail: facts.detail.clone(),
            },
            // `invalid shard selector: …` comes as a 500 although the request is at fault.
            500 if facts.said == Some(Said::BadOptions) => options(ev, facts, r),
            504 => Cause::ServerTimeout,
            500 if reason == "ServerTimeout" || facts.said == Some(Said::ServerTimeout) => {
                Cause::ServerTimeout
            }
            _ if facts.said == Some(Said::LeaderChanged) => Cause::LeaderChanged,
            503 => Cause::Unavailable,
            500..=599 => Cause::ServerFailed,
            _ => Cause::Unknown,
        };
    }
    let by_said = match facts.said {
        Some(Said::ObjectMissing) => Some(Cause::ObjectMissing),
        Some(Said::NotServed) => Some(not_served(ev, r)),
        Some(Said::Exists) => Some(Cause::AlreadyExists),
        Some(Said::Conflict) => Some(conflict(facts)),
        Some(Said::BadOptions) => Some(options(ev, facts, r)),
        Some(Said::BadObject) => Some(invalid(ev, facts)),
        Some(Said::TooOld) => Some(Cause::Expired),
        Some(Said::TooMany) => Some(Cause::Throttled {
            retry_after: ev.retry_after,
        }),
        Some(Said::ServerTimeout) => Some(Cause::ServerTimeout),
        Some(Said::ServerFailed) => Some(Cause::ServerFailed),
        Some(Said::NotLoggedIn) => Some(Cause::Unauthenticated {
            expired: facts.expired,
        }),
        Some(Said::LeaderChanged) => Some(Cause::LeaderChanged),
        Some(Said::Reinitializing) => Some(Cause::Reinitializing {
            retry_after: ev.retry_after,
        }),
        Some(Said::PatchFailed) => Some(Cause::StalePatch {
            detail: facts.detail.clone(),
        }),
        Some(Said::BadRequest) => Some(Cause::BadRequest {
            detail: facts.detail.clone(),
        }),
        _ => None,
    };
    // A hint from the framing (a cache-sync time-out) is more specific than a stray word in its text.
    if let Some(hint) = &ev.hint
        && *hint != Cause::Unknown
    {
        return with_request(hint.clone(), ev, r);
    }
    // client-go wraps a lost connection as "an error on the server (...)": the transport words are the cause.
    if by_said == Some(Cause::ServerFailed)
        && !facts.framed
        && let Some(t @ Transport::Connection { .. }) = ev.transport
    {
        return transport(t);
    }
    if let Some(cause) = by_said {
        return cause;
    }
    if let Some(t) = ev.transport {
        return transport(t);
    }
    ev.hint.clone().unwrap_or(Cause::Unknown)
}

/// A cause the framing implies, completed from the request (a hinted `not served` learns the core-group mistake).
fn with_request(cause: Cause, ev: &Evidence, r: &Request) -> Cause {
    match cause {
        Cause::NotServed(_) => not_served(ev, r),
        Cause::Denied(_) => Cause::Denied(denial(&Facts::default(), r)),
        other => other,
    }
}

/// The cause a class implies when nothing more is known (a kubewhy log line names only its class).
pub(crate) fn for_class(class: Class) -> Cause {
    match class {
        Class::Forbidden => Cause::Denied(Denial::default()),
        Class::AdmissionDenied => Cause::Admission {
            by: Admitter::Other,
            detail: None,
        },
        Class::Unauthorized => Cause::Unauthenticated { expired: false },
        Class::ResourceNotFound => Cause::NotServed(NotServed::default()),
        Class::ObjectNotFound => Cause::ObjectMissing,
        Class::InvalidRequest => Cause::BadRequest { detail: None },
        Class::InvalidObject => Cause::Invalid {
            fields: Vec::new(),
            detail: None,
        },
        Class::Conflict => Cause::Modified,
        Class::AlreadyExists => Cause::AlreadyExists,
        Class::Expired => Cause::Expired,
        Class::Throttled => Cause::Throttled { retry_after: None },
        Class::ServerError => Cause::ServerFailed,
        Class::Timeout => Cause::NoAnswer { after_ms: None },
        Class::Connection => Cause::Connection {
            failure: ConnectionFailure::Other,
            os_code: None,
        },
        Class::Tls => Cause::Tls {
            failure: TlsFailure::Other,
        },
        Class::Unknown => Cause::Unknown,
    }
}

fn transport(t: Transport) -> Cause {
    match t {
        Transport::Connection { failure, os_code } => Cause::Connection { failure, os_code },
        Transport::Timeout => Cause::NoAnswer { after_ms: None },
        Transport::Tls(failure) => Cause::Tls { failure },
    }
}

/// An authorizer's denial: the scope the message names (or the URL implies), the core-group mistake, a missing
/// role, what the authorizer added.
fn denial(facts: &Facts, r: &Request) -> Denial {
    let wrong_core_group = is_wrong_core_group(r);
    let scope = if r.namespace.is_some() {
        Scope::Namespace
    } else if facts.cluster_scope || r.path.is_some() || (r.url.is_some() && r.resource.is_some()) {
        Scope::Cluster
    } else {
        Scope::Unknown
    };
    Denial {
        scope,
        wrong_core_group,
        real_group: wrong_core_group
            .then(|| r.resource.as_deref().and_then(builtin_group))
            .flatten()
            .map(str::to_string),
        missing_role: facts.missing_role.clone(),
        authorizer: facts.authorizer_text.clone(),
        ..Denial::default()
    }
}

fn not_served(ev: &Evidence, r: &Request) -> Cause {
    let wrong_core_group = is_wrong_core_group(r);
    Cause::NotServed(NotServed {
        wrong_core_group,
        real_group: wrong_core_group
            .then(|| r.resource.as_deref().and_then(builtin_group))
            .flatten()
            .map(str::to_string),
        plain_text: ev.reason.as_deref() == Some("Failed to parse error data"),
        ..NotServed::default()
    })
}

fn conflict(facts: &Facts) -> Cause {
    match &facts.manager {
        Some(manager) => Cause::ApplyConflict {
            manager: manager.clone(),
            detail: facts.detail.clone(),
        },
        None => Cause::Modified,
    }
}

/// List or watch options the server rejected, told apart by the field they name.
fn options(ev: &Evidence, facts: &Facts, r: &Request) -> Cause {
    let named = |f: &str| facts.fields.iter().any(|x| x == f);
    let detail = facts.detail.as_deref().unwrap_or("");
    if named(SEND_INITIAL_EVENTS) && detail.contains("WatchList") {
        return Cause::WatchListDisabled;
    }
    let watching = r.verb.as_deref() == Some("watch")
        || ev.phase.and_then(|p| p.verb()) == Some("watch")
        || detail.contains("forbidden for watch");
    if named(RESOURCE_VERSION_MATCH) && watching {
        return Cause::ResourceVersionMatchOnWatch;
    }
    Cause::BadOptions {
        fields: facts.fields.clone(),
        detail: facts.detail.clone(),
    }
}

fn invalid(ev: &Evidence, facts: &Facts) -> Cause {
    Cause::Invalid {
        fields: ev.causes.clone(),
        detail: if ev.causes.is_empty() {
            facts.detail.clone()
        } else {
            None
        },
    }
}

/// `StorageReadError`: the storage keys are the causes' fields.
fn storage_read(causes: &[FieldError]) -> Cause {
    Cause::StorageRead {
        keys: causes
            .iter()
            .map(|c| c.field.clone())
            .filter(|k| !k.is_empty())
            .collect(),
    }
}
