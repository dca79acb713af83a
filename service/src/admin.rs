//! The service's admin HTTP endpoint, on its own port so that the gRPC port
//! stays gRPC-only: `/metrics` (Prometheus), `/healthz` (the process is up)
//! and `/readyz` (the store answers and the service is not shutting down).

use std::{
    convert::Infallible,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Bytes, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::net::TcpListener;

/// Whether the service should receive traffic; flipped by the store probe and by shutdown.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

fn answer(
    request: &Request<hyper::body::Incoming>,
    readiness: &Readiness,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match request.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            crate::metrics::render(),
        ),
        "/healthz" => (
            StatusCode::OK,
            "application/json",
            r#"{"status": "ok"}"#.to_owned(),
        ),
        "/readyz" if readiness.get() => (
            StatusCode::OK,
            "application/json",
            r#"{"status": "ready"}"#.to_owned(),
        ),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            r#"{"status": "not ready"}"#.to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "application/json",
            r#"{"message": "admin paths: /metrics, /healthz, /readyz"}"#.to_owned(),
        ),
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static parts make a valid response")
}

/// Serves the admin endpoint on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: impl Future<Output = ()>,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(protocol = "admin", "listening on {addr}");
    }
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let readiness = readiness.clone();
                let service = service_fn(move |request| {
                    let response = answer(&request, &readiness);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    graceful.shutdown().await;
}
