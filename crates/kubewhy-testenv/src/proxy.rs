//! A loopback TCP proxy that can freeze: while frozen it forwards nothing in either direction and closes nothing —
//! what a half-open connection looks like to both ends (a VPN or NAT that dropped the path without a FIN or RST).
//! New connections are accepted and connected upstream but stay silent too. Thawing forwards what waited.
//!
//! It runs on a thread of its own (its own tokio runtime), so it keeps working whatever the test does meanwhile.
//!
//! ```no_run
//! # fn demo(cp: &kubewhy_testenv::ControlPlane) -> Result<(), kubewhy_testenv::Error> {
//! let proxy = kubewhy_testenv::proxy::Proxy::start(cp.server())?;
//! let server = proxy.url(); // https://127.0.0.1:<port>: the API server's certificate names 127.0.0.1
//! proxy.freeze();
//! proxy.thaw();
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Error;

/// A running proxy; stops (closing every connection) when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    frozen: watch::Sender<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// What went through.
#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`https://127.0.0.1:6443` or `127.0.0.1:6443`).
    pub fn start(upstream: &str) -> Result<Proxy, Error> {
        let hostport = upstream
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let upstream: SocketAddr = hostport.parse().map_err(|e| {
            Error::io(
                format!("the proxy's upstream {hostport:?} is not an address"),
                std::io::Error::other(e),
            )
        })?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::io("binding the proxy's port", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("setting the proxy's socket non-blocking", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the proxy's address", e))?;
        let (frozen, frozen_rx) = watch::channel(false);
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let stats = Arc::new(Stats::default());
        let counted = stats.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the proxy's runtime", e))?;
        let thread = std::thread::Builder::new()
            .name("kubewhy-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("kubewhy-testenv proxy: cannot listen: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept(listener, upstream, frozen_rx, counted) => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime here closes every connection it still holds.
            })
            .map_err(|e| Error::io("spawning the proxy's thread", e))?;
        Ok(Proxy {
            addr,
            frozen,
            stop: Some(stop),
            thread: Some(thread),
            stats,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops forwarding, closing nothing.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Forwards again, what waited first.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The thread may have ended already (its listener failed): nothing left to stop then.
            let _ended = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            eprintln!("kubewhy-testenv proxy: its thread panicked");
        }
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    frozen: watch::Receiver<bool>,
    stats: Arc<Stats>,
) {
    loop {
        let (client, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kubewhy-testenv proxy: accept failed: {e}");
                continue;
            }
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let frozen = frozen.clone();
        tokio::spawn(async move {
            let server = match TcpStream::connect(upstream).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kubewhy-testenv proxy: cannot reach {upstream}: {e}");
                    return;
                }
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(pipe(cr, sw, frozen.clone()), pipe(sr, cw, frozen));
        });
    }
}

/// Copies `from` to `to`, holding every chunk while frozen (and reading nothing more meanwhile).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|f| !*f).await.is_err() {
            return; // the proxy is gone
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // The other side is done: pass the end on (a closed side is what a thawed connection sees).
    let _closed = to.shutdown().await;
}
