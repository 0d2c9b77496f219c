//! Fixes of what the API server serves: a type that is not served (install its CRD, correct its group, version or
//! name), a missing subresource, a missing object, a ServiceAccount that does not exist.

use super::Remedy;
use crate::cause::{Absence, Cause, CrdState, NotServed};
use crate::describe::served::{core_group_twin, declared_needs};
use crate::diagnosis::{Diagnosis, Request};
use crate::vocab::{builtin_group, request_resource, resource_name};

pub(super) fn remedy(d: &Diagnosis) -> Remedy {
    let r = &d.request;
    match &d.cause {
        Cause::NotServed(ns) => not_served(d, ns),
        Cause::NoSubresource { .. } => {
            let name = resource_name(
                r.resource.as_deref().unwrap_or_default(),
                r.group.as_deref().unwrap_or(""),
                None,
            );
            let group = r.group.as_deref().unwrap_or("");
            let sub = r.subresource.as_deref().unwrap_or("?");
            let elsewhere = match declared_needs(d) {
                Some(needs) => format!("correct the subresource of {needs} in the needs file"),
                None => "request a subresource it serves".into(),
            };
            if group.contains('.') && !group.ends_with(".k8s.io") {
                Remedy::new(format!(
                    "if `{name}` is a CRD, enable the subresource in its version `{}` (`subresources: \
                 {{{sub}: {{}}}}`) and reinstall it; otherwise {}",
                    r.version.as_deref().unwrap_or("?"),
                    elsewhere
                ))
            } else {
                Remedy::new(elsewhere)
            }
        }
        Cause::ObjectMissing => {
            if r.resource.as_deref() == Some("namespaces") {
                Remedy::new("create the namespace first, or use one that exists")
                    .command("kubectl get namespaces")
            } else {
                let mut m = Remedy::new(
                    "check the name and namespace; if the object is expected to be absent, treat 404 \
                 `NotFound` as a normal answer (kube-rs: `Api::get_opt`)",
                );
                if let Some(t) = request_resource(r) {
                    m.commands.push(format!("kubectl get {t} --all-namespaces"));
                }
                m
            }
        }
        Cause::NotInCache => Remedy::new(
            "nothing to do unless it repeats for objects that exist; then check the watcher's errors (the \
         cache may not be syncing)",
        ),
        Cause::SubjectMissing => {
            let mut m = Remedy::new(
                "create it, or check the name the program really runs as (`spec.serviceAccountName` of its \
             Pod)",
            );
            if let (Some(ns), Some(name)) = (&r.namespace, &r.name) {
                m.commands
                    .push(format!("kubectl create serviceaccount {name} -n {ns}"));
            }
            m
        }
        Cause::NoAggregatedDiscovery => {
            Remedy::new("run the check against a Kubernetes 1.30 or later API server")
        }
        _ => unreachable!("remedy::served is given served causes only"),
    }
}

fn not_served(d: &Diagnosis, ns: &NotServed) -> Remedy {
    let r = &d.request;
    let res_name = r.resource.clone();
    let group = r.group.clone().unwrap_or_default();
    let version = r.version.clone().unwrap_or_default();
    let crd = format!("{}.{group}", res_name.as_deref().unwrap_or_default());
    let install = ns.install.clone().unwrap_or_else(|| {
        format!("kubectl apply -f <the manifest of CustomResourceDefinition {crd}>")
    });
    let needs = declared_needs(d);

    if let Some(twin) = core_group_twin(ns, r) {
        return match &needs {
            Some(needs) => Remedy::new(format!(
                "in the needs file, set `group: {}` and `version: {}` for {needs}",
                twin.group, twin.version
            )),
            None => Remedy::new(format!(
                "request `{}` in group `{}` (version `{}`)",
                twin.plural, twin.group, twin.version
            )),
        };
    }
    match &ns.crd {
        Some(CrdState::NotEstablished { .. }) => {
            return Remedy::new(
                "fix what the conditions name (a name another CRD already uses, an invalid schema) and reapply it",
            )
            .command(format!("kubectl describe customresourcedefinition {crd}"));
        }
        Some(CrdState::NotYetDiscovered) => {
            return Remedy::new(
                "wait a moment and check again: discovery follows a new CRD within seconds",
            );
        }
        Some(CrdState::VersionNotServed { .. }) => {
            return Remedy::new(format!(
                "install the CRD revision that serves `{version}`, or declare a served version for {}",
                needs.as_deref().unwrap_or("the request")
            ))
            .command(install);
        }
        _ => {}
    }
    if let Some(absence) = &ns.discovery {
        if let Some(best) = ns.suggestions.first() {
            let mut edit = format!("write `resource: {}`", best.plural);
            if best.group != group {
                edit.push_str(&format!(
                    ", `group: {}`",
                    if best.group.is_empty() {
                        "\"\""
                    } else {
                        &best.group
                    }
                ));
            }
            if best.version != version {
                edit.push_str(&format!(", `version: {}`", best.version));
            }
            return match &needs {
                Some(needs) => Remedy::new(format!("in the needs file, {edit} for {needs}")),
                None => Remedy::new(format!(
                    "use the served name: `{}`",
                    resource_name(&best.plural, &best.group, None)
                )),
            };
        }
        let version_fix = match absence {
            Absence::Version { served } => served.first(),
            Absence::Resource { other_versions } => other_versions.first(),
            Absence::Group => None,
        };
        if let Some(v) = version_fix {
            return Remedy::new(match &needs {
                Some(needs) => format!("in the needs file, write `version: {v}` for {needs}"),
                None => format!("use version `{v}`"),
            });
        }
        if group.is_empty() {
            // The core group has no CRDs: a resource it does not serve is a wrong name, never a missing install.
            return Remedy::new(format!(
                "correct {} in the needs file: the core group has no `{}`",
                needs.as_deref().unwrap_or("the request"),
                res_name.as_deref().unwrap_or_default()
            ));
        }
        return Remedy::new(format!("install the CustomResourceDefinition `{crd}`"))
            .command(install);
    }
    likely_causes(r, ns)
}

/// The causes of a 404 in order of likelihood, when nothing was checked against discovery.
fn likely_causes(r: &Request, ns: &NotServed) -> Remedy {
    let res = r
        .resource
        .clone()
        .or_else(|| r.kind.clone().map(|k| k.to_ascii_lowercase()));
    let group = r.group.clone().filter(|g| !g.is_empty());
    let mut m = Remedy::default();
    let mut steps = Vec::new();
    if ns.wrong_core_group {
        let name = r.resource.as_deref().unwrap_or_default();
        steps.push(format!(
            "the client asked for `{name}` in the core group: fix the group in the code{}",
            ns.real_group
                .as_deref()
                .or_else(|| builtin_group(name))
                .map(|g| format!(" (it is `{g}`)"))
                .unwrap_or_default()
        ));
    }
    match (&res, &group) {
        (Some(res), Some(g)) => {
            steps.push(format!(
                "the CRD is not installed or not yet Established: `kubectl get crd {res}.{g}`"
            ));
            steps.push(format!(
                "the group or version is wrong: `kubectl api-resources --api-group={g}` lists what the group serves"
            ));
            steps.push(format!(
                "the name is misspelled (plural, singular, kind and short names differ): `kubectl api-resources | \
                 grep -i {}`",
                res.trim_end_matches('s')
            ));
            m.commands.push(format!("kubectl get crd {res}.{g}"));
            m.commands
                .push(format!("kubectl api-resources --api-group={g}"));
        }
        (Some(res), None) => {
            steps.push(format!(
                "the name or group is wrong, or the CRD is missing: `kubectl api-resources | grep -i {}`",
                res.trim_end_matches('s')
            ));
            m.commands.push("kubectl api-resources".into());
        }
        (None, _) => {
            steps.push(
                "the CRD is not installed: `kubectl get crds` (install it before starting the program)".into(),
            );
            steps.push(
                "the group, version or plural in the code is wrong: compare with `kubectl api-resources`".into(),
            );
            m.commands.push("kubectl get crds".into());
            m.commands.push("kubectl api-resources".into());
        }
    }
    steps.push("an aggregated API is unavailable: `kubectl get apiservices` shows `False`".into());
    m.commands.push("kubectl get apiservices".into());
    m.text = format!(
        "likely causes, in order:\n{}",
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("  {}. {s}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    );
    m.summary = match &res {
        Some(res) => format!(
            "install the CRD of `{}`, or correct its group, version or name (`kubectl api-resources`)",
            resource_name(res, group.as_deref().unwrap_or(""), None)
        ),
        None => "install the CRD, or correct the group, version or plural in the code (`kubectl api-resources`)"
            .into(),
    };
    if let Some(install) = &ns.install {
        m.text = format!("install it: `{install}`\n{}", m.text);
        m.summary = format!("install it: `{install}`");
        m.commands.insert(0, install.clone());
    }
    m
}
