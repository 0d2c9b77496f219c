//! The RBAC advisor against the real API server: a table of real misconfigurations, one namespace each. For every
//! case the denied request is made for real as the identity (a ServiceAccount with a TokenRequest token, or a
//! static-token user in a group); the RBAC objects are read from the cluster; the near-miss explanation must name
//! the right binding for the right reason; the chosen fix is applied with `kubectl` as admin (the JSON patch,
//! or the manifest); then `kubectl auth can-i` as the identity must answer yes, and the identity's
//! SelfSubjectRulesReview — in the case's namespace and in `default` — must show nothing new beyond the request
//! and what the fix says it also grants.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubewhy::Diagnosis;
use kubewhy::cause::Cause;
use kubewhy::rbac::advisor::{Difference, LookalikeWhy, RoleOutcome, ScopeMiss, Via};
use kubewhy::rbac::eval::{AccessTarget, aggregate};
use kubewhy::rbac::fix::{FixKind, RuleEdit, narrow_rule};
use kubewhy::rbac::{AccessRequest, Explanation, FetchError, Fix, Identity, NearMisses, fetch};
use kubewhy::trace::Inspector;
use kubewhy_testenv::{ControlPlane, scratch_path};

/// Who makes the request.
#[derive(Clone, Copy)]
enum Who {
    /// The ServiceAccount `ctl` of the case's namespace.
    ServiceAccount,
    /// The static-token user `bob`, in group `dev-team`.
    Bob,
}

struct Case {
    name: &'static str,
    /// Applied as admin; `{ns}` is the case's namespace, `{other}` a second one.
    setup: &'static str,
    who: Who,
    /// The request made for real: method, path (`{ns}`), body.
    method: &'static str,
    path: &'static str,
    body: &'static str,
    /// The binding the explanation must name (`{ns}`): a near miss, or a lookalike.
    binding: &'static str,
    /// The reason it must give.
    reason: fn(&Explanation) -> bool,
    /// The fix it must choose.
    fix: fn(&Fix) -> bool,
}

const SA: &str = "subjects: [{kind: ServiceAccount, name: ctl, namespace: '{ns}'}]";

fn first_differences(e: &Explanation) -> Vec<Difference> {
    match &e.near_misses[0].outcome {
        RoleOutcome::NoRuleGrants { closest, .. } => closest
            .first()
            .map(|c| c.differences.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn edit(f: &Fix) -> Option<&RuleEdit> {
    match &f.kind {
        FixKind::EditRule { edit, .. } => Some(edit),
        _ => None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "verb missing",
            setup: "kind: Role\nmetadata: {name: cm-reader, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-reads, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps?watch=true",
            body: "",
            binding: "ctl-reads",
            reason: |e| matches!(first_differences(e).as_slice(), [Difference::Verb { .. }]),
            fix: |f| matches!(edit(f), Some(RuleEdit::AddVerb { verb, .. }) if verb == "watch"),
        },
        Case {
            name: "resource misspelt (singular)",
            setup: "kind: Role\nmetadata: {name: cm-lister, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [configmap], verbs: [list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-lists, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-lister}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "ctl-lists",
            reason: |e| matches!(first_differences(e).as_slice(), [Difference::Resource { near: Some(n), .. }] if n == "configmap"),
            fix: |f| matches!(edit(f), Some(RuleEdit::ReplaceResource { .. })),
        },
        Case {
            name: "the core group for a CRD's resource",
            setup: "kind: Role\nmetadata: {name: doc-patcher, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [documents], verbs: [patch]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-patches, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: doc-patcher}\nSA\n",
            who: Who::ServiceAccount,
            method: "PATCH",
            path: "/apis/kube.rs/v1/namespaces/{ns}/documents/d1",
            body: "{}",
            binding: "ctl-patches",
            reason: |e| matches!(first_differences(e).as_slice(), [Difference::ApiGroup { listed }] if listed == &[""]),
            fix: |f| matches!(edit(f), Some(RuleEdit::ReplaceApiGroup { to, .. }) if to == "kube.rs"),
        },
        Case {
            name: "the subresource is not named",
            setup: "kind: ClusterRole\nmetadata: {name: '{ns}-docs'}\nrules: [{apiGroups: [kube.rs], resources: [documents], verbs: [get, list, watch, patch]}]\n---\n\
                    kind: ClusterRoleBinding\nmetadata: {name: '{ns}-docs'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: '{ns}-docs'}\nSA\n",
            who: Who::ServiceAccount,
            method: "PATCH",
            path: "/apis/kube.rs/v1/namespaces/{ns}/documents/d1/status",
            body: "{}",
            binding: "{ns}-docs",
            reason: |e| {
                matches!(
                    first_differences(e).as_slice(),
                    [Difference::Subresource { .. }]
                )
            },
            fix: |f| {
                matches!(
                    edit(f),
                    Some(RuleEdit::AddRule {
                        instead_of: Some(0),
                        ..
                    })
                )
            },
        },
        Case {
            name: "the binding is in another namespace",
            setup: "kind: Role\nmetadata: {name: cm-lister, namespace: '{other}'}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-lists, namespace: '{other}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-lister}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "ctl-lists",
            reason: |e| {
                matches!(
                    e.near_misses[0].scope,
                    Some(ScopeMiss::BindingInOtherNamespace { .. })
                ) && matches!(e.near_misses[0].outcome, RoleOutcome::Grants { .. })
            },
            fix: |f| matches!(f.kind, FixKind::NewRole { .. }),
        },
        Case {
            name: "a ClusterRole bound by a RoleBinding grants only in its namespace",
            setup: "kind: ClusterRole\nmetadata: {name: '{ns}-cm-lister'}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-lists, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: '{ns}-cm-lister'}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/configmaps",
            body: "",
            binding: "ctl-lists",
            reason: |e| {
                matches!(
                    e.near_misses[0].scope,
                    Some(ScopeMiss::ClusterRoleConfined {
                        request_namespace: None,
                        ..
                    })
                )
            },
            fix: |f| matches!(&f.kind, FixKind::NewBinding { object, .. } if object["kind"] == "ClusterRoleBinding"),
        },
        Case {
            name: "resourceNames cannot grant list",
            setup: "kind: Role\nmetadata: {name: app-config, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [configmaps], resourceNames: [app-config], verbs: [get, list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-config, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app-config}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "ctl-config",
            reason: |e| {
                matches!(
                    first_differences(e).as_slice(),
                    [Difference::ResourceNames { unnamed: true, .. }]
                )
            },
            fix: |f| matches!(edit(f), Some(RuleEdit::AddRule { .. })),
        },
        Case {
            name: "the roleRef names a role that does not exist",
            setup: "kind: RoleBinding\nmetadata: {name: ctl-edits, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-editor}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "ctl-edits",
            reason: |e| matches!(e.near_misses[0].outcome, RoleOutcome::NotFound),
            fix: |f| matches!(&f.kind, FixKind::CreateRole { role, .. } if role.name == "cm-editor"),
        },
        Case {
            name: "an aggregated ClusterRole whose labels select nothing",
            setup: "kind: ClusterRole\nmetadata: {name: '{ns}-aggregated'}\naggregationRule: {clusterRoleSelectors: [{matchLabels: {kubewhy.test/aggregate-to: '{ns}'}}]}\n---\n\
                    kind: ClusterRoleBinding\nmetadata: {name: '{ns}-aggregated'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: '{ns}-aggregated'}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "{ns}-aggregated",
            reason: |e| {
                matches!(
                    e.near_misses[0].outcome,
                    RoleOutcome::AggregationSelectsNothing { .. }
                )
            },
            fix: |f| {
                matches!(
                    &f.kind,
                    FixKind::CreateRole {
                        aggregated_into: Some(_),
                        ..
                    }
                )
            },
        },
        Case {
            name: "a ServiceAccount subject with the wrong namespace",
            setup: "kind: Role\nmetadata: {name: cm-lister, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-lists, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-lister}\n\
                    subjects: [{kind: ServiceAccount, name: ctl, namespace: default}]\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/configmaps",
            body: "",
            binding: "ctl-lists",
            reason: |e| {
                !e.is_named()
                    && matches!(&e.lookalikes[0].why, LookalikeWhy::ServiceAccountNamespace { subject_namespace, .. } if subject_namespace == "default")
            },
            fix: |f| matches!(f.kind, FixKind::AddSubject { .. }),
        },
        Case {
            name: "the ServiceAccount's name bound as a User",
            setup: "kind: ClusterRole\nmetadata: {name: '{ns}-cm-lister'}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [list]}]\n---\n\
                    kind: ClusterRoleBinding\nmetadata: {name: '{ns}-cm-lister'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: '{ns}-cm-lister'}\n\
                    subjects: [{kind: User, name: ctl, apiGroup: rbac.authorization.k8s.io}]\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/api/v1/configmaps",
            body: "",
            binding: "{ns}-cm-lister",
            reason: |e| matches!(&e.lookalikes[0].why, LookalikeWhy::Kind { kind } if kind == "User"),
            fix: |f| matches!(f.kind, FixKind::AddSubject { .. }),
        },
        Case {
            name: "an escalation denial",
            setup: "kind: Role\nmetadata: {name: role-writer, namespace: '{ns}'}\nrules: [{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [create, get]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: ctl-writes-roles, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: role-writer}\nSA\n",
            who: Who::ServiceAccount,
            method: "POST",
            path: "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            body: r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"secret-reader"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]}"#,
            binding: "ctl-writes-roles",
            reason: |e| {
                e.request.verb == "escalate"
                    && matches!(first_differences(e).as_slice(), [Difference::Verb { .. }])
            },
            fix: |f| matches!(edit(f), Some(RuleEdit::AddVerb { verb, .. }) if verb == "escalate"),
        },
        Case {
            name: "a denial through a group binding",
            setup: "kind: Role\nmetadata: {name: pod-reader, namespace: '{ns}'}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get, list]}]\n---\n\
                    kind: RoleBinding\nmetadata: {name: dev-team-reads, namespace: '{ns}'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}\n\
                    subjects: [{kind: Group, name: dev-team, apiGroup: rbac.authorization.k8s.io}]\n",
            who: Who::Bob,
            method: "GET",
            path: "/api/v1/namespaces/{ns}/pods?watch=true",
            body: "",
            binding: "dev-team-reads",
            reason: |e| {
                matches!(&e.near_misses[0].via, Via::Group { name } if name == "dev-team")
                    && matches!(first_differences(e).as_slice(), [Difference::Verb { .. }])
            },
            fix: |f| matches!(edit(f), Some(RuleEdit::AddVerb { verb, .. }) if verb == "watch"),
        },
        Case {
            name: "a non-resource URL misspelt",
            setup: "kind: ClusterRole\nmetadata: {name: '{ns}-metrics'}\nrules: [{nonResourceURLs: [/metric], verbs: [get]}]\n---\n\
                    kind: ClusterRoleBinding\nmetadata: {name: '{ns}-metrics'}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: '{ns}-metrics'}\nSA\n",
            who: Who::ServiceAccount,
            method: "GET",
            path: "/metrics",
            body: "",
            binding: "{ns}-metrics",
            reason: |e| matches!(first_differences(e).as_slice(), [Difference::NonResourceUrl { near: Some(n), .. }] if n == "/metric"),
            fix: |f| matches!(edit(f), Some(RuleEdit::AddNonResourceUrl { url, .. }) if url == "/metrics"),
        },
    ]
}

/// The identity the API server sees for a client (SelfSubjectReview).
async fn whoami(client: &kube::Client) -> Identity {
    let review: SelfSubjectReview = Api::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("SelfSubjectReview");
    let info = review.status.and_then(|s| s.user_info).expect("user info");
    Identity::new(
        info.username.unwrap_or_default(),
        info.groups.unwrap_or_default(),
    )
}

/// The identity's rules in a namespace (SelfSubjectRulesReview), as `verb group resource name` / `verb url` atoms.
async fn rules_in(client: &kube::Client, namespace: &str) -> BTreeSet<String> {
    let review: SelfSubjectRulesReview = Api::all(client.clone())
        .create(
            &PostParams::default(),
            &SelfSubjectRulesReview {
                spec: SelfSubjectRulesReviewSpec {
                    namespace: Some(namespace.into()),
                },
                ..Default::default()
            },
        )
        .await
        .expect("SelfSubjectRulesReview");
    let status = review.status.expect("status");
    assert!(
        !status.incomplete,
        "RBAC rules are complete: {:?}",
        status.evaluation_error
    );
    let mut out = BTreeSet::new();
    for r in status.resource_rules {
        out.extend(atoms(&PolicyRule {
            api_groups: r.api_groups,
            resources: r.resources,
            resource_names: r.resource_names,
            verbs: r.verbs,
            non_resource_urls: None,
        }));
    }
    for r in status.non_resource_rules {
        out.extend(atoms(&PolicyRule {
            non_resource_urls: r.non_resource_urls,
            verbs: r.verbs,
            ..PolicyRule::default()
        }));
    }
    out
}

fn atoms(rule: &PolicyRule) -> Vec<String> {
    let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in list(&rule.non_resource_urls) {
            out.push(format!("{verb} {url}"));
        }
        for group in list(&rule.api_groups) {
            for resource in list(&rule.resources) {
                let names = list(&rule.resource_names);
                if names.is_empty() {
                    out.push(format!("{verb} {group} {resource} *"));
                }
                for name in names {
                    out.push(format!("{verb} {group} {resource} {name}"));
                }
            }
        }
    }
    out
}

/// `kubectl auth can-i` for a request.
fn can_i_args(request: &AccessRequest) -> Vec<String> {
    let mut args = vec!["auth".to_string(), "can-i".into(), request.verb.clone()];
    match &request.target {
        AccessTarget::NonResource { path } => args.push(path.clone()),
        AccessTarget::Resource {
            group,
            resource,
            subresource,
            namespace,
            name,
        } => {
            let mut what = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            if let Some(n) = name {
                what = format!("{what}/{n}");
            }
            args.push(what);
            if let Some(sub) = subresource {
                args.push(format!("--subresource={sub}"));
            }
            match namespace {
                Some(ns) => args.extend(["-n".into(), ns.clone()]),
                None => args.push("--all-namespaces".into()),
            }
        }
    }
    args
}

fn kubectl(
    env: &ControlPlane,
    kubeconfig: &std::path::Path,
    args: &[String],
    stdin: Option<&str>,
) -> (bool, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = env
        .kubectl_with(kubeconfig, &args, stdin)
        .expect("running kubectl");
    (ok, format!("{out}{err}"))
}

/// Applies the fix as admin: the JSON patch with `kubectl patch`, or the remedy's manifest with `kubectl apply`
/// (the object to create, or today's new role). The remedy shows the same patch as a command.
fn apply_fix(env: &ControlPlane, fix: &Fix, diagnosis: &Diagnosis) {
    let remedy = diagnosis.remedy();
    if let Some(args) = fix.kubectl_patch() {
        assert!(
            remedy
                .commands
                .first()
                .is_some_and(|c| c.starts_with("kubectl patch ")),
            "the remedy shows the patch: {remedy:#?}"
        );
        let (ok, out) = kubectl(env, env.kubeconfig(), &args, None);
        assert!(ok, "kubectl {args:?} failed: {out}");
        return;
    }
    assert!(
        !matches!(fix.kind, FixKind::ClientGroup { .. }),
        "not an RBAC fix: {fix:?}"
    );
    let manifest = remedy.yaml.expect("the remedy's manifest");
    let (ok, out) = kubectl(
        env,
        env.kubeconfig(),
        &["apply".into(), "-f".into(), "-".into()],
        Some(&manifest),
    );
    assert!(ok, "kubectl apply failed: {out}\n{manifest}");
}

/// The diagnosis as `kubewhy` prints it.
fn rendered(d: &Diagnosis) -> String {
    let mut out = Vec::new();
    kubewhy::render::text::write_diagnosis(&mut out, d, &kubewhy::render::TextOptions::default())
        .expect("rendering to memory");
    String::from_utf8_lossy(&out).into_owned()
}

/// Plays the aggregation controller (the local control plane runs no kube-controller-manager): writes into every
/// aggregated ClusterRole the rules its selectors collect.
async fn aggregate_cluster_roles(admin: &kube::Client) {
    let api: Api<ClusterRole> = Api::all(admin.clone());
    let all = api
        .list(&Default::default())
        .await
        .expect("listing ClusterRoles")
        .items;
    for role in &all {
        if let Some(agg) = aggregate(role, &all) {
            let name = role.metadata.name.as_deref().unwrap_or_default();
            api.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "rules": agg.rules })),
            )
            .await
            .unwrap_or_else(|e| panic!("aggregating {name}: {e}"));
        }
    }
}

/// Serves `documents.kube.rs` (with a status subresource): `kubectl auth can-i` resolves a resource through
/// discovery, and asks about group `""` and resource `documents.kube.rs` for a type the server does not serve.
async fn serve_documents(admin: &kube::Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "documents.kube.rs"},
        "spec": {
            "group": "kube.rs",
            "names": {"kind": "Document", "plural": "documents"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .expect("a CRD");
    match Api::<CustomResourceDefinition>::all(admin.clone())
        .create(&PostParams::default(), &crd)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating the Document CRD: {e}"),
    }
    kubewhy_testenv::crd::wait_established(admin, "documents.kube.rs", Duration::from_secs(30))
        .await
        .expect("the Document CRD is served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_misses_on_a_real_cluster() {
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.expect("admin client");
    serve_documents(&admin).await;
    let started = Instant::now();
    let cases = cases();
    assert!(cases.len() >= 12);
    let mut report = String::new();
    for (i, case) in cases.iter().enumerate() {
        let case_started = Instant::now();
        let ns = env
            .namespace(&format!("rbac-{i}"))
            .await
            .expect("namespace");
        let other = env
            .namespace(&format!("rbac-{i}-other"))
            .await
            .expect("namespace");
        let fill = |s: &str| s.replace("{ns}", &ns).replace("{other}", &other);
        let identity = match case.who {
            Who::ServiceAccount => {
                env.service_account(&ns, "ctl")
                    .await
                    .expect("ServiceAccount")
                    .identity
            }
            Who::Bob => env.user_identity("bob").expect("bob"),
        };
        let setup: String = fill(&case.setup.replace("\nSA\n", &format!("\n{SA}\n")))
            .lines()
            .map(|l| match l.strip_prefix("kind: ") {
                Some(_) => format!("apiVersion: rbac.authorization.k8s.io/v1\n{l}\n"),
                None => format!("{l}\n"),
            })
            .collect();
        let (ok, out) = kubectl(
            env,
            env.kubeconfig(),
            &["apply".into(), "-f".into(), "-".into()],
            Some(&setup),
        );
        assert!(ok, "{}: setting up failed: {out}\n{setup}", case.name);

        // The denial, for real, through the request inspector.
        let (client, inspector) =
            Inspector::new_client(env.config_for(&identity).await.expect("config"))
                .expect("client");
        let path = fill(case.path);
        let http = http::Request::builder()
            .method(case.method)
            .uri(&path)
            .header(
                "content-type",
                if case.method == "PATCH" {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                },
            )
            .body(case.body.as_bytes().to_vec())
            .expect("request");
        let err = match client.request_text(http).await {
            Err(e @ kube::Error::Api(_)) => e,
            other => panic!("{}: expected a 403, got {other:?}", case.name),
        };
        let mut diagnosis = kubewhy::diagnose_in(&err, inspector.request_for(&err).as_ref());
        assert_eq!(diagnosis.code, Some(403), "{}: {diagnosis:?}", case.name);
        let used = inspector.used();
        assert_eq!(
            used.permissions.iter().map(|p| p.denied).sum::<u64>()
                + used.paths.iter().map(|p| p.denied).sum::<u64>(),
            1,
            "{}: the recorder saw the denial: {used:?}",
            case.name
        );
        // The groups the API server gives the identity (what `--as-group` would name): a denial's message has none.
        let who = whoami(&client).await;
        assert_eq!(who.user, identity.user);
        diagnosis.groups = who.groups.clone();

        // The near miss, from the cluster's RBAC objects (read as admin), carried by the diagnosis' cause.
        let near_misses = NearMisses::new(admin.clone());
        assert!(
            near_misses.explain(&mut diagnosis).await,
            "{}: no near miss for {diagnosis:#?}",
            case.name
        );
        let near = match &diagnosis.cause {
            Cause::Denied(denial) => denial.near_miss.clone(),
            Cause::Escalation { near_miss, .. } => near_miss.clone(),
            other => panic!("{}: not a denial: {other:?}", case.name),
        }
        .expect("a near miss");
        let (explanation, chosen) = (
            near.explanation.clone(),
            near.fix
                .clone()
                .unwrap_or_else(|| panic!("{}: no fix: {near:#?}", case.name)),
        );
        let request = explanation.request.clone();
        let shown = format!(
            "{}\n{}",
            rendered(&diagnosis),
            serde_yaml::to_string(&(
                &explanation.near_misses.first(),
                &explanation.lookalikes.first(),
                &chosen,
            ))
            .expect("YAML")
        );
        let binding = fill(case.binding);
        let named = explanation.near_misses.first().map(|m| &m.binding.name) == Some(&binding)
            || (!explanation.is_named()
                && explanation.lookalikes.first().map(|l| &l.binding.name) == Some(&binding));
        assert!(named, "{}: expected binding {binding}:\n{shown}", case.name);
        assert!(
            (case.reason)(&explanation),
            "{}: wrong reason:\n{shown}",
            case.name
        );
        assert!((case.fix)(&chosen), "{}: wrong fix:\n{shown}", case.name);

        // Apply it; `kubectl auth can-i` as the identity says yes; the rules review shows nothing else new.
        let kubeconfig = scratch_path(&format!("rbac-matrix-{i}.kubeconfig"));
        env.write_kubeconfig(&identity, Some(&ns), &kubeconfig)
            .expect("kubeconfig");
        let can_i = can_i_args(&request);
        let (before, out) = kubectl(env, &kubeconfig, &can_i, None);
        assert!(
            !before,
            "{}: can-i said yes before the fix: {out}",
            case.name
        );
        let rules_before = (
            rules_in(&client, &ns).await,
            rules_in(&client, "default").await,
        );
        apply_fix(env, &chosen, &diagnosis);
        if matches!(
            chosen.kind,
            FixKind::CreateRole {
                aggregated_into: Some(_),
                ..
            }
        ) {
            aggregate_cluster_roles(&admin).await;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let waited = loop {
            let (yes, out) = kubectl(env, &kubeconfig, &can_i, None);
            if yes {
                break case_started.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "{}: can-i still says no 30 s after the fix: {out}\n{shown}",
                case.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let expected: BTreeSet<String> = std::iter::once(narrow_rule(&request))
            .chain(chosen.also_grants.iter().cloned())
            .flat_map(|r| atoms(&PolicyRule::from(&r)))
            .collect();
        let rules_after = (
            rules_in(&client, &ns).await,
            rules_in(&client, "default").await,
        );
        let new_here: BTreeSet<_> = rules_after.0.difference(&rules_before.0).cloned().collect();
        let new_elsewhere: BTreeSet<_> =
            rules_after.1.difference(&rules_before.1).cloned().collect();
        assert!(
            !(new_here.is_empty() && new_elsewhere.is_empty()),
            "{}: the rules review shows nothing new\n{shown}",
            case.name
        );
        assert!(
            new_here.is_subset(&expected) && new_elsewhere.is_subset(&expected),
            "{}: the fix granted {new_here:?} in {ns} and {new_elsewhere:?} in default, expected only {expected:?}\n{shown}",
            case.name
        );
        if request.namespace().is_some() && !chosen.all_namespaces {
            assert!(
                new_elsewhere.is_empty(),
                "{}: the fix granted {new_elsewhere:?} outside {ns}",
                case.name
            );
        }
        if case.method == "POST" {
            // The escalation case: the request that was refused now goes through.
            let http = http::Request::builder()
                .method(case.method)
                .uri(&path)
                .header("content-type", "application/json")
                .body(case.body.as_bytes().to_vec())
                .expect("request");
            client
                .request_text(http)
                .await
                .unwrap_or_else(|e| panic!("{}: still refused: {e}", case.name));
        }
        let kind = serde_json::to_value(&chosen.kind)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_string))
            .unwrap_or_default();
        report.push_str(&format!(
            "case {i:>2} {:<66} {kind:<10} edit={:<5} all-ns={:<5} new here={new_here:?} in default={new_elsewhere:?} \
             can-i yes after {:.1}s\n",
            case.name,
            chosen.is_edit(),
            chosen.all_namespaces,
            waited.as_secs_f64()
        ));
        println!("--- case {i}: {}\n{shown}", case.name);
    }
    println!(
        "{report}{} cases in {:.1}s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn reading_rbac_without_permission_says_so_once() {
    let env = kubewhy_testenv::shared();
    let alice = env.user("alice").await.expect("alice");
    match fetch(&alice).await {
        Err(FetchError::NotPermitted { denied, user }) => {
            assert_eq!(
                denied,
                [
                    "roles",
                    "clusterroles",
                    "rolebindings",
                    "clusterrolebindings"
                ]
            );
            assert_eq!(user.as_deref(), Some("alice"));
            let text = FetchError::NotPermitted { denied, user }.to_string();
            assert!(
                text.contains("`alice`") && text.contains("kubectl auth can-i list rolebindings"),
                "{text}"
            );
        }
        other => panic!("expected NotPermitted, got {other:?}"),
    }
}
