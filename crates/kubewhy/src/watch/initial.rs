//! How a watcher lists at start: a streaming list (one watch with `sendInitialEvents=true`, the objects arriving one
//! by one until a bookmark annotated `k8s.io/initial-events-end`), pages of a LIST then a watch, or `auto`: stream
//! when the server can, else page — as client-go's reflector does, which kube-rs 5 does not (its
//! `streaming_lists()` retries a 422 `sendInitialEvents is forbidden` for ever at DEBUG, and waits for ever for an
//! initial-events-end bookmark that never comes).
//!
//! `auto` falls back to pages, once and for the rest of the watcher's life, when the server answers the streaming
//! watch with that 422 (the WatchList feature is off), or when the streaming list makes no progress (no object, no
//! end mark) for [`STREAM_PROGRESS_TIMEOUT`]. It says so once, at INFO with the reason, and in
//! `kubewhy_watcher_initial_list{watcher,strategy}`. A resumed watch never asks for initial events: kube-runtime
//! 5 sends `sendInitialEvents=true` only on a watch that starts from nothing (kube PR #1882).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::Api;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::stream::{Watch, WatchStreamDiagnoseExt};
use crate::cause::Cause;
use crate::metrics::InitialListLabels;
use crate::note::Note;

/// How long a streaming list may go without an object or its end mark before `auto` lists in pages instead. The
/// API server streams a list as fast as it encodes it; a quarter minute without anything is a server or proxy that
/// does not finish streaming lists.
pub const STREAM_PROGRESS_TIMEOUT: Duration = Duration::from_secs(15);

/// How a watcher lists at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialList {
    /// Stream when the server can, else list in pages (the default).
    #[default]
    Auto,
    /// Always stream (`sendInitialEvents=true`); fails where the server cannot.
    Stream,
    /// Always list in pages of 500, then watch.
    Paged,
}

impl FromStr for InitialList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(InitialList::Auto),
            "stream" => Ok(InitialList::Stream),
            "paged" => Ok(InitialList::Paged),
            other => Err(format!(
                "{other:?} is not an initial-list strategy (expected `auto`, `stream` or `paged`)"
            )),
        }
    }
}

impl fmt::Display for InitialList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitialList::Auto => "auto",
            InitialList::Stream => "stream",
            InitialList::Paged => "paged",
        })
    }
}

type Events<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

impl Watch {
    /// The watcher of `api`: listed at start as `initial` says, diagnosed and reported as
    /// [`WatchStreamDiagnoseExt::diagnosed`] does.
    ///
    /// ```no_run
    /// # async fn demo(client: kube::Client) {
    /// use kube::runtime::watcher;
    /// use kubewhy::watch::{Health, InitialList, Policy, Watch};
    /// let health = Health::new(Policy::in_cluster());
    /// let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(client);
    /// let events = Watch::new("pods", &health).watcher(pods, watcher::Config::default(), InitialList::Auto);
    /// # }
    /// ```
    pub fn watcher<K>(self, api: Api<K>, config: watcher::Config, initial: InitialList) -> Events<K>
    where
        K: kube::Resource + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static,
    {
        events(api, config, initial, &self).diagnosed(self)
    }

    fn set_strategy(&self, strategy: &str) {
        if let Some(m) = self.health().metrics().as_ref() {
            for s in ["streaming", "paged"] {
                m.watcher_initial_list
                    .get_or_create(&InitialListLabels {
                        watcher: self.name().to_string(),
                        strategy: s.into(),
                    })
                    .set(i64::from(s == strategy));
            }
        }
    }
}

/// The raw events of `api`'s watcher (before [`WatchStreamDiagnoseExt::diagnosed`]), listed at start as `initial`
/// says; `watch` names it in the fallback's line and metric. For programs that build their watchers themselves
/// (restarting them as a share of the objects changes, say) and diagnose them after.
pub fn events<K>(
    api: Api<K>,
    config: watcher::Config,
    initial: InitialList,
    watch: &Watch,
) -> Events<K>
where
    K: kube::Resource + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static,
{
    match initial {
        InitialList::Stream => {
            watch.set_strategy("streaming");
            watcher::watcher(api, config.streaming_lists()).boxed()
        }
        InitialList::Paged => {
            watch.set_strategy("paged");
            watcher::watcher(api, paged(config)).boxed()
        }
        InitialList::Auto if watch.paged_only() => {
            watch.set_strategy("paged");
            watcher::watcher(api, paged(config)).boxed()
        }
        InitialList::Auto => auto(api, config, watch.clone()),
    }
}

fn paged(mut config: watcher::Config) -> watcher::Config {
    config.initial_list_strategy = watcher::InitialListStrategy::ListWatch;
    config
}

enum Mode<K> {
    /// Streaming, before its first end mark: falls back on a 422 or no progress.
    Trying(Events<K>),
    /// Streaming that finished once, or pages: passed through.
    Settled(Events<K>),
}

fn auto<K>(api: Api<K>, config: watcher::Config, watch: Watch) -> Events<K>
where
    K: kube::Resource + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static,
{
    watch.set_strategy("streaming");
    let mode =
        Mode::Trying(watcher::watcher(api.clone(), config.clone().streaming_lists()).boxed());
    futures::stream::unfold(
        (mode, api, config, watch),
        |(mode, api, config, watch)| async move {
            let mut mode = mode;
            loop {
                match mode {
                    Mode::Settled(mut inner) => {
                        let item = inner.next().await?;
                        return Some((item, (Mode::Settled(inner), api, config, watch)));
                    }
                    Mode::Trying(mut inner) => {
                        // Measured from this poll: the back-off between polls is not the server's time.
                        let waiting = Instant::now();
                        let item = tokio::select! {
                            item = inner.next() => item,
                            () = tokio::time::sleep(STREAM_PROGRESS_TIMEOUT) => {
                                let waited = waiting.elapsed().as_secs();
                                fall_back(&watch, Cause::NoInitialEventsEnd { waited_s: waited }, None);
                                mode = Mode::Settled(watcher::watcher(api.clone(), paged(config.clone())).boxed());
                                continue;
                            }
                        };
                        let item = item?;
                        let next = match &item {
                            Ok(watcher::Event::InitDone) => Mode::Settled(inner),
                            Ok(_) => Mode::Trying(inner),
                            Err(err) => {
                                let d = watch.diagnose(err);
                                if d.cause == Cause::WatchListDisabled {
                                    fall_back(&watch, Cause::WatchListDisabled, Some(d));
                                    mode = Mode::Settled(
                                        watcher::watcher(api.clone(), paged(config.clone())).boxed(),
                                    );
                                    continue;
                                }
                                Mode::Trying(inner)
                            }
                        };
                        return Some((item, (next, api, config, watch)));
                    }
                }
            }
        },
    )
    .boxed()
}

/// Says once why the watcher lists in pages now (and from now on, when it is made again).
fn fall_back(watch: &Watch, cause: Cause, diagnosis: Option<crate::Diagnosis>) {
    watch.set_strategy("paged");
    watch.set_paged_only();
    let mut d = diagnosis.unwrap_or_else(|| {
        let mut d = crate::Diagnosis::new(cause, "no progress in the streaming list");
        d.request.resource = Some(watch.name().to_string());
        d
    });
    d.notes.push(Note::StreamingListFallback);
    let described = d.describe();
    tracing::info!(
        target: "kubewhy::watch",
        watcher = watch.name(),
        cause = d.cause.kind(),
        "watcher {} lists in pages instead of streaming: {}; {}{}",
        watch.name(),
        described.summary,
        described.cause,
        described
            .notes
            .iter()
            .map(|n| format!("; note: {n}"))
            .collect::<String>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_and_print() {
        for s in ["auto", "stream", "paged"] {
            assert_eq!(s.parse::<InitialList>().unwrap().to_string(), s);
        }
        assert!("both".parse::<InitialList>().is_err());
    }
}
