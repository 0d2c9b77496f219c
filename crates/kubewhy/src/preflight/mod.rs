//! Preflight: checks, before a program makes its first real request, that everything it declares it needs
//! ([`crate::needs`]) will work — the API server answers, who is asking, every type is served, every verb is
//! allowed, and what is watched can really be listed and watched — and reports every problem at once, each
//! failure with a [`Diagnosis`], plus the exact [`Fix`].
//!
//! ```no_run
//! # async fn demo(config: kube::Config, needs: kubewhy::needs::Needs) -> Result<(), kubewhy::preflight::Error> {
//! use kubewhy::preflight::{self, Options};
//! let report = preflight::run(&config, &needs, &Options::default()).await?;
//! for check in report.failures() {
//!     eprintln!("{}", check.diagnosis.as_ref().expect("a failed check carries a diagnosis"));
//! }
//! if !report.fix.is_empty() {
//!     print!("{}", report.fix.to_apply_stream());
//! }
//! std::process::exit(report.exit_code());
//! # }
//! ```
//!
//! The checks, each reported pass / fail / skipped:
//! 1. `reach` — the API server answers (TLS and credentials work) and tells its version;
//! 2. `whoami` — SelfSubjectReview: who the caller is; with [`Options::as_identity`] also who is checked;
//! 3. `served` — every needed type is served (aggregated discovery; for CRDs installed, `Established`, the
//!    version served; nearest names for a misspelling; a core-group request for a non-core resource);
//! 4. `access` — every verb is allowed (SelfSubjectAccessReview, or SubjectAccessReview / impersonation for
//!    another identity);
//! 5. `probe` — what is watched is listed (`limit=1`) and a watch is opened and closed, as the checked identity.
//!
//! Checks of one stage run concurrently; the stages are ordered because later ones use earlier answers (a
//! misspelled type is not access-checked; a denied list is not probed).

mod access;
mod crd;
mod failure;
mod fix;
mod options;
pub(crate) mod plan;
mod probe;
mod reach;
mod report;
mod served;
mod trust;
mod whoami;

use crate::needs::Needs;
use crate::note::Note;

pub use fix::{Change, Fix};
pub use options::{AsIdentity, Error, Options};
pub use report::{Check, CheckKind, Identity, Outcome, Report, Summary};

use failure::{Failure, limited};
use plan::{AccessKey, Plan, ServedKey};
use plan::{access_name, need_request, probe_name, resource_name, scope, served_name};

/// Runs every check of `needs` against the API server of `config` and returns the report.
///
/// # Errors
/// Only when no client can be built from `config`; everything the API server answers — including that it
/// cannot be reached — is in the report.
pub async fn run(config: &kube::Config, needs: &Needs, options: &Options) -> Result<Report, Error> {
    let caller = kube::Client::try_from(config.clone()).map_err(Error::Client)?;
    let as_client = match &options.as_identity {
        Some(who) => {
            let mut cfg = config.clone();
            cfg.auth_info.impersonate = Some(who.user.clone());
            cfg.auth_info.impersonate_groups = (!who.groups.is_empty()).then(|| who.groups.clone());
            Some(kube::Client::try_from(cfg).map_err(Error::Client)?)
        }
        None => None,
    };
    let plan = Plan::new(needs);
    let mut report = Report {
        name: needs.name.clone(),
        server: config.cluster_url.to_string(),
        server_version: None,
        caller: None,
        subject: None,
        blocked: None,
        checks: Vec::new(),
        summary: Summary::default(),
        fix: Fix::default(),
    };

    // 1. Reach: nothing else can run without it.
    let (reach, version) = reach::check(
        &caller,
        &report.server,
        config.root_cert.as_deref(),
        options.timeout,
    )
    .await;
    let reached = reach.outcome == Outcome::Pass;
    report.server_version = version;
    report.checks.push(reach);
    if !reached {
        report.blocked = Some(format!(
            "the API server at `{}` could not be used; no other check could run",
            report.server
        ));
        report
            .checks
            .extend(plan.all_skipped("the API server could not be used (see `reach`)"));
        report.finish();
        return Ok(report);
    }

    // 2. Who is asking, who is checked, and the served types: concurrently.
    let (who, catalog) = futures::join!(
        whoami::check(&caller, as_client.as_ref(), options),
        crate::catalog::Catalog::read(&caller),
    );
    report.caller = who.caller.clone();
    report.subject = who.subject.clone();
    report.checks.extend(who.checks.iter().cloned());

    // 3. Served types and access reviews: concurrently.
    let (served, access) = futures::join!(
        served::check(&caller, &plan, catalog, options),
        access::check(&caller, as_client.as_ref(), &who, &plan, options),
    );
    let mut access = access;
    // A need whose name is wrong (a near name or the same name in another group is served) has no meaningful
    // access answer: fix the name first.
    // So does a verb the type does not support.
    for check in &mut access.checks {
        let Some(need) = check.need else { continue };
        let verb = check.permission.as_ref().map(|p| p.verb);
        let reason = served
            .misnamed
            .get(&need)
            .or_else(|| verb.and_then(|v| served.unsupported.get(&(need, v))));
        if let Some(reason) = reason {
            *check = check.clone().skip_keeping_permission(reason);
        }
    }
    if let Some(reason) = &access.blocked {
        report.blocked = Some(reason.clone());
    }
    // Each denial explained by the bindings that name the subject, when the caller may read the RBAC objects (read
    // once, only when something was denied).
    let denied = |c: &Check| {
        c.outcome == Outcome::Fail
            && c.diagnosis
                .as_ref()
                .is_some_and(|d| matches!(d.cause, crate::cause::Cause::Denied(_)))
    };
    if options.near_misses && access.checks.iter().any(denied) {
        let near = crate::rbac::NearMisses::new(caller.clone());
        for check in access.checks.iter_mut().filter(|c| denied(c)) {
            if let Some(d) = check.diagnosis.as_mut() {
                near.explain(d).await;
            }
        }
    }
    report.checks.extend(served.checks.iter().cloned());
    report.checks.extend(access.checks.iter().cloned());

    // 4. Live probes of what is watched, as the checked identity.
    if options.probes {
        let probe_client = match &options.as_identity {
            None => Ok(&caller),
            Some(_) => match (&as_client, &who.impersonation_denied) {
                (_, Some(reason)) => Err(reason.clone()),
                (Some(c), None) => Ok(c),
                (None, None) => Err("no impersonating client".to_string()),
            },
        };
        report
            .checks
            .extend(probe::check(probe_client, &plan, &served, &access.checks, options).await);
    }

    // Every failure says which needs declared it (the served and access stages say so themselves).
    for check in &mut report.checks {
        if let (Some(need), Some(d)) = (check.need, check.diagnosis.as_mut())
            && !d.notes.iter().any(|n| matches!(n, Note::Declared { .. }))
        {
            d.notes.insert(
                0,
                Note::Declared {
                    program: needs.name.clone(),
                    needs: vec![need],
                },
            );
        }
    }
    report.fix = fix::build(needs, &report, &served, options);
    report.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    /// Callers spawn the preflight (doc-controller's start-up waits in a task): its future must be `Send`.
    #[test]
    fn the_preflight_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        let needs = crate::needs::Needs::new("x");
        let options = super::Options::default();
        let future = super::run(&config, &needs, &options);
        is_send(&future);
    }
}
