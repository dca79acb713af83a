//! The gateway's HTTP application: one dispatcher for the tutorial's routes,
//! `/healthz`, `/readyz` and `/metrics`, request ids (`x-request-id`, echoed
//! or made, also as `x-amzn-RequestId`), and serving on a given listener with
//! a bounded graceful shutdown.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    middleware,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header};
use music_api::wire;
use music_runtime::{
    admin::{Admin, Paths, ReadinessCheck},
    limits::BodyError,
};
use serde::Serialize;
use std::time::Instant;
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

/// The gateway's public router: the tutorial's routes, and `/healthz` and
/// `/readyz` for load balancers (`/metrics` is on the admin listener only).
pub fn router(gateway: Gateway) -> Router {
    let probes = Admin::new(readiness_check(&gateway.upstream), Paths::Probes);
    let gateway = Arc::new(gateway);
    Router::new()
        .route_service("/healthz", probes.clone())
        .route_service("/readyz", probes)
        .fallback(dispatch)
        .with_state(Arc::clone(&gateway))
        .layer(middleware::from_fn(require_host))
        .layer(middleware::from_fn_with_state(gateway, access::record))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_unusable_request_id))
}

/// The admin listener's endpoints: `/healthz`, `/readyz` and `/metrics`.
pub fn admin(upstream: &Upstream) -> Admin {
    Admin::new(readiness_check(upstream), Paths::All)
}

/// Readiness: the service answers its health check with SERVING, which it
/// does only while its store answers.
fn readiness_check(upstream: &Upstream) -> ReadinessCheck {
    let upstream = upstream.clone();
    Arc::new(move || {
        let upstream = upstream.clone();
        Box::pin(async move { upstream.ready(READINESS_TIMEOUT).await })
    })
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

/// An `x-request-id` that is not a usable id (blank, over 128 characters,
/// not visible ASCII) is dropped, so that a fresh one is made for the request
/// and the received one is neither echoed, logged nor forwarded.
async fn drop_unusable_request_id(mut request: Request) -> Request {
    let unusable = request
        .headers()
        .get_all(&X_REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(n, id)| n > 0 || !wire::is_valid_request_id(id.as_bytes()));
    if unusable {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
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
                    crate::access::bounded(if parts.uri.path().is_empty() {
                        parts.uri.authority().map_or("", |a| a.as_str())
                    } else {
                        parts.uri.path()
                    }),
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

/// Reads a request body of at most [`MAX_BODY_BYTES`]: a declared length
/// over the limit is refused before reading, a body that stops arriving
/// (music-runtime's body read timeout) is 408, one over the connection's or the
/// server's byte budget 503, an encoded one 415, a malformed one 400.
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
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            if cause::<http_body_util::LengthLimitError>(&error).is_some() {
                return Err(too_large());
            }
            return Err(match cause::<BodyError>(&error) {
                Some(BodyError::TimedOut { limit }) => refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "The request body did not arrive within {} s.",
                        limit.as_secs_f64()
                    ),
                ),
                Some(over @ BodyError::OverBudget { .. }) => Reply {
                    retry_after: Some(Duration::from_secs(1)),
                    ..refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("The gateway is busy: {over}."),
                    )
                },
                Some(BodyError::Read(_)) | None => refuse(
                    StatusCode::BAD_REQUEST,
                    format!("The request body could not be read: {error}."),
                ),
            });
        }
    };
    if let Some(encoding) = unreadable_encoding(headers)
        && !bytes.is_empty()
    {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "The request body is encoded with {}, which the gateway does not decode; send it unencoded.",
                crate::access::bounded(encoding)
            ),
        ));
    }
    Ok(bytes)
}

/// The request's `Content-Encoding` when it names anything but `identity`:
/// the parameters in such a body cannot be read.
fn unreadable_encoding(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .map(|value| value.to_str().unwrap_or("(not text)"))
        .find(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        })
}

/// The first cause of type `T` in an error's source chain.
fn cause<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        next = error.source();
    }
    None
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
