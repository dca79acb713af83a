//! The admin endpoints of both programs, written once: `/healthz` (the process
//! answers), `/readyz` (it should receive traffic, as its readiness check
//! says) and `/metrics` (the process's Prometheus recorder). GET and HEAD only.
//!
//! The service serves them on its admin listener; the gateway on its admin
//! listener, and `/healthz` and `/readyz` also on its public port (where
//! load balancers probe), never `/metrics`.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use tokio::net::TcpListener;

use crate::{
    limits::ConnectionLimits,
    serve::{self, Listener, Protocols},
};

/// How long admin connections may take to finish at shutdown: their requests
/// take milliseconds.
const GRACE: Duration = Duration::from_secs(1);

/// Says whether the process should receive traffic, and if not, why.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Which admin paths a listener answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// `/healthz`, `/readyz` and `/metrics`: the admin listener.
    All,
    /// `/healthz` and `/readyz`: probes on a public port.
    Probes,
}

/// The admin endpoints as a tower service.
#[derive(Clone)]
pub struct Admin {
    readiness: ReadinessCheck,
    paths: Paths,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Admin {
    pub fn new(readiness: ReadinessCheck, paths: Paths) -> Self {
        Self { readiness, paths }
    }

    /// Whether `path` is one of this listener's admin paths.
    pub fn serves(&self, path: &str) -> bool {
        match path {
            "/healthz" | "/readyz" => true,
            "/metrics" => self.paths == Paths::All,
            _ => false,
        }
    }

    /// The answer to `method` on `path`.
    pub async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if !self.serves(path) {
            let known = match self.paths {
                Paths::All => "/metrics, /healthz, /readyz",
                Paths::Probes => "/healthz, /readyz",
            };
            return json(
                StatusCode::NOT_FOUND,
                message(&format!("admin paths: {known}")),
            );
        }
        if method != Method::GET && method != Method::HEAD {
            let mut response = json(
                StatusCode::METHOD_NOT_ALLOWED,
                message(&format!(
                    "{path} does not support {method}; it supports GET, HEAD."
                )),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match path {
            "/healthz" => json(StatusCode::OK, r#"{"status": "ok"}"#.to_owned()),
            "/readyz" => match (self.readiness)().await {
                Ok(()) => json(StatusCode::OK, r#"{"status": "ready"}"#.to_owned()),
                Err(reason) => json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        r#"{{"status": "not ready", "reason": {}}}"#,
                        serde_json::to_string(&reason).expect("a string serializes")
                    ),
                ),
            },
            _ => {
                let mut response = Response::new(Full::new(Bytes::from(
                    crate::metrics::prometheus().render(),
                )));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                response
            }
        }
    }
}

/// Serves `admin` on `listener` (plain HTTP/1.1 and h2, the default connection
/// bounds) until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    admin: Admin,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let listener = Listener {
        listener,
        protocol: "admin",
        protocols: Protocols::Http1AndHttp2,
        tls: None,
        limits: ConnectionLimits::default(),
    };
    serve::serve(listener, move |_| admin.clone(), GRACE, shutdown).await
}

/// `{"message": "…"}`, spaced as the gateway's other JSON bodies.
fn message(text: &str) -> String {
    format!(
        r#"{{"message": {}}}"#,
        serde_json::to_string(text).expect("a string serializes")
    )
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl<B> tower::Service<Request<B>> for Admin {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let admin = self.clone();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        Box::pin(async move { Ok(admin.answer(&method, &path).await) })
    }
}
