//! How long `kubewhy check` takes for 50 needs on the local control plane (target: under 1 s), beside one
//! SelfSubjectAccessReview round trip and 50 sequential `kubectl auth can-i` calls (what a shell script would do).
//!
//! Run: `cargo bench -p kubewhy --features preflight --bench check`. The 50 needs are the first 50 served types that support list
//! and watch (namespaced ones in a fresh namespace, cluster-scoped ones cluster-wide), each with get, list and
//! watch, every fifth watched (probed live): 150 access reviews and 10 probes per check.

use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use kubewhy::needs::{Needs, ResourceType};
use kubewhy::preflight::{self, Options};
use kubewhy::rbac::{Subject, Verb};

const RUNS: usize = 10;

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms ({} runs)",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

#[tokio::main]
async fn main() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("bench-check").await.expect("a namespace");
    let sa = env
        .service_account(&ns, "bench")
        .await
        .expect("a ServiceAccount");
    let admin = env.admin().await.expect("an admin client");

    let discovery = Discovery::new(admin.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let mut types = Vec::new();
    for group in discovery.groups_alphabetical() {
        for (ar, caps) in group.recommended_resources() {
            if caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::WATCH) {
                let namespaced = caps.scope == Scope::Namespaced;
                types.push(ResourceType::new(
                    &ar.group,
                    &ar.version,
                    &ar.plural,
                    &ar.kind,
                    namespaced,
                ));
            }
        }
    }
    assert!(
        types.len() >= 50,
        "only {} listable types are served",
        types.len()
    );
    let mut needs = Needs::new("bench");
    for (i, rt) in types.into_iter().take(50).enumerate() {
        let namespace = rt.namespaced.then_some(ns.as_str());
        needs = if i % 5 == 0 {
            needs.watch(rt, namespace)
        } else {
            needs.verbs(rt, namespace, [Verb::Get, Verb::List, Verb::Watch])
        };
    }
    let yaml = needs
        .rbac_yaml(&Subject::from_username(&sa.identity.user))
        .expect("RBAC YAML");
    let (ok, _, err) = env
        .kubectl_with(env.kubeconfig(), &["apply", "-f", "-"], Some(&yaml))
        .expect("kubectl");
    assert!(ok, "applying the RBAC failed: {err}");

    let config = env.config_for(&sa.identity).await.expect("a config");
    let options = Options::default();
    // Until the RBAC is visible (informer), and as a warm-up.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let report = preflight::run(&config, &needs, &options)
            .await
            .expect("a report");
        if report.passed() {
            break;
        }
        assert!(Instant::now() < deadline, "the check did not pass:\n{}", {
            let mut text = Vec::new();
            report
                .write(
                    &mut text,
                    kubewhy::render::Format::Text,
                    &Default::default(),
                )
                .expect("writing to a Vec");
            String::from_utf8_lossy(&text).into_owned()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut passing = Vec::new();
    let mut checks = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = preflight::run(&config, &needs, &options)
            .await
            .expect("a report");
        passing.push(started.elapsed());
        assert!(report.passed());
        checks = report.checks.len();
    }

    // The failing path: a ServiceAccount with nothing (every review denied, every probe skipped).
    let nobody = env
        .service_account(&ns, "nobody")
        .await
        .expect("a ServiceAccount");
    let nobody_config = env.config_for(&nobody.identity).await.expect("a config");
    let mut failing = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = preflight::run(&nobody_config, &needs, &options)
            .await
            .expect("a report");
        failing.push(started.elapsed());
        assert_eq!(report.exit_code(), 1);
    }

    // One SelfSubjectAccessReview round trip (a connection already open).
    let ssars: Api<SelfSubjectAccessReview> = Api::all(sa.client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("list".into()),
                resource: Some("configmaps".into()),
                namespace: Some(ns.clone()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let mut single = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        ssars
            .create(&PostParams::default(), &review)
            .await
            .expect("a review");
        single.push(started.elapsed());
    }

    // 50 sequential `kubectl auth can-i` calls, one per need's first verb, as the ServiceAccount.
    let kubeconfig = kubewhy_testenv::scratch_path("bench.kubeconfig");
    env.write_kubeconfig(&sa.identity, Some(&ns), &kubeconfig)
        .expect("a kubeconfig");
    let started = Instant::now();
    for need in &needs.needs {
        let rt = &need.resource;
        let resource = if rt.group.is_empty() {
            rt.resource.clone()
        } else {
            format!("{}.{}", rt.resource, rt.group)
        };
        let (ok, out, err) = env
            .kubectl_with(&kubeconfig, &["auth", "can-i", "get", &resource], None)
            .expect("kubectl");
        assert!(
            ok && out.trim() == "yes",
            "kubectl auth can-i get {resource}: {out}{err}"
        );
    }
    let kubectl = started.elapsed();

    println!(
        "kubewhy check, 50 needs ({checks} checks: 150 access reviews, 10 probes) on the local control plane:"
    );
    println!("  all passing:          {}", stats(passing.clone()));
    println!("  all denied:           {}", stats(failing));
    println!("one SelfSubjectAccessReview round trip: {}", stats(single));
    println!(
        "50 sequential `kubectl auth can-i`: {:.0} ms ({:.1} ms per call)",
        kubectl.as_secs_f64() * 1000.0,
        kubectl.as_secs_f64() * 1000.0 / 50.0
    );
    let median = {
        let mut p = passing;
        p.sort();
        p[p.len() / 2]
    };
    println!(
        "target: under 1 s for 50 needs: {}",
        if median < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
