//! Watches that have gone quiet for good. A half-open connection (a VPN, NAT or load balancer dropped it without
//! a FIN or RST) leaves a watch waiting until kube's idle timeout, about 295 s (kube#1791). The API server sends a
//! BOOKMARK on every watch that asked for them (`allowWatchBookmarks=true`) about once a minute — the watch cache
//! schedules one per watcher every `defaultBookmarkFrequency` = 1 min (`k8s.io/apiserver` v0.36.3,
//! `pkg/storage/cacher/cacher.go`, `cache_watcher.go` `nextBookmarkTime`) — so a watch that delivers neither an
//! event nor a bookmark for longer than a minute plus slack is stalled. The default window is 70 s: 60 s between
//! bookmarks plus 10 s for a loaded server, so a freeze is detected within 70 s of its start (the last frame came
//! before it).
//!
//! The guard ends such a watch's body with a [`Stalled`] error, which kube-runtime's watcher reports
//! (`WatchFailed`) and answers by watching again from the last resourceVersion it saw: no event is lost (or, if
//! that version is too old, it lists again). Like Kopf (1.44, "reconnects after 70 seconds of inactivity"), it
//! expects bookmarks on every watch that asks for them: the watch cache serves every resource by default. On an
//! API server that serves a resource without its watch cache (`--watch-cache=false`), a quiet watch of it is
//! restarted every window, which costs one request and says so.
//!
//! Requests that get no response headers at all within the window end with [`NoResponse`] (the API server ends a
//! non-watch request after 60 s by itself, `--request-timeout`, so a window above that never cuts a live one).

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::BoxError;

/// The default stall window (see the module docs for why 70 s).
pub const DEFAULT_STALL_WINDOW: Duration = Duration::from_secs(70);

/// A watch delivered neither an event nor a bookmark within the stall window and was ended.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the watch of {path} delivered neither an event nor a bookmark for {}s; ended it so that it is watched again",
    idle.as_secs()
)]
pub struct Stalled {
    /// How long it was quiet.
    pub idle: Duration,
    /// The watched path (without the query).
    pub path: String,
}

/// No response (not even headers) arrived within the window.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no response from the API server within {}s", after.as_secs())]
pub struct NoResponse {
    /// How long it waited.
    pub after: Duration,
}

/// Whether a request is a watch that asked for bookmarks; its path when it is.
pub(super) fn bookmarked_watch(uri: &str) -> Option<String> {
    let (path, query) = uri.split_once('?')?;
    let mut watch = false;
    let mut bookmarks = false;
    for pair in query.split('&') {
        match pair {
            "watch=true" | "watch=1" => watch = true,
            "allowWatchBookmarks=true" | "allowWatchBookmarks=1" => bookmarks = true,
            _ => {}
        }
    }
    (watch && bookmarks).then(|| path.to_string())
}

/// What to do when a guarded watch stalls: record it where errors are matched to requests.
pub(super) type OnStall = Box<dyn Fn(&Stalled) + Send + Sync>;

/// A watch response body that ends with [`Stalled`] after a window without any data.
pub struct StallBody<B> {
    inner: Pin<Box<B>>,
    window: Duration,
    path: String,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    on_stall: Option<OnStall>,
    ended: bool,
}

impl<B> StallBody<B> {
    pub(super) fn new(inner: B, window: Duration, path: String, on_stall: OnStall) -> StallBody<B> {
        let now = Instant::now();
        StallBody {
            inner: Box::pin(inner),
            window,
            path,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + window)),
            on_stall: Some(on_stall),
            ended: false,
        }
    }
}

impl<B> Body for StallBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.last = Instant::now();
                this.timer.as_mut().reset(this.last + this.window);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                let stalled = Stalled {
                    idle: this.last.elapsed(),
                    path: this.path.clone(),
                };
                if let Some(on_stall) = this.on_stall.take() {
                    on_stall(&stalled);
                }
                this.ended = true;
                Poll::Ready(Some(Err(Box::new(stalled))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn only_watches_with_bookmarks_are_guarded() {
        assert_eq!(
            bookmarked_watch(
                "/apis/kube.rs/v1/documents?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=1"
            )
            .as_deref(),
            Some("/apis/kube.rs/v1/documents")
        );
        assert!(bookmarked_watch("/apis/kube.rs/v1/documents?&watch=true").is_none());
        assert!(bookmarked_watch("/apis/kube.rs/v1/documents?limit=500").is_none());
        assert!(bookmarked_watch("/api/v1/pods").is_none());
    }

    /// A body that yields its frames, then stays pending for ever (a frozen connection).
    struct Frozen(Vec<Bytes>);

    impl Body for Frozen {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.0.pop() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_watch_ends_after_the_window() {
        let stalls = std::sync::Arc::new(std::sync::Mutex::new(0));
        let counter = stalls.clone();
        let on_stall: OnStall = Box::new(move |_| *counter.lock().unwrap() += 1);
        let bookmark = Bytes::from_static(b"{\"type\":\"BOOKMARK\",\"object\":{}}\n");
        let mut body = StallBody::new(
            Frozen(vec![bookmark]),
            DEFAULT_STALL_WINDOW,
            "/api/v1/pods".into(),
            on_stall,
        );
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert!(
            body.frame().await.unwrap().is_ok(),
            "a frame restarts the window"
        );
        let quiet_from = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        let stalled = err.downcast_ref::<Stalled>().expect("a Stalled error");
        assert_eq!(stalled.idle, DEFAULT_STALL_WINDOW);
        assert_eq!(quiet_from.elapsed(), DEFAULT_STALL_WINDOW);
        assert!(body.frame().await.is_none(), "ended after the error");
        assert_eq!(*stalls.lock().unwrap(), 1);
    }
}
