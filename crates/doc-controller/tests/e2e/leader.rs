//! Two replicas with leader election: exactly one reconciles; when the leader is killed the standby takes over once
//! the Lease expires; when the leader gets SIGTERM it releases the Lease and the standby takes over at once.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;

use crate::harness::*;

const SUCCESS: &str = "doc_controller_reconciles_total{result=\"success\"}";

async fn holder(admin: &Client, ns: &str, lease: &str) -> Option<String> {
    let lease = Api::<Lease>::namespaced(admin.clone(), ns)
        .get_opt(lease)
        .await
        .ok()??;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

async fn wait_holder(admin: &Client, ns: &str, lease: &str, who: &str, timeout: Duration) {
    eventually(
        &format!("Lease {ns}/{lease} to be held by {who}"),
        timeout,
        // The holder is the replica's name and a per-process id (`replica-a_0123…`).
        || async {
            let holder = holder(admin, ns, lease).await?;
            holder.starts_with(&format!("{who}_")).then_some(())
        },
    )
    .await;
}

fn replica(name: &str, ns: &str, lease_timing: &[&str]) -> Controller {
    let env = kubewhy_testenv::shared();
    let mut args = vec![
        "--namespace",
        ns,
        "--leader-elect",
        "--lease-namespace",
        ns,
        "--lease-name",
        "doc-controller",
        "--identity",
        name,
    ];
    args.extend_from_slice(lease_timing);
    Controller::start(name, env.kubeconfig(), &args)
}

#[tokio::test]
async fn one_leader_reconciles_and_a_killed_leader_is_replaced_after_the_lease_expires() {
    let (admin, ns) = setup("leader-kill").await;
    let timing = [
        "--lease-duration",
        "3s",
        "--lease-renew-deadline",
        "2s",
        "--lease-retry-period",
        "200ms",
    ];
    let mut a = replica("replica-a", &ns, &timing);
    wait_holder(
        &admin,
        &ns,
        "doc-controller",
        "replica-a",
        Duration::from_secs(20),
    )
    .await;
    let b = replica("replica-b", &ns, &timing);
    let standby = b.wait_ready().await;
    assert!(
        standby.contains("standby: Lease") && standby.contains("held by replica-a"),
        "{standby}"
    );

    for name in ["one", "two"] {
        create(&admin, &ns, &document(name, name, false, false)).await;
    }
    for name in ["one", "two"] {
        wait_doc(&admin, &ns, name, "Ready", Duration::from_secs(20), |d| {
            d.is_ready()
        })
        .await;
    }
    assert!(a.metric(SUCCESS).await >= 2.0);
    assert_eq!(a.metric("doc_controller_leader").await, 1.0);
    assert_eq!(b.metric(SUCCESS).await, 0.0, "the standby reconciled");
    assert_eq!(b.metric("doc_controller_leader").await, 0.0);

    // SIGKILL: no release; the standby waits for the Lease to expire (3 s after the last renewal it saw).
    let killed = Instant::now();
    a.sigkill();
    wait_holder(
        &admin,
        &ns,
        "doc-controller",
        "replica-b",
        Duration::from_secs(20),
    )
    .await;
    let took = killed.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "took over after {took:?}, before the Lease expired"
    );
    assert!(
        took < Duration::from_secs(10),
        "took over only after {took:?}"
    );
    create(&admin, &ns, &document("three", "three", false, false)).await;
    wait_doc(
        &admin,
        &ns,
        "three",
        "Ready under the new leader",
        Duration::from_secs(20),
        |d| d.is_ready(),
    )
    .await;
    assert!(b.metric(SUCCESS).await >= 1.0);
    assert_eq!(b.metric("doc_controller_leader").await, 1.0);
}

#[tokio::test]
async fn sigterm_releases_the_lease_and_the_standby_takes_over_at_once() {
    let (admin, ns) = setup("leader-term").await;
    // A long Lease: a hand-over that waited for it to expire would take 15 s.
    let timing = [
        "--lease-duration",
        "15s",
        "--lease-renew-deadline",
        "10s",
        "--lease-retry-period",
        "200ms",
    ];
    let mut a = replica("replica-a", &ns, &timing);
    wait_holder(
        &admin,
        &ns,
        "doc-controller",
        "replica-a",
        Duration::from_secs(20),
    )
    .await;
    let b = replica("replica-b", &ns, &timing);
    b.wait_ready().await;
    create(&admin, &ns, &document("before", "before", false, false)).await;
    wait_doc(
        &admin,
        &ns,
        "before",
        "Ready",
        Duration::from_secs(20),
        |d| d.is_ready(),
    )
    .await;
    assert_eq!(b.metric(SUCCESS).await, 0.0, "the standby reconciled");

    let terminated = Instant::now();
    a.sigterm();
    let status = a.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "the leader exited with {status} on SIGTERM"
    );
    wait_holder(
        &admin,
        &ns,
        "doc-controller",
        "replica-b",
        Duration::from_secs(20),
    )
    .await;
    let took = terminated.elapsed();
    assert!(took < Duration::from_secs(3), "hand-over took {took:?}");
    let released = a
        .logs()
        .iter()
        .any(|l| l.json["fields"]["message"] == "released the Lease");
    assert!(
        released,
        "the leader did not log that it released the Lease"
    );

    create(&admin, &ns, &document("after", "after", false, false)).await;
    wait_doc(
        &admin,
        &ns,
        "after",
        "Ready under the new leader",
        Duration::from_secs(20),
        |d| d.is_ready(),
    )
    .await;
    assert!(b.metric(SUCCESS).await >= 1.0);
}
