//! The ceiling: a bare axum handler that answers every request with the same
//! JSON string, as long as the gateway's GetItem answer. It runs in its own
//! process, on the same runtime (tokio multi-thread) and server (axum::serve)
//! as the gateway, so the difference between the two is the gateway's work.

use std::{future::Future, net::SocketAddr};

use axum::{Router, http::header, response::IntoResponse};
use tokio::net::TcpListener;

/// What the gateway answers to GetItem for the seeded song.
pub(crate) const BODY: &str = r#"{"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "AlbumTitle": {"S": "Somewhat Famous"}}"#;

/// Serves the handler on `listen` until `shutdown` resolves.
pub(crate) async fn serve(
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    // The same line the programs log, which the benchmark reads.
    eprintln!("listening on {} protocol=\"http\"", listener.local_addr()?);
    let app = Router::new().fallback(answer);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn answer() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}
