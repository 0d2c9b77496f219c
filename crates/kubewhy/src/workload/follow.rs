//! `--follow`: keeps reading the logs of a workload's running containers after the report, and hands on each
//! failure not seen before (in the report or since) as soon as it appears, confirmed live like the report's.

use std::collections::HashMap;

use futures::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use tokio::sync::mpsc;

use super::confirm::confirm_one;
use super::logs::{LogJob, Stamps};
use super::merge::{Merger, Origin, key};
use super::{Found, Report, Standing};
use crate::live::Live;
use crate::scan::{Finding, Scanner};

/// The window the scanner of a followed log reads with: it is handed a few lines at a time.
const WINDOW: usize = 64 << 10;

/// Follows the logs of `report`'s running containers from when the report started reading, and calls `on_new`
/// with each failure the report did not hold, once, as it appears. Returns when every followed log has ended (its
/// pod is gone); a log that cannot be followed is reported through `on_error` (`pod/container`, why) and the others
/// go on.
pub async fn follow(
    client: &kube::Client,
    report: &Report,
    mut on_new: impl FnMut(&Found),
    mut on_error: impl FnMut(&str, &str),
) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &report.namespace);
    let identity_of_pod: HashMap<String, String> = report
        .pods
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                format!(
                    "system:serviceaccount:{}:{}",
                    report.namespace, p.service_account
                ),
            )
        })
        .collect();
    let jobs: Vec<LogJob> = report
        .pods
        .iter()
        .filter(|p| p.phase == "Running")
        .flat_map(|p| {
            p.containers.iter().map(|c| LogJob {
                pod: p.name.clone(),
                container: c.clone(),
                previous: false,
            })
        })
        .collect();
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    let since = k8s_openapi::jiff::Timestamp::from_second(report.read_at).ok();
    let followers: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let api = api.clone();
            let tx = tx.clone();
            async move { follow_one(&api, job, since, tx).await }
        })
        .collect();
    // The consumer ends when every follower has dropped its sender.
    drop(tx);
    let tasks = futures::future::join_all(followers);

    let mut known = report.keys.clone();
    let mut live = Live::new(client.clone());
    let consume = async {
        while let Some(event) = rx.recv().await {
            match event {
                Event::Failed { source, why } => on_error(&source, &why),
                Event::Found { pod, finding } => {
                    // The report's keys were taken before live confirmation changed its findings.
                    if !known.insert(key(&finding.diagnosis)) {
                        continue;
                    }
                    let mut merger = Merger::default();
                    let at = k8s_openapi::jiff::Timestamp::now().as_second();
                    merger.add(
                        *finding,
                        Origin::Log {
                            pod: &pod,
                            previous: false,
                        },
                        Some(at),
                    );
                    for finding in merger.into_findings(&report.target, report.read.pods, at) {
                        let mut found = Found {
                            finding,
                            standing: Standing::Unconfirmed,
                        };
                        confirm_one(&mut live, &mut found, &identity_of_pod).await;
                        on_new(&found);
                    }
                }
            }
        }
    };
    futures::join!(tasks, consume);
}

/// What a followed log tells the consumer.
enum Event {
    /// A failure, not yet compared with those known.
    Found { pod: String, finding: Box<Finding> },
    /// The log could not be followed.
    Failed { source: String, why: String },
}

/// Follows one container's log, scanning it a few lines at a time.
async fn follow_one(
    api: &Api<Pod>,
    job: LogJob,
    since: Option<k8s_openapi::jiff::Timestamp>,
    tx: mpsc::Sender<Event>,
) {
    let source = job.source();
    let params = LogParams {
        container: Some(job.container.clone()),
        follow: true,
        since_time: since,
        timestamps: true,
        ..LogParams::default()
    };
    let mut stream = match api.log_stream(&job.pod, &params).await {
        Ok(s) => s,
        Err(e) => {
            let why = crate::diagnose::diagnose(&e).summary();
            // The consumer is gone only when following was stopped: nobody is left to tell.
            let _ = tx.send(Event::Failed { source, why }).await;
            return;
        }
    };
    // Small chunks, in an async task: scanned on this thread, no workers.
    let mut scanner = Scanner::with_window(WINDOW).with_threads(0);
    let mut stamps = Stamps::default();
    let mut pending = Vec::new();
    let mut lines_before = 0u64;
    loop {
        let buf = match stream.fill_buf().await {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) => {
                let why = format!("the log stream broke off: {e}");
                // The consumer is gone only when following was stopped: nobody is left to tell.
                let _ = tx.send(Event::Failed { source, why }).await;
                return;
            }
        };
        let n = buf.len();
        stamps.strip(buf, &mut pending);
        stream.consume_unpin(n);
        // Whole lines only: a message is never cut in two.
        let Some(end) = memchr::memrchr(b'\n', &pending) else {
            continue;
        };
        let known = scanner.findings().len();
        let lines = pending[..=end].iter().filter(|&&b| b == b'\n').count() as u64;
        if let Err(e) = scanner.read(&source, &pending[..=end]) {
            // Reading from memory cannot fail; were it to, following goes on with the next lines.
            tracing::warn!(source, error = %e, "scanning followed lines failed");
        }
        pending.drain(..=end);
        for f in &scanner.findings()[known..] {
            let mut finding = f.clone();
            finding.first_line += lines_before;
            finding.last_line += lines_before;
            let event = Event::Found {
                pod: job.pod.clone(),
                finding: Box::new(finding),
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
        lines_before += lines;
    }
}
