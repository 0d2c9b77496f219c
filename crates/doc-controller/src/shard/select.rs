//! Server-side sharding on the wire: kube-rs 5's `ListParams`/`WatchParams` have no `shardSelector`, so a small
//! tower layer on doc-controller's client adds it to the list and watch requests of the Documents collection — and
//! only those (a GET of one Document, a patch or anything else passes unchanged). The selector is shared state: the
//! Documents watcher sets it just before it (re)starts for new ranges, so every request of one watch uses the same.

use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use http::{Method, Request, Uri};
use tower::{Layer, Service};

/// The `shardSelector` the Documents watch sends now (`None`: no parameter).
#[derive(Debug, Clone, Default)]
pub struct ShardSelector(Arc<RwLock<Option<String>>>);

impl ShardSelector {
    /// Sets (or clears) the selector for the next requests.
    pub fn set(&self, selector: Option<String>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = selector;
    }

    /// The selector now.
    pub fn get(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The layer that adds it to list/watch requests of the collection `group`/`plural` (e.g. `kube.rs`,
    /// `documents`), in any version and namespace.
    pub fn layer(&self, group: &str, plural: &str) -> ShardSelectorLayer {
        ShardSelectorLayer {
            selector: self.clone(),
            group: Arc::from(group),
            plural: Arc::from(plural),
        }
    }
}

/// Adds the current [`ShardSelector`] to the collection reads of one resource.
#[derive(Debug, Clone)]
pub struct ShardSelectorLayer {
    selector: ShardSelector,
    group: Arc<str>,
    plural: Arc<str>,
}

impl<S> Layer<S> for ShardSelectorLayer {
    type Service = ShardSelectorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShardSelectorService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ShardSelectorLayer`].
#[derive(Debug, Clone)]
pub struct ShardSelectorService<S> {
    inner: S,
    layer: ShardSelectorLayer,
}

impl<S, B> Service<Request<B>> for ShardSelectorService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if req.method() == Method::GET
            && is_collection(req.uri().path(), &self.layer.group, &self.layer.plural)
            && let Some(selector) = self.layer.selector.get()
            && let Some(uri) = with_param(req.uri(), "shardSelector", &selector)
        {
            *req.uri_mut() = uri;
        }
        self.inner.call(req)
    }
}

/// Whether `path` is the collection `/apis/<group>/<version>/[namespaces/<ns>/]<plural>`.
fn is_collection(path: &str, group: &str, plural: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", g, _version, p] => *g == group && *p == plural,
        ["apis", g, _version, "namespaces", _ns, p] => *g == group && *p == plural,
        _ => false,
    }
}

/// `uri` with `name=value` added to its query (form-encoded, as kube encodes its own parameters).
pub fn with_param(uri: &Uri, name: &str, value: &str) -> Option<Uri> {
    let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let path_and_query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}&{name}={encoded}", uri.path()),
        _ => format!("{}?{name}={encoded}", uri.path()),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[test]
    fn only_collection_reads_of_the_resource_match() {
        assert!(is_collection(
            "/apis/kube.rs/v1/documents",
            "kube.rs",
            "documents"
        ));
        assert!(is_collection(
            "/apis/kube.rs/v1/namespaces/a/documents",
            "kube.rs",
            "documents"
        ));
        assert!(!is_collection(
            "/apis/kube.rs/v1/namespaces/a/documents/one",
            "kube.rs",
            "documents"
        ));
        assert!(!is_collection(
            "/apis/kube.rs/v1/namespaces/a/documents/one/status",
            "kube.rs",
            "documents"
        ));
        assert!(!is_collection("/api/v1/configmaps", "kube.rs", "documents"));
    }

    #[tokio::test]
    async fn the_layer_adds_the_selector_to_list_and_watch_only() {
        let selector = ShardSelector::default();
        let svc = tower::service_fn(|req: Request<()>| async move {
            Ok::<_, Infallible>(req.uri().to_string())
        });
        let mut svc = selector.layer("kube.rs", "documents").layer(svc);
        let call = |svc: &mut ShardSelectorService<_>, method: Method, uri: &str| {
            let req = Request::builder().method(method).uri(uri).body(()).unwrap();
            svc.call(req)
        };
        let watch = "/apis/kube.rs/v1/documents?&watch=true&resourceVersion=5";
        assert_eq!(call(&mut svc, Method::GET, watch).await.unwrap(), watch);
        selector.set(Some(
            "shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')".into(),
        ));
        assert_eq!(
            call(&mut svc, Method::GET, watch).await.unwrap(),
            "/apis/kube.rs/v1/documents?&watch=true&resourceVersion=5&shardSelector=shardRange%28object.metadata.uid%2C+%270x0000000000000000%27%2C+%270x8000000000000000%27%29"
        );
        assert!(
            call(&mut svc, Method::GET, "/apis/kube.rs/v1/namespaces/a/documents")
                .await
                .unwrap()
                .ends_with("documents?shardSelector=shardRange%28object.metadata.uid%2C+%270x0000000000000000%27%2C+%270x8000000000000000%27%29")
        );
        let one = "/apis/kube.rs/v1/namespaces/a/documents/one";
        assert_eq!(call(&mut svc, Method::GET, one).await.unwrap(), one);
        let patch = "/apis/kube.rs/v1/namespaces/a/documents/one/status?fieldManager=x";
        assert_eq!(call(&mut svc, Method::PATCH, patch).await.unwrap(), patch);
    }
}
