//! `FaultProxy`: an HTTP proxy on 127.0.0.1:0 between music-service and a
//! real DynamoDB-compatible store, that makes the store slow or unreachable
//! while a test runs.
//!
//! Every request is forwarded unchanged (method, path, headers with `Host`,
//! body), so the SigV4 signature still matches and the store's answer, with its
//! `x-amz-crc32`, comes back as the store sent it. Two knobs, set at run time:
//!
//! - **latency**: each request waits this long before it is forwarded, as a
//!   slow or distant DynamoDB would make it;
//! - **refusing**: every open connection is closed at once (requests on them
//!   included), and new ones are accepted and closed straight away, so the
//!   service sees a store that drops its connections until the knob is off.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

#[derive(Debug)]
struct Knobs {
    /// The store's base URL, without a trailing slash.
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    latency_ms: AtomicU64,
    refusing: AtomicBool,
    /// Bumped to close every open connection.
    cut: watch::Sender<u64>,
    forwarded: AtomicUsize,
    closed: AtomicUsize,
}

/// A running proxy; stops serving when dropped.
#[derive(Debug)]
pub(crate) struct FaultProxy {
    addr: SocketAddr,
    knobs: Arc<Knobs>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Serves on 127.0.0.1:0, forwarding to `upstream` (e.g. `http://127.0.0.1:8000`).
    pub(crate) async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let knobs = Arc::new(Knobs {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            latency_ms: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
            cut: watch::channel(0).0,
            forwarded: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&knobs)));
        Self { addr, knobs, task }
    }

    /// The endpoint URL to give the service.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request from now on waits `latency` before it is forwarded.
    pub(crate) fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.knobs.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// On: close every open connection and every new one. Off: serve again.
    pub(crate) fn set_refusing(&self, refusing: bool) {
        self.knobs.refusing.store(refusing, Ordering::Relaxed);
        if refusing {
            self.knobs.cut.send_modify(|generation| *generation += 1);
        }
    }

    /// Requests forwarded to the store so far.
    pub(crate) fn forwarded(&self) -> usize {
        self.knobs.forwarded.load(Ordering::Relaxed)
    }

    /// Connections closed by the refusing knob so far.
    pub(crate) fn closed(&self) -> usize {
        self.knobs.closed.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.knobs.cut.send_modify(|generation| *generation += 1);
    }
}

async fn accept(listener: TcpListener, knobs: Arc<Knobs>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if knobs.refusing.load(Ordering::Relaxed) {
            knobs.closed.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let mut cut = knobs.cut.subscribe();
        let for_requests = Arc::clone(&knobs);
        let service = service_fn(move |request| {
            let knobs = Arc::clone(&for_requests);
            async move { Ok::<_, std::convert::Infallible>(forward(&knobs, request).await) }
        });
        let counted = Arc::clone(&knobs);
        tokio::spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes its socket, mid-request or not.
                _ = cut.changed() => {
                    counted.closed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

async fn forward(knobs: &Knobs, request: Request<Incoming>) -> Response<Full<Bytes>> {
    match try_forward(knobs, request).await {
        Ok(response) => response,
        Err(message) => {
            let mut response =
                Response::new(Full::new(Bytes::from(format!("fault proxy: {message}"))));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}

async fn try_forward(
    knobs: &Knobs,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, String> {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the request: {e}"))?
        .to_bytes();
    let latency = knobs.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    // Everything as the client sent it, Host included: it is part of what
    // SigV4 signed. Only the address the bytes go to changes.
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{}{path}", knobs.upstream)
        .parse()
        .map_err(|e| format!("upstream URI: {e}"))?;
    strip_hop_by_hop(&mut parts.headers);
    let answer = knobs
        .client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| format!("forwarding: {e}"))?;
    let (mut parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    knobs.forwarded.fetch_add(1, Ordering::Relaxed);
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Headers of one connection rather than of the message.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
