//! The preflight against the real API server: a ServiceAccount with nothing misses every need and the fix makes
//! the next check pass (granting nothing beyond the needs, per SelfSubjectRulesReview); another identity is
//! checked with SubjectAccessReview or impersonation; CRDs missing or not serving the version, misspelled and
//! misdeclared types, an unreachable server, bad credentials, and a probe catching what access reviews cannot.
//!
//! CRDs are cluster-scoped, so every test installs its own under a group named after its fresh namespace.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kubewhy::Class;
use kubewhy::needs::{Needs, ResourceType};
use kubewhy::preflight::{self, AsIdentity, CheckKind, Options, Outcome, Report};
use kubewhy::rbac::{Permission, Subject, Target, Verb};
use kubewhy::render::{Format, ReportOptions};
use kubewhy_testenv::{ControlPlane, Identity};
use serde_json::json;

fn env() -> &'static ControlPlane {
    kubewhy_testenv::shared()
}

/// A CRD `plural.group`, namespaced, with these versions (name, served); the first is the storage version.
async fn install_crd(
    group: &str,
    plural: &str,
    kind: &str,
    versions: &[(&str, bool)],
    extra: serde_json::Value,
) {
    let admin = env().admin().await.unwrap();
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    let versions: Vec<serde_json::Value> = versions
        .iter()
        .enumerate()
        .map(|(i, (name, served))| {
            json!({"name": name, "served": served, "storage": i == 0, "schema": schema,
                   "subresources": {"status": {}}})
        })
        .collect();
    let mut spec = json!({
        "group": group,
        "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "shortNames": []},
        "scope": "Namespaced",
        "versions": versions,
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": spec,
    }))
    .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    crds.create(&PostParams::default(), &crd).await.unwrap();
    // Established, then served by discovery (which follows a moment later).
    let name = format!("{plural}.{group}");
    let served_version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.served)
        .map(|v| v.name.clone());
    poll(
        &format!("CRD {name} established and discovered"),
        || async {
            let crd = crds.get(&name).await.unwrap();
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            let discovered = match &served_version {
                Some(v) => {
                    let req = http::Request::get(format!("/apis/{group}/{v}"))
                        .body(Vec::new())
                        .unwrap();
                    admin
                        .request::<serde_json::Value>(req)
                        .await
                        .map(|list| list["resources"].as_array().is_some_and(|r| !r.is_empty()))
                        .unwrap_or(false)
                }
                None => true,
            };
            established && discovered
        },
    )
    .await;
}

/// Polls `check` every 50 ms until it holds, failing the test after 15 s.
async fn poll<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the check until `done` holds for its report (RBAC reaches the authorizer through an informer, within
/// moments), failing the test after 15 s; returns the last report.
async fn run_until(
    what: &str,
    identity: &Identity,
    needs: &Needs,
    options: &Options,
    done: impl Fn(&Report) -> bool,
) -> Report {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let report = run(identity, needs, options).await;
        if done(&report) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            text(&report)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(identity: &Identity, needs: &Needs, options: &Options) -> Report {
    let config = env().config_for(identity).await.unwrap();
    preflight::run(&config, needs, options).await.unwrap()
}

fn text(report: &Report) -> String {
    let mut out = Vec::new();
    report
        .write(&mut out, Format::Text, &ReportOptions::default())
        .expect("writing to a Vec");
    String::from_utf8(out).expect("the text report is UTF-8")
}

/// (verb, group, resource, namespace) of the failed access checks.
fn denied(report: &Report) -> BTreeSet<Permission> {
    report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Access && c.outcome == Outcome::Fail)
        .map(|c| {
            assert_eq!(
                c.diagnosis.as_ref().unwrap().class,
                Class::Forbidden,
                "{c:#?}"
            );
            c.permission.clone().unwrap()
        })
        .collect()
}

fn outcomes(report: &Report, kind: CheckKind) -> Vec<Outcome> {
    report
        .checks
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.outcome)
        .collect()
}

fn check_named<'a>(report: &'a Report, kind: CheckKind, needle: &str) -> &'a preflight::Check {
    report
        .checks
        .iter()
        .find(|c| c.kind == kind && c.name.contains(needle))
        .unwrap_or_else(|| panic!("no {kind} check naming {needle:?} in\n{}", text(report)))
}

fn apply(yaml: &str) {
    let (ok, out, err) = env()
        .kubectl_with(env().kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
}

/// Every (group, resource, verb) the rules of `client` allow in `namespace`, per SelfSubjectRulesReview.
async fn rules(client: kube::Client, namespace: &str) -> BTreeSet<(String, String, String)> {
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec {
            namespace: Some(namespace.into()),
        },
        ..SelfSubjectRulesReview::default()
    };
    let status = Api::<SelfSubjectRulesReview>::all(client)
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(!status.incomplete, "{status:?}");
    let mut out = BTreeSet::new();
    for rule in status.resource_rules {
        assert!(rule.resource_names.unwrap_or_default().is_empty());
        for g in rule.api_groups.unwrap_or_default() {
            for r in rule.resources.clone().unwrap_or_default() {
                for v in &rule.verbs {
                    out.insert((g.clone(), r.clone(), v.clone()));
                }
            }
        }
    }
    out
}

fn expected_rules(perms: &[Permission], namespace: &str) -> BTreeSet<(String, String, String)> {
    perms
        .iter()
        .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == Some(namespace))
        .map(|p| match &p.target {
            Target::Resource {
                group, resource, ..
            } => (group.clone(), resource.clone(), p.verb.to_string()),
            Target::NonResource { .. } => unreachable!("no non-resource needs here"),
        })
        .collect()
}

#[tokio::test]
async fn a_service_account_without_permissions_misses_every_need_and_the_fix_makes_the_next_check_pass()
 {
    let ns = env().namespace("nothing").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    install_crd(&group, "widgets", "Widget", &[("v1", true)], json!({})).await;
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let widgets = ResourceType::new(&group, "v1", "widgets", "Widget", true);
    let configmaps = ResourceType::new("", "v1", "configmaps", "ConfigMap", true);
    let needs = Needs::new("ctl")
        .watch(widgets.clone(), None)
        .verbs(widgets.clone(), None, [Verb::Patch])
        .subresource(widgets, "status", None, [Verb::Patch])
        .watch(configmaps.clone(), Some(&ns))
        .verbs(configmaps, Some(&ns), [Verb::Create, Verb::Delete])
        .verbs(
            ResourceType::new("events.k8s.io", "v1", "events", "Event", true),
            Some(&ns),
            [Verb::Create],
        )
        .verbs(
            ResourceType::new("coordination.k8s.io", "v1", "leases", "Lease", true),
            Some(&ns),
            [Verb::Get, Verb::Create, Verb::Update],
        )
        .verbs(
            ResourceType::new("", "v1", "nodes", "Node", false),
            None,
            [Verb::List],
        );

    let report = run(&sa.identity, &needs, &Options::default()).await;
    let shown = text(&report);
    assert_eq!(report.exit_code(), 1, "{shown}");
    assert_eq!(
        outcomes(&report, CheckKind::Reach),
        [Outcome::Pass],
        "{shown}"
    );
    assert_eq!(report.subject.as_ref().unwrap().user, sa.identity.user);
    assert!(
        outcomes(&report, CheckKind::Served)
            .iter()
            .all(|o| *o == Outcome::Pass),
        "{shown}"
    );
    // Every permission of every need is reported missing, and nothing else fails.
    let all: BTreeSet<Permission> = needs.permissions().into_iter().collect();
    assert_eq!(denied(&report), all, "{shown}");
    assert!(
        outcomes(&report, CheckKind::Access)
            .iter()
            .all(|o| *o == Outcome::Fail),
        "{shown}"
    );
    assert_eq!(
        outcomes(&report, CheckKind::Probe),
        [Outcome::Skipped, Outcome::Skipped],
        "{shown}"
    );
    assert_eq!(report.summary.failed, all.len(), "{shown}");
    // The text groups the denials of one resource and scope into one diagnosis.
    assert!(
        shown.contains(&format!(
            "error[forbidden]: service account `{ns}/ctl` cannot `get`, `list`, `watch` and \
             `patch` `widgets.{group}` in all namespaces"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("= note: declared by needs #1, #2 of `ctl`"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("error: {} of ", all.len())),
        "{shown}"
    );

    // The fix grants exactly what is missing.
    let fix = &report.fix;
    assert_eq!(
        fix.permissions.iter().cloned().collect::<BTreeSet<_>>(),
        all
    );
    assert!(fix.commands.is_empty() && fix.edits.is_empty(), "{fix:#?}");
    assert!(fix.rbac.is_some(), "{fix:#?}");
    let subject = Subject::from_username(&sa.identity.user);
    assert_eq!(fix.subject.as_ref(), Some(&subject));
    let baseline_ns = rules(sa.client.clone(), &ns).await;
    let baseline_other = rules(sa.client.clone(), "default").await;
    apply(&fix.to_apply_stream());

    let after = run_until(
        "the fixed RBAC to be visible",
        &sa.identity,
        &needs,
        &Options::default(),
        |r| r.passed(),
    )
    .await;
    assert_eq!(after.exit_code(), 0, "{}", text(&after));
    assert_eq!(after.summary.skipped, 0, "{}", text(&after));
    assert_eq!(
        outcomes(&after, CheckKind::Probe),
        [Outcome::Pass, Outcome::Pass],
        "{}",
        text(&after)
    );
    assert!(after.fix.is_empty(), "{:#?}", after.fix);
    assert!(text(&after).contains(&format!(
        "ok: all {} checks passed for `ctl`",
        after.summary.passed
    )));

    // The generated RBAC grants nothing beyond the declared needs: what SelfSubjectRulesReview lists now, minus
    // what the ServiceAccount had before (discovery, self-reviews), is exactly the needs, in each namespace.
    let perms = needs.permissions();
    let granted_ns: BTreeSet<_> = rules(sa.client.clone(), &ns)
        .await
        .difference(&baseline_ns)
        .cloned()
        .collect();
    assert_eq!(granted_ns, expected_rules(&perms, &ns));
    let granted_other: BTreeSet<_> = rules(sa.client.clone(), "default")
        .await
        .difference(&baseline_other)
        .cloned()
        .collect();
    assert_eq!(granted_other, expected_rules(&perms, "default"));
    assert!(
        granted_other.len() < granted_ns.len(),
        "namespaced needs are granted only in {ns}"
    );
}

#[tokio::test]
async fn another_identity_is_checked_with_subject_access_review_or_impersonation() {
    let ns = env().namespace("as").await.unwrap();
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let configmaps = ResourceType::new("", "v1", "configmaps", "ConfigMap", true);
    let needs = Needs::new("ctl")
        .watch(configmaps.clone(), Some(&ns))
        .verbs(configmaps.clone(), Some(&ns), [Verb::Create]);
    // Grant everything but `create`.
    let granted = Needs::new("ctl-read").watch(configmaps, Some(&ns));
    apply(
        &granted
            .rbac_yaml(&Subject::from_username(&sa.identity.user))
            .unwrap(),
    );
    let as_sa = Options {
        as_identity: Some(AsIdentity {
            user: sa.identity.user.clone(),
            groups: vec![],
        }),
        ..Options::default()
    };
    let create = [Permission::resource(
        "",
        "configmaps",
        Verb::Create,
        Some(&ns),
    )];

    // The admin may create SubjectAccessReviews and impersonate: access by SubjectAccessReview, probes as the SA.
    let report = run_until(
        "the read grant to be visible",
        &env().admin_identity(),
        &needs,
        &as_sa,
        |r| denied(r).len() == 1,
    )
    .await;
    let shown = text(&report);
    assert_eq!(report.caller.as_ref().unwrap().user, "admin");
    let subject = report.subject.clone().unwrap();
    assert_eq!(subject.user, sa.identity.user);
    assert!(
        subject
            .groups
            .contains(&format!("system:serviceaccounts:{ns}")),
        "{subject:?}"
    );
    assert_eq!(denied(&report), create.iter().cloned().collect(), "{shown}");
    assert_eq!(
        outcomes(&report, CheckKind::Probe),
        [Outcome::Pass],
        "{shown}"
    );
    assert_eq!(report.exit_code(), 1);
    assert!(
        check_named(&report, CheckKind::Whoami, "impersonate")
            .detail
            .contains("by impersonation")
    );
    let d = check_named(&report, CheckKind::Access, "`create`")
        .diagnosis
        .clone()
        .unwrap();
    // The admin may read RBAC: the denial is explained by the Role that comes closest, and fixed by editing it.
    let commands = d.remedy().commands;
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(
        commands[0].starts_with(&format!(
            "kubectl patch roles ctl-read -n {ns} --type=json -p '"
        )) && commands[0].contains(r#"{"op":"add","path":"/rules/0/verbs/-","value":"create"}"#),
        "{commands:?}"
    );
    assert_eq!(
        commands[1],
        format!(
            "kubectl auth can-i create configmaps -n {ns} --as={}",
            sa.identity.user
        )
    );
    assert_eq!(report.fix.changes.len(), 1, "{:?}", report.fix);
    assert!(report.fix.permissions.is_empty() && report.fix.rbac.is_none());
    assert!(
        report
            .fix
            .to_apply_stream()
            .contains("add `create` to rule 1"),
        "{}",
        report.fix.to_apply_stream()
    );
    // The fix names the checked identity, not the caller.
    assert_eq!(
        report.fix.subject,
        Some(Subject::from_username(&sa.identity.user))
    );

    // The same answer as the ServiceAccount itself gets.
    let itself = run(&sa.identity, &needs, &Options::default()).await;
    assert_eq!(denied(&itself), denied(&report));

    // alice may do neither: the checks cannot run (exit 2), and the report says what to grant.
    let alice = run(&env().user_identity("alice").unwrap(), &needs, &as_sa).await;
    let shown = text(&alice);
    assert_eq!(alice.exit_code(), 2, "{shown}");
    let blocked = alice.blocked.clone().unwrap();
    assert!(
        blocked.contains("subjectaccessreviews.authorization.k8s.io"),
        "{blocked}"
    );
    assert!(blocked.contains("may not impersonate"), "{blocked}");
    assert!(
        outcomes(&alice, CheckKind::Access)
            .iter()
            .all(|o| *o == Outcome::Skipped),
        "{shown}"
    );
    let probe = check_named(&alice, CheckKind::Probe, "configmaps");
    assert_eq!(probe.outcome, Outcome::Skipped);

    // carol may impersonate ServiceAccounts but not create SubjectAccessReviews: access by
    // SelfSubjectAccessReview under impersonation, probes as the SA — the same answers as the admin's.
    let carol_rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {ns}-impersonate}}\n\
         rules: [{{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {ns}-impersonate}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-impersonate}}\n\
         subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}}]\n"
    );
    apply(&carol_rbac);
    let carol = env().user_identity("carol").unwrap();
    let report = run_until("carol's impersonation grant", &carol, &needs, &as_sa, |r| {
        r.blocked.is_none()
    })
    .await;
    let shown = text(&report);
    assert_eq!(denied(&report), create.iter().cloned().collect(), "{shown}");
    assert_eq!(
        outcomes(&report, CheckKind::Probe),
        [Outcome::Pass],
        "{shown}"
    );
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.detail.contains("ServiceAccount exists is unknown")),
        "carol cannot read ServiceAccounts and the report says so:\n{shown}"
    );

    // A ServiceAccount that does not exist is named as such (group grants would make it look allowed).
    let ghost = Options {
        as_identity: Some(AsIdentity {
            user: format!("system:serviceaccount:{ns}:ghost"),
            groups: vec![],
        }),
        ..Options::default()
    };
    let report = run(&env().admin_identity(), &needs, &ghost).await;
    let missing = check_named(&report, CheckKind::Whoami, "ghost");
    assert_eq!(missing.outcome, Outcome::Fail);
    let d = missing.diagnosis.clone().unwrap();
    assert_eq!(d.class, Class::ObjectNotFound);
    assert_eq!(
        d.summary(),
        format!("the service account `{ns}/ghost` does not exist")
    );
    assert_eq!(
        d.remedy().commands,
        [format!("kubectl create serviceaccount ghost -n {ns}")]
    );
}

#[tokio::test]
async fn a_crd_that_is_not_installed_is_reported_with_its_install_command_until_it_is() {
    let ns = env().namespace("nocrd").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let gizmos = ResourceType::new(&group, "v1", "gizmos", "Gizmo", true);
    let needs = Needs::new("ctl").watch(gizmos, Some(&ns));
    let options = Options {
        crd_install: Some("gizmo-controller crdgen | kubectl apply -f -".into()),
        ..Options::default()
    };

    let report = run(&env().admin_identity(), &needs, &options).await;
    let shown = text(&report);
    let served = check_named(&report, CheckKind::Served, "gizmos");
    assert_eq!(served.outcome, Outcome::Fail, "{shown}");
    let d = served.diagnosis.clone().unwrap();
    assert_eq!(d.class, Class::ResourceNotFound);
    assert_eq!(
        d.summary(),
        format!("`gizmos.{group}` (v1) is not served by the API server")
    );
    assert_eq!(
        d.describe().cause,
        format!(
            "no served API group is named `{group}`, and no CustomResourceDefinition `gizmos.{group}` is installed"
        )
    );
    assert_eq!(
        d.remedy().commands,
        ["gizmo-controller crdgen | kubectl apply -f -"]
    );
    // RBAC does not depend on the CRD: the admin's access passes; the probe waits for the type.
    assert!(
        outcomes(&report, CheckKind::Access)
            .iter()
            .all(|o| *o == Outcome::Pass),
        "{shown}"
    );
    let probe = check_named(&report, CheckKind::Probe, "gizmos");
    assert_eq!(
        (probe.outcome, probe.detail.as_str()),
        (Outcome::Skipped, "the type is not served (see `served`)")
    );
    assert_eq!(
        report.fix.commands,
        ["gizmo-controller crdgen | kubectl apply -f -"]
    );
    assert!(report.fix.rbac.is_none());
    assert!(
        report
            .fix
            .to_apply_stream()
            .contains("#   gizmo-controller crdgen | kubectl apply -f -")
    );

    // As a ServiceAccount with nothing: the fix holds both the CRD install and the RBAC; without
    // `crd_install` the command is a generic hint naming the CRD.
    let report = run(&sa.identity, &needs, &Options::default()).await;
    assert_eq!(
        report.fix.commands,
        [format!(
            "kubectl apply -f <the manifest of CustomResourceDefinition gizmos.{group}>"
        )]
    );
    assert_eq!(report.fix.permissions.len(), 3, "{:#?}", report.fix);
    assert!(report.fix.rbac.is_some());
    let shown = text(&report);
    assert!(
        shown.contains("whether the CRD") && shown.contains("is unknown: reading it failed"),
        "the SA may not read CRDs, and the report says so:\n{shown}"
    );

    install_crd(&group, "gizmos", "Gizmo", &[("v1", true)], json!({})).await;
    let report = run(&env().admin_identity(), &needs, &options).await;
    assert!(report.passed(), "{}", text(&report));
    assert!(report.fix.is_empty());
}

#[tokio::test]
async fn a_crd_that_does_not_serve_the_needed_version() {
    let ns = env().namespace("crdver").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    install_crd(&group, "gadgets", "Gadget", &[("v1", true)], json!({})).await;
    install_crd(
        &group,
        "doohickeys",
        "Doohickey",
        &[("v1", true), ("v2", false)],
        json!({}),
    )
    .await;
    let needs = Needs::new("ctl")
        .watch(
            ResourceType::new(&group, "v2", "gadgets", "Gadget", true),
            Some(&ns),
        )
        .watch(
            ResourceType::new(&group, "v2", "doohickeys", "Doohickey", true),
            Some(&ns),
        );
    let report = run(&env().admin_identity(), &needs, &Options::default()).await;
    let shown = text(&report);
    assert_eq!(report.exit_code(), 1, "{shown}");

    let d = check_named(&report, CheckKind::Served, "gadgets")
        .diagnosis
        .clone()
        .unwrap();
    assert_eq!(d.class, Class::ResourceNotFound);
    assert_eq!(
        d.summary(),
        format!("the CRD `gadgets.{group}` is installed, but it does not serve version `v2`")
    );
    assert_eq!(
        d.describe().cause,
        "it does not define version `v2`; it serves `v1`"
    );
    assert_eq!(
        d.remedy().commands,
        [format!(
            "kubectl apply -f <the manifest of CustomResourceDefinition gadgets.{group}>"
        )]
    );

    let d = check_named(&report, CheckKind::Served, "doohickeys")
        .diagnosis
        .clone()
        .unwrap();
    assert_eq!(
        d.describe().cause,
        "it defines `v2` with `served: false`; it serves `v1`"
    );
    // The version does not matter to RBAC: access is reviewed (and passes for the admin); the probes wait.
    assert!(
        outcomes(&report, CheckKind::Access)
            .iter()
            .all(|o| *o == Outcome::Pass),
        "{shown}"
    );
    assert_eq!(
        outcomes(&report, CheckKind::Probe),
        [Outcome::Skipped, Outcome::Skipped]
    );
    assert_eq!(report.fix.commands.len(), 2, "{:#?}", report.fix);
}

#[tokio::test]
async fn misspelled_and_misdeclared_types_get_the_nearest_names_and_the_correction() {
    let ns = env().namespace("names").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    install_crd(&group, "sprockets", "Sprocket", &[("v1", true)], json!({})).await;
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let needs = Needs::new("ctl")
        .watch(
            ResourceType::new(&group, "v1", "sprokcets", "Sprocket", true),
            None,
        )
        .verbs(
            ResourceType::new("", "v1", "sprockets", "Sprocket", true),
            None,
            [Verb::Patch],
        )
        .verbs(
            ResourceType::new("", "v1", "confgmaps", "ConfigMap", true),
            Some(&ns),
            [Verb::Get],
        )
        .verbs(
            ResourceType::new("apps", "v1", "deploymnts", "Deployment", true),
            Some(&ns),
            [Verb::Get],
        )
        .verbs(
            ResourceType::new("apps", "v1beta1", "deployments", "Deployment", true),
            Some(&ns),
            [Verb::Get],
        )
        .verbs(
            ResourceType::new("", "v1", "nodes", "Node", true),
            None,
            [Verb::Get],
        )
        .subresource(
            ResourceType::new("", "v1", "configmaps", "ConfigMap", true),
            "status",
            Some(&ns),
            [Verb::Get],
        )
        .subresource(
            ResourceType::new("", "v1", "pods", "Pod", true),
            "log",
            Some(&ns),
            [Verb::Get, Verb::Watch],
        );
    let report = run(&sa.identity, &needs, &Options::default()).await;
    let shown = text(&report);
    let served = |needle: &str| {
        check_named(&report, CheckKind::Served, needle)
            .diagnosis
            .clone()
            .unwrap()
    };

    let d = served("sprokcets");
    assert_eq!(d.class, Class::ResourceNotFound);
    assert_eq!(
        d.describe().cause,
        format!("group `{group}` serves no resource named `sprokcets`")
    );
    assert_eq!(
        d.describe().notes,
        [
            "declared by need #1 of `ctl`".to_string(),
            format!(
                "there is a resource with a similar name: `sprockets.{group}` (v1, kind `Sprocket`, namespaced)"
            )
        ]
    );
    assert_eq!(
        d.remedy().text,
        "in the needs file, write `resource: sprockets` for need #1"
    );

    let d = served("`sprockets` (v1)");
    assert_eq!(
        d.summary(),
        format!(
            "`sprockets` is not a core resource: it is `sprockets.{group}` (v1, kind `Sprocket`, namespaced)"
        )
    );
    assert_eq!(
        d.remedy().text,
        format!("in the needs file, set `group: {group}` and `version: v1` for need #2")
    );

    assert_eq!(
        served("confgmaps").remedy().text,
        "in the needs file, write `resource: configmaps` for need #3"
    );
    assert_eq!(
        served("deploymnts").remedy().text,
        "in the needs file, write `resource: deployments` for need #4"
    );
    let d = served("deployments.apps` (v1beta1)");
    assert_eq!(
        d.describe().cause,
        "`deployments.apps` is served in `v1`, not in `v1beta1`"
    );
    assert_eq!(
        d.remedy().text,
        "in the needs file, write `version: v1` for need #5"
    );

    let d = served("`nodes`");
    assert_eq!(d.class, Class::InvalidRequest);
    assert_eq!(
        d.summary(),
        "`nodes` is cluster-scoped, but need #6 declares it namespaced"
    );
    assert_eq!(
        d.remedy().text,
        "in the needs file, set `namespaced: false` for need #6"
    );

    let d = served("configmaps/status");
    assert_eq!(d.summary(), "`configmaps` (v1) has no subresource `status`");
    let d = served("pods/log");
    assert_eq!(d.class, Class::InvalidRequest);
    assert_eq!(d.summary(), "`pods/log` (v1) does not support `watch`");

    // A wrong name or scope gets no access review (its answer would mean nothing) and no RBAC in the fix; a
    // wrong version still does (RBAC has no versions).
    for needle in [
        "sprokcets",
        "`sprockets`",
        "confgmaps",
        "deploymnts",
        "`nodes`",
        "`watch` `pods/log`",
    ] {
        let c = check_named(&report, CheckKind::Access, needle);
        assert_eq!(c.outcome, Outcome::Skipped, "{needle}: {shown}");
    }
    assert_eq!(
        check_named(&report, CheckKind::Access, "deployments.apps").outcome,
        Outcome::Fail
    );
    let fixed: BTreeSet<String> = report
        .fix
        .permissions
        .iter()
        .map(|p| match &p.target {
            Target::Resource { resource, .. } => format!("{} {resource}", p.verb),
            Target::NonResource { path } => path.clone(),
        })
        .collect();
    assert_eq!(
        fixed,
        ["get configmaps/status", "get deployments", "get pods/log"]
            .map(String::from)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        "{shown}"
    );
    assert_eq!(report.fix.edits.len(), 7, "{:#?}", report.fix.edits);
    let stream = report.fix.to_apply_stream();
    assert!(
        stream.contains("#   in the needs file, write `resource: sprockets` for need #1"),
        "{stream}"
    );
}

#[tokio::test]
async fn unknown_credentials_or_an_unreachable_server_stop_the_checks_with_exit_2() {
    let needs = Needs::new("ctl").watch(
        ResourceType::new("", "v1", "configmaps", "ConfigMap", true),
        None,
    );
    let stranger = Identity {
        user: "stranger".into(),
        token: "not-a-token-the-server-knows".into(),
    };
    let report = run(&stranger, &needs, &Options::default()).await;
    let shown = text(&report);
    assert_eq!(report.exit_code(), 2, "{shown}");
    let reach = check_named(&report, CheckKind::Reach, "reachable");
    assert_eq!(reach.outcome, Outcome::Fail);
    assert_eq!(
        reach.diagnosis.as_ref().unwrap().class,
        Class::Unauthorized,
        "{shown}"
    );
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.passed, 0);
    assert!(
        report
            .checks
            .iter()
            .skip(1)
            .all(|c| c.outcome == Outcome::Skipped),
        "{shown}"
    );
    assert!(shown.contains("error: the checks could not run"), "{shown}");

    let mut config = env().config_for(&env().admin_identity()).await.unwrap();
    config.cluster_url = "https://127.0.0.1:1".parse().unwrap();
    let report = preflight::run(&config, &needs, &Options::default())
        .await
        .unwrap();
    assert_eq!(report.exit_code(), 2);
    let d = report.checks[0].diagnosis.clone().unwrap();
    assert_eq!(d.class, Class::Connection, "{}", text(&report));
}

#[tokio::test]
async fn a_probe_catches_what_access_reviews_cannot() {
    // A CRD whose second version needs a conversion webhook that is down: the type is served, RBAC allows
    // everything, and only a real list in that version fails.
    let ns = env().namespace("probe").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    let conversion = json!({"conversion": {"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://127.0.0.1:1/convert"}}}});
    install_crd(
        &group,
        "thingamajigs",
        "Thingamajig",
        &[("v1", true), ("v2", true)],
        conversion,
    )
    .await;
    let admin = env().admin().await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&group, "v1", "Thingamajig"),
        "thingamajigs",
    );
    let mut obj = DynamicObject::new("one", &ar).data(json!({"spec": {}}));
    obj.metadata.namespace = Some(ns.clone());
    Api::<DynamicObject>::namespaced_with(admin, &ns, &ar)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();

    let needs = Needs::new("ctl")
        .watch(
            ResourceType::new(&group, "v1", "thingamajigs", "Thingamajig", true),
            Some(&ns),
        )
        .watch(
            ResourceType::new(&group, "v2", "thingamajigs", "Thingamajig", true),
            Some(&ns),
        );
    let report = run(&env().admin_identity(), &needs, &Options::default()).await;
    let shown = text(&report);
    assert!(
        outcomes(&report, CheckKind::Served)
            .iter()
            .all(|o| *o == Outcome::Pass),
        "{shown}"
    );
    assert!(
        outcomes(&report, CheckKind::Access)
            .iter()
            .all(|o| *o == Outcome::Pass),
        "{shown}"
    );
    assert_eq!(
        outcomes(&report, CheckKind::Probe),
        [Outcome::Pass, Outcome::Fail],
        "{shown}"
    );
    let d = report
        .checks
        .iter()
        .find(|c| c.outcome == Outcome::Fail)
        .unwrap()
        .diagnosis
        .clone()
        .unwrap();
    assert_eq!(d.code, Some(500), "{d:#?}");
    assert!(d.message.contains("conversion webhook"), "{}", d.message);
    assert_eq!(d.request.verb.as_deref(), Some("list"));
    assert_eq!(
        d.request.url.as_deref(),
        Some(format!("/apis/{group}/v2/namespaces/{ns}/thingamajigs?limit=1").as_str())
    );
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("the access review allowed this request")),
        "{d:#?}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn the_report_is_json_and_junit_too() {
    let ns = env().namespace("formats").await.unwrap();
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let needs = Needs::new("ctl").watch(
        ResourceType::new("", "v1", "configmaps", "ConfigMap", true),
        Some(&ns),
    );
    let report = run(&sa.identity, &needs, &Options::default()).await;
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["name"], "ctl");
    assert_eq!(
        v["summary"],
        json!({"passed": 3, "failed": 3, "skipped": 1})
    );
    let access = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "access")
        .unwrap();
    assert_eq!(access["outcome"], "fail");
    assert_eq!(access["diagnosis"]["class"], "forbidden");
    assert_eq!(access["diagnosis"]["verb"], "get");
    assert_eq!(access["diagnosis"]["namespace"], ns);
    assert_eq!(access["need"], 1);
    assert!(v["fix"]["rbac"].as_str().unwrap().contains("kind: Role\n"));

    let mut xml = Vec::new();
    report
        .write(&mut xml, Format::Junit, &ReportOptions::default())
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="ctl" tests="7" skipped="1" errors="0" failures="3">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"classname="kubewhy.check.access""#), "{xml}");
    assert!(xml.contains(r#"type="forbidden""#), "{xml}");
}

/// `kubewhy explain --live` and `kubewhy check` read one discovery catalog with one nearest-name search, so a
/// typo gets the same suggestion from both: a transposition in a custom plural, and a four-letter core name where
/// a swap of two letters is one edit (the two former searches disagreed on both).
#[tokio::test]
async fn explain_live_and_check_suggest_the_same_name_for_one_typo() {
    let ns = env().namespace("samename").await.unwrap();
    let group = format!("{ns}.kubewhy.test");
    // A name no other test installs: the catalog is the whole cluster's.
    install_crd(&group, "flanges", "Flange", &[("v1", true)], json!({})).await;
    let admin = env().admin().await.unwrap();
    let mut live = kubewhy::live::Live::new(admin.clone());
    for (group, typo, want) in [
        (group.as_str(), "falnges", format!("flanges.{group}/v1")),
        ("", "pdos", "pods/v1".to_string()),
    ] {
        // `check`: the need's nearest served name.
        let needs = Needs::new("ctl").verbs(
            ResourceType::new(group, "v1", typo, "Typo", true),
            Some(&ns),
            [Verb::Get],
        );
        let report = run(&env().admin_identity(), &needs, &Options::default()).await;
        let d = check_named(&report, CheckKind::Served, typo)
            .diagnosis
            .clone()
            .unwrap();
        let kubewhy::Cause::NotServed(not_served) = &d.cause else {
            panic!("{:?}", d.cause)
        };
        let from_check = not_served
            .suggestions
            .first()
            .map(|s| {
                let name = kubewhy::vocab::resource_name(&s.plural, &s.group, None);
                format!("{name}/{}", s.version)
            })
            .unwrap_or_else(|| panic!("check suggested nothing for {typo}: {d:#?}"));

        // `explain --live`: the real 404 of the misspelled type, confirmed against discovery.
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", "Typo"), typo);
        let err = Api::<DynamicObject>::namespaced_with(admin.clone(), &ns, &ar)
            .list(&Default::default())
            .await
            .expect_err("the misspelled type is not served");
        let url = if group.is_empty() {
            format!("/api/v1/namespaces/{ns}/{typo}")
        } else {
            format!("/apis/{group}/v1/namespaces/{ns}/{typo}")
        };
        let mut d = kubewhy::diagnose_in(&err, Some(&kubewhy::url::parse_request("GET", &url)));
        live.enrich(&mut d).await;
        let from_live = d
            .notes
            .iter()
            .find_map(|n| match n {
                kubewhy::Note::Live(kubewhy::note::Live::Nearest { names, .. }) => {
                    names.first().cloned()
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("--live suggested nothing for {typo}: {:#?}", d.describe()));

        assert_eq!(from_check, want, "check, for {typo}");
        assert_eq!(from_live, want, "explain --live, for {typo}");
    }
}

/// CA data that holds the API server's own (leaf) certificate: kubectl (Go) trusts it, kube-rs (rustls) answers
/// `UnknownIssuer` — and `check` says which: the CA data is not a root (kube#1767).
#[tokio::test]
async fn ca_data_holding_the_server_s_own_certificate_is_named() {
    let state = env().state();
    let leaf = state.dir.join("apiserver.crt");
    assert!(
        leaf.exists(),
        "the control plane keeps its serving certificate at {}",
        leaf.display()
    );
    let kubeconfig = kubewhy_testenv::scratch_path("leaf-ca.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: {}\n",
            state.server,
            leaf.display(),
            state.admin_token
        ),
    )
    .unwrap();
    // Go accepts the leaf as a trust anchor.
    let (ok, out, err) = env()
        .kubectl_with(&kubeconfig, &["get", "--raw", "/version"], None)
        .unwrap();
    assert!(ok, "kubectl with the leaf as CA data: {out}{err}");

    let config = kubewhy::kubeconfig::load(Some(&kubeconfig), None)
        .await
        .unwrap();
    let report = preflight::run(&config, &Needs::new("ctl"), &Options::default())
        .await
        .unwrap();
    let reach = check_named(&report, CheckKind::Reach, "reachable");
    let d = reach.diagnosis.clone().expect("rustls refuses the leaf");
    assert_eq!(
        d.cause,
        kubewhy::Cause::Tls {
            failure: kubewhy::cause::TlsFailure::CaNotRoot
        },
        "{:#?}",
        d.describe()
    );
    assert!(
        d.describe().cause.contains("leaf or intermediate"),
        "{:#?}",
        d.describe()
    );
    assert!(d.summary().contains(&state.server), "{}", d.summary());
}
