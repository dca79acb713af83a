//! The resource REST API under `/v1`, built at start from the
//! `google.api.http` annotations of the descriptor set (gRPC transcoding, as
//! grpc-gateway and Envoy do it): no route is written by hand, so a newly
//! annotated RPC is served, and described at `GET /openapi.json`, without
//! gateway code.
//!
//! A request travels: `template` (the path's raw segments, matched against
//! each route's template) → `routes` (the route, or 404 / 405) →
//! `body::read` (the same limits as every route) → `transcode` (path, body,
//! query and precondition headers into the request message, by `json`'s
//! proto3 JSON) → `call` (tonic's generic client with a codec of
//! `DynamicMessage`s, over `Upstream`'s one transport, with the request id,
//! trace context, deadline and `metadata`'s `Grpc-Metadata-*`) → the answer
//! in proto3 JSON (with `ETag`), an NDJSON `stream`, or a `status`
//! (`google.rpc.Status`). `openapi` describes both route families.

pub mod call;
pub mod json;
pub mod metadata;
pub mod openapi;
pub mod routes;
pub mod status;
pub mod stream;
pub mod template;
pub mod transcode;

use std::{path::PathBuf, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{Request, State},
    response::{IntoResponse, Response},
    routing::any,
};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use prost_reflect::{DescriptorPool, MessageDescriptor};
use tonic::Code;

use self::{
    routes::{Route, RouteError, RouteSet, Unrouted},
    status::Failure,
    template::RawPath,
};
use crate::{
    access::RouteLabel,
    body::{self, BodyRefusal},
    request::bounded,
    state::Gateway,
    tutorial::routes::RouteTable,
    upstream::CallContext,
};

/// The descriptors the routes are built from: music.v1's set (with its
/// google.api and google.protobuf imports), google.rpc's (the error details),
/// and any further sets given with `--proto-descriptors`.
#[derive(Debug, Clone)]
pub struct Descriptors {
    pool: DescriptorPool,
}

/// Why the `/v1` API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("cannot read the descriptor set {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the descriptor set {what} does not load: {source}")]
    Descriptors {
        what: String,
        source: prost_reflect::DescriptorError,
    },
    #[error("cannot build the /v1 routes: {0}")]
    Routes(#[from] RouteError),
}

impl Descriptors {
    /// The built-in sets, and the encoded `FileDescriptorSet`s at `extra`.
    pub fn load(extra: &[PathBuf]) -> Result<Self, RestError> {
        let fail = |what: &str| {
            let what = what.to_owned();
            move |source| RestError::Descriptors { what, source }
        };
        let mut pool =
            DescriptorPool::decode(music_api::FILE_DESCRIPTOR_SET).map_err(fail("of music.v1"))?;
        pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .map_err(fail("of google.rpc"))?;
        for path in extra {
            let bytes = std::fs::read(path).map_err(|source| RestError::Read {
                path: path.clone(),
                source,
            })?;
            pool.decode_file_descriptor_set(bytes.as_slice())
                .map_err(fail(&path.display().to_string()))?;
        }
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// `google.rpc.Status`, whose details the error answers show.
    pub fn status_type(&self) -> MessageDescriptor {
        self.pool
            .get_message_by_name("google.rpc.Status")
            .expect("google.rpc's descriptors are built in")
    }
}

/// The OpenAPI document of both route families, as JSON text.
pub fn openapi_document(
    descriptors: &Descriptors,
    tutorial: &RouteTable,
) -> Result<serde_json::Value, RestError> {
    let routes = RouteSet::from_pool(descriptors.pool())?;
    Ok(openapi::document(&routes, descriptors.pool(), tutorial))
}

/// The `/v1` API as built at start: its routes, the error type, and the
/// OpenAPI document (rendered once).
#[derive(Debug)]
pub struct Rest {
    routes: RouteSet,
    status_type: MessageDescriptor,
    openapi: Bytes,
}

impl Rest {
    /// The routes of every annotated method in `descriptors`, and the
    /// document that describes them and the tutorial's routes. Fails, naming
    /// the method, on a rule that cannot be served.
    pub fn new(descriptors: &Descriptors, tutorial: &RouteTable) -> Result<Self, RestError> {
        let routes = RouteSet::from_pool(descriptors.pool())?;
        let document = openapi::document(&routes, descriptors.pool(), tutorial);
        tracing::debug!(
            routes = routes.iter().count(),
            "REST routes built from google.api.http"
        );
        Ok(Self {
            status_type: descriptors.status_type(),
            openapi: serde_json::to_vec(&document)
                .expect("the document serializes")
                .into(),
            routes,
        })
    }

    pub fn routes(&self) -> &RouteSet {
        &self.routes
    }

    /// Names a request by its route's template (`/v1/tables/{table_name}`),
    /// for logs, metrics and per-method settings; `None` off the routes.
    pub fn namer(
        self: &Arc<Self>,
    ) -> impl Fn(&Method, &str) -> Option<Arc<str>> + Send + Sync + 'static {
        let rest = Arc::clone(self);
        move |method, path| rest.routes.name(method, path)
    }
}

/// What `/v1` requests are answered with: the API, and the way to the
/// service.
#[derive(Debug)]
struct Serving {
    rest: Arc<Rest>,
    gateway: Gateway,
}

/// `GET /openapi.json`, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>(rest: Arc<Rest>) -> Router<S> {
    Router::new()
        .route(OPENAPI_PATH, any(openapi))
        .with_state(rest)
}

/// `/v1` and every path under it: what [`V1::serve`] answers.
pub fn is_v1(path: &str) -> bool {
    path.strip_prefix("/v1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The `/v1` API, answered from the router's fallback for the paths
/// [`is_v1`] names. Not an axum route `/v1/{*path}`: axum percent-decodes
/// such a capture into a new string on every request, and nothing read it
/// (2 % of a `/v1` GetItem's instructions in the gateway).
#[derive(Debug, Clone)]
pub struct V1(Arc<Serving>);

impl V1 {
    pub fn new(rest: Arc<Rest>, gateway: Gateway) -> Self {
        Self(Arc::new(Serving { rest, gateway }))
    }

    pub async fn serve(&self, request: Request) -> Response {
        dispatch(&self.0, request).await
    }
}

async fn openapi(State(rest): State<Arc<Rest>>, request: Request) -> Response {
    let mut response = if request.method() == Method::GET {
        (
            [(header::CONTENT_TYPE, "application/json")],
            rest.openapi.clone(),
        )
            .into_response()
    } else {
        method_not_allowed(request.method(), OPENAPI_PATH, "GET".into())
    };
    response
        .extensions_mut()
        .insert(RouteLabel(Arc::from(OPENAPI_PATH)));
    response
}

/// Where the document is served.
const OPENAPI_PATH: &str = "/openapi.json";

fn method_not_allowed(method: &Method, path: &str, allow: String) -> Response {
    let mut failure = Failure::new(
        Code::Unimplemented,
        format!(
            "{} does not support {}; it supports {allow}.",
            bounded(path),
            bounded(method.as_str())
        ),
    )
    .with_http(StatusCode::METHOD_NOT_ALLOWED);
    failure.allow = Some(allow);
    failure.into_response()
}

/// Every `/v1` request.
async fn dispatch(serving: &Serving, request: Request) -> Response {
    let rest = &serving.rest;
    // The integration timeout counts from arrival, as the tutorial's does.
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let raw = match RawPath::parse(path) {
        Ok(raw) => raw,
        Err(error) => return Failure::invalid(error.to_string()).into_response(),
    };
    let matched = match rest.routes.find(&parts.method, &raw) {
        Ok(matched) => matched,
        Err(Unrouted::NotFound) => {
            return Failure::new(
                Code::NotFound,
                format!(
                    "No /v1 route at {}; GET /openapi.json lists them.",
                    bounded(path)
                ),
            )
            .into_response();
        }
        Err(Unrouted::MethodNotAllowed(allow)) => {
            let mut response = method_not_allowed(&parts.method, path, allow);
            if let Some(template) = rest.routes.name(&parts.method, path) {
                response.extensions_mut().insert(RouteLabel(template));
            }
            return response;
        }
    };
    let route = matched.route;
    let mut response = match matched.values {
        Ok(values) => serve(serving, route, values, parts, body, arrived).await,
        Err(error) => Failure::invalid(error.to_string()).into_response(),
    };
    response
        .extensions_mut()
        .insert(RouteLabel(route.label.clone()));
    response
}

/// A body the gateway would not read, as a `google.rpc.Status`.
fn refused_body(refusal: BodyRefusal) -> Failure {
    let code = match refusal.status {
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::InvalidArgument,
    };
    let mut failure = Failure::new(code, refusal.message).with_http(refusal.status);
    failure.retry_after = refusal.retry_after;
    failure
}

async fn serve(
    serving: &Serving,
    route: &Route,
    values: Vec<String>,
    parts: http::request::Parts,
    body: axum::body::Body,
    arrived: Instant,
) -> Response {
    let body = match body::read(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refused_body(refusal).into_response(),
    };
    let transcoded =
        match transcode::request_message(route, values, parts.uri.query(), &parts.headers, &body) {
            Ok(transcoded) => transcoded,
            Err(failure) => return failure.into_response(),
        };
    let rest = &serving.rest;
    let context = CallContext::of_request(&parts, arrived + serving.gateway.timeout);
    let mut request = context.request(transcoded.message);
    let skipped = metadata::forward(&parts.headers, request.metadata_mut());
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "Grpc-Metadata headers not forwarded (reserved, invalid or over the bounds)"
        );
    }
    let failed = |status: tonic::Status| {
        Failure::from_call(&status, &rest.status_type, transcoded.preconditions).into_response()
    };
    let upstream = &serving.gateway.upstream;

    if route.is_streaming() {
        let messages = match call::server_streaming(upstream, route, request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return failed(status),
        };
        let body = match stream::start(messages).await {
            Ok(stream::Start::Began(first, rest_of)) => {
                stream::body(first, rest_of, rest.status_type.clone())
            }
            Ok(stream::Start::Empty) => axum::body::Body::empty(),
            Err(status) => return failed(status),
        };
        return ([(header::CONTENT_TYPE, stream::NDJSON)], body).into_response();
    }

    let message = match call::unary(upstream, route, request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return failed(status),
    };
    let json = match &route.response_body {
        Some(field) => json::render_field(&message, field),
        None => json::render(&message),
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
    if let Some(etag) = json::etag_of(&message).and_then(quoted_etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `etag` as an `ETag` value (quoted: a strong validator), unless it has a
/// quote or a byte a header cannot carry. Written by hand: `format!` was
/// 1 % of a `/v1` GetItem's instructions in the gateway.
fn quoted_etag(etag: &str) -> Option<HeaderValue> {
    if etag.contains('"') {
        return None;
    }
    let mut quoted = String::with_capacity(etag.len() + 2);
    quoted.push('"');
    quoted.push_str(etag);
    quoted.push('"');
    HeaderValue::try_from(quoted).ok()
}

/// A descriptor pool of music.v1's and one more proto file, compiled from
/// source, for the rules music.proto does not use (`{name=**}`, a scalar
/// body field, `response_body`, a custom method, repeated and nested query
/// parameters) and for rules that cannot be served.
#[cfg(test)]
pub(crate) fn fixture_pool(source: &str) -> Result<DescriptorPool, String> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("fixture.proto"), source).expect("write the fixture");
    let proto = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut compiler =
        protox::Compiler::new([dir.path(), proto.as_path()]).map_err(|e| e.to_string())?;
    compiler
        .include_imports(true)
        .open_file(dir.path().join("fixture.proto"))
        .map_err(|e| format!("{e:?}"))?;
    let mut pool = Descriptors::load(&[]).expect("built in").pool;
    pool.decode_file_descriptor_set(compiler.encode_file_descriptor_set().as_slice())
        .map_err(|e| e.to_string())?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::{is_v1, quoted_etag};

    #[test]
    fn an_etag_is_sent_quoted_unless_it_cannot_be() {
        assert_eq!(
            quoted_etag("0e8b96f24720a3744cc4f899b58caab8").unwrap(),
            "\"0e8b96f24720a3744cc4f899b58caab8\""
        );
        for bad in ["with\"quote", "line\nbreak", "nul\0"] {
            assert_eq!(quoted_etag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn v1_is_the_api_root_and_every_path_under_it() {
        for path in [
            "/v1",
            "/v1/",
            "/v1//x",
            "/v1/tables",
            "/v1/tables/Music/songs:stream",
        ] {
            assert!(is_v1(path), "{path}");
        }
        // The tutorial's routes take the rest, also where a name starts
        // with the same letters.
        for path in [
            "/",
            "/v10/tables",
            "/v1x",
            "/V1/tables",
            "/Test/v1/tables",
            "//v1",
            "",
        ] {
            assert!(!is_v1(path), "{path}");
        }
    }
}
