//! The gateway's HTTP application: one dispatcher for the tutorial's routes,
//! `/healthz`, `/readyz` and `/metrics`, request ids (`x-request-id`, echoed
//! or made, also as `x-amzn-RequestId`), and serving on a given listener with
//! a bounded graceful shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderValue, StatusCode, header};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use serde::Serialize;
use std::time::Instant;
use tokio::{net::TcpListener, sync::oneshot};
use tokio_rustls::TlsAcceptor;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{
    access::{self, InFlight, TraceContext, X_REQUEST_ID},
    errors::ErrorMode,
    legacy::{self, Reply},
    params::Params,
    routes::{RouteTable, Unrouted},
    upstream::{CallContext, Upstream},
};

/// Largest request body read. The largest valid item is 400 KB; JSON quoting
/// and the other parameters fit well within 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long `/readyz` waits for the service's health answer.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub upstream: Upstream,
    pub routes: RouteTable,
    pub error_mode: ErrorMode,
    /// Integration timeout of one call, as API Gateway's (29 s by default).
    pub timeout: Duration,
    pub in_flight: InFlight,
}

impl Gateway {
    pub fn new(
        upstream: Upstream,
        routes: RouteTable,
        error_mode: ErrorMode,
        timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            routes,
            error_mode,
            timeout,
            in_flight: InFlight::default(),
        }
    }
}

/// The gateway's router.
pub fn router(gateway: Gateway) -> Router {
    let gateway = Arc::new(gateway);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(admin_method_not_allowed)
        .fallback(dispatch)
        .with_state(Arc::clone(&gateway))
        .layer(middleware::from_fn(require_host))
        .layer(middleware::from_fn_with_state(gateway, access::record))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_blank_request_id))
}

/// `/healthz`, `/readyz` and `/metrics` answer GET (and HEAD) only.
async fn admin_method_not_allowed(method: http::Method, uri: http::Uri) -> Response {
    let mut response = message_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "{} does not support {method}; it supports GET, HEAD.",
            uri.path()
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// RFC 9112 §3.2: an HTTP/1.1 request without exactly one valid Host is 400.
async fn require_host(request: Request, next: middleware::Next) -> Response {
    if request.version() == http::Version::HTTP_11 {
        let mut hosts = request.headers().get_all(header::HOST).iter();
        let valid = match (hosts.next(), hosts.next()) {
            (Some(host), None) => host
                .to_str()
                .ok()
                .is_some_and(|h| h.parse::<http::uri::Authority>().is_ok()),
            _ => false,
        };
        if !valid {
            return message_response(
                StatusCode::BAD_REQUEST,
                "An HTTP/1.1 request needs exactly one valid Host header.",
            );
        }
    }
    next.run(request).await
}

/// A blank `x-request-id` identifies nothing: treat it as absent, so that a
/// fresh id is made for the request.
async fn drop_blank_request_id(mut request: Request) -> Request {
    let blank = request
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|id| id.as_bytes().iter().all(u8::is_ascii_whitespace));
    if blank {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// Serves `app` on `listener` (HTTPS when given a TLS acceptor) until
/// `shutdown` resolves; then stops accepting and gives requests in flight
/// `grace` to finish before cutting them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    in_flight: InFlight,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let protocol = if tls.is_some() { "https" } else { "http" };
    tracing::info!(protocol, "listening on {addr}");
    let (signalled, signal) = oneshot::channel::<()>();
    let draining = in_flight.clone();
    let shutdown = async move {
        shutdown.await;
        tracing::info!(in_flight = draining.get(), "HTTP server draining");
        let _ = signalled.send(());
    };
    let grace_over = async move {
        if signal.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = serve_connections(listener, app, tls, shutdown) => {}
        () = grace_over => tracing::warn!(
            cut = in_flight.get(),
            "grace period of {}s is over; cutting the requests still in flight",
            grace.as_secs()
        ),
    }
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` resolves, then waits for the open
/// ones to finish. Each connection: TLS when configured, then HTTP/1.1 or h2
/// (ALPN, or the client's preface in plaintext), with the peer address for the
/// access log and a bound on how long headers may take to arrive.
async fn serve_connections(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (tls, builder, watcher) = (tls.clone(), builder.clone(), graceful.watcher());
        let service =
            TowerToHyperService::new(app.clone().layer(axum::Extension(ConnectInfo(peer))));
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection.into_owned()).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(error)) => {
                                return tracing::debug!(%peer, %error, "TLS handshake failed");
                            }
                            Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                        };
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection.into_owned()).await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    // Refuse new connections at once; only the open ones are waited for.
    drop(listener);
    graceful.shutdown().await;
}

/// Liveness: the process answers.
async fn healthz() -> Response {
    json_response(StatusCode::OK, r#"{"status": "ok"}"#.to_owned())
}

/// Readiness: the service answers its health check with SERVING, which it
/// does only while its store answers.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.upstream.ready(READINESS_TIMEOUT).await {
        Ok(()) => json_response(StatusCode::OK, r#"{"status": "ready"}"#.to_owned()),
        Err(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::pyjson::dumps(&serde_json::json!({"status": "not ready", "reason": reason})),
        ),
    }
}

/// Prometheus exposition of this process's metrics.
async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::prometheus().render(),
    )
        .into_response()
}

fn request_id_of(headers: &http::HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn message_response(status: StatusCode, message: &str) -> Response {
    json_response(status, crate::pyjson::dumps(&Message { message }))
}

async fn dispatch(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    // The integration timeout counts from arrival, as API Gateway's does.
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let call = match gateway.routes.route(&parts.method, parts.uri.path()) {
        Ok(call) => call,
        Err(Unrouted::NotFound) => {
            return message_response(
                StatusCode::NOT_FOUND,
                &format!(
                    "No resource at {}. Resources: {}.",
                    // CONNECT names an authority, not a path.
                    if parts.uri.path().is_empty() {
                        parts.uri.to_string()
                    } else {
                        parts.uri.path().to_owned()
                    },
                    gateway.routes.describe()
                ),
            );
        }
        Err(Unrouted::MethodNotAllowed(resource)) => {
            let mut response = message_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "{} does not support {}; it supports {}.",
                    gateway.routes.path_of(resource),
                    parts.method,
                    resource.allow()
                ),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(resource.allow()));
            return response;
        }
    };
    let body = match read_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return reply_response(refusal),
    };
    let context = CallContext {
        request_id: request_id_of(&parts.headers),
        traceparent: parts
            .extensions
            .get::<TraceContext>()
            .map(|t| t.traceparent.clone())
            .unwrap_or_default(),
        deadline: arrived + gateway.timeout,
    };
    let params = Params::new(&parts.headers, parts.uri.query(), &body);
    let reply = legacy::handle(&gateway, call, &params, &context).await;
    reply_response(reply)
}

/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a request body of at most [`MAX_BODY_BYTES`] within
/// [`BODY_READ_TIMEOUT`]: a declared length over the limit is refused before
/// reading, a body that stops arriving is 408, a malformed one 400.
async fn read_body(
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, Reply> {
    let refuse = |status, message: String| Reply {
        status,
        body: crate::pyjson::dumps(&message),
        retry_after: None,
    };
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(
        BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    {
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body did not arrive within {} s.",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            if over_limit {
                Err(too_large())
            } else {
                Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!("The request body could not be read: {error}."),
                ))
            }
        }
    }
}

fn reply_response(reply: Reply) -> Response {
    let mut response = json_response(reply.status, reply.body);
    if let Some(delay) = reply.retry_after {
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}
