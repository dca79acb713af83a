//! The gateway's HTTP application: one dispatcher for the tutorial's routes,
//! request ids (`x-request-id`, echoed or made, also as `x-amzn-RequestId`),
//! an access log line per request, and serving on a given listener.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

use crate::{
    errors::ErrorMode,
    legacy::{self, Reply},
    params::Params,
    routes::{RouteTable, Unrouted},
    upstream::Upstream,
};

/// Largest request body read. The largest valid item is 400 KB; JSON quoting
/// and the other parameters fit well within 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub upstream: Upstream,
    pub routes: RouteTable,
    pub error_mode: ErrorMode,
    /// Integration timeout of one call, as API Gateway's (29 s by default).
    pub timeout: Duration,
}

/// The gateway's router.
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(gateway))
        .layer(middleware::from_fn(access_log))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_blank_request_id))
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

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(protocol = "http", "listening on {addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("HTTP server stopped");
    Ok(())
}

fn request_id_of(headers: &http::HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// One span per request, carrying its id; one log line when it is answered.
async fn access_log(request: Request, next: Next) -> Response {
    let id_header = request.headers().get(&X_REQUEST_ID).cloned();
    let request_id = request_id_of(request.headers());
    let span = tracing::info_span!("request", request_id = %request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    // API Gateway's name for the same id, for clients written against it.
    if let Some(id) = id_header {
        response.headers_mut().insert(X_AMZN_REQUEST_ID, id);
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(%method, %path, status, latency_ms, "request answered"));
    response
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
    let (parts, body) = request.into_parts();
    let call = match gateway.routes.route(&parts.method, parts.uri.path()) {
        Ok(call) => call,
        Err(Unrouted::NotFound) => {
            return message_response(
                StatusCode::NOT_FOUND,
                &format!(
                    "No resource at {}. Resources: {}.",
                    parts.uri.path(),
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
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return reply_response(Reply {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                body: crate::pyjson::dumps(&format!(
                    "The request body is larger than {MAX_BODY_BYTES} bytes."
                )),
                retry_after: None,
            });
        }
    };
    let params = Params::new(&parts.headers, parts.uri.query(), &body);
    let reply = legacy::handle(&gateway, call, &params, &request_id_of(&parts.headers)).await;
    reply_response(reply)
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
