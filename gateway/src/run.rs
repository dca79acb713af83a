//! Starts the gateway from its settings: a pure gateway over `--upstream`, or
//! (feature `in-process`) with music-service in the same process.

use std::future::Future;

use tokio::{net::TcpListener, sync::watch};

use crate::{
    app::{self, Gateway},
    routes::RouteTable,
    settings::GatewaySettings,
    tls,
    upstream::Upstream,
};

/// How long a lazy channel waits for the service's TCP connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub type RunError = Box<dyn std::error::Error + Send + Sync>;

/// Runs until `shutdown` resolves. `http` is the REST listener; `grpc` the
/// in-process service's listener (unused with an upstream).
pub async fn run(
    settings: GatewaySettings,
    http: TcpListener,
    grpc: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    // Record from the start: the first scrape must see what came before it.
    crate::metrics::prometheus();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };

    let gateway = |upstream| {
        Gateway::new(
            upstream,
            RouteTable::new(&settings.stage),
            settings.errors,
            settings.timeout(),
        )
    };
    let grace = settings.shutdown_grace();
    let acceptor = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let serve_http = |gateway: Gateway, stopped| {
        let in_flight = gateway.in_flight.clone();
        app::serve(
            http,
            app::router(gateway),
            acceptor,
            in_flight,
            grace,
            stopped,
        )
    };

    match (&settings.upstream, grpc) {
        (Some(uri), _) => {
            tracing::info!(upstream = %uri, "pure gateway");
            let client_tls = if uri.scheme_str() == Some("https") {
                let identity = settings
                    .upstream_client_cert
                    .as_deref()
                    .zip(settings.upstream_client_key.as_deref());
                Some(tls::client_config(
                    settings.upstream_ca.as_deref(),
                    identity,
                    settings.upstream_tls_domain.as_deref(),
                )?)
            } else {
                None
            };
            let upstream = Upstream::connect_lazy(uri.clone(), CONNECT_TIMEOUT, client_tls)?;
            serve_http(gateway(upstream), until_stopped()).await?;
            Ok(())
        }
        #[cfg(feature = "in-process")]
        (None, Some(grpc)) => {
            let service = music_service::MusicService::build_with(&settings.store, &settings.rpc).await?;
            let upstream = Upstream::in_process(service.routes());
            let (rest, rpc) = tokio::join!(
                serve_http(gateway(upstream), until_stopped()),
                service.with_shutdown_grace(grace).serve(grpc, until_stopped()),
            );
            rest?;
            rpc?;
            Ok(())
        }
        (None, _) => Err(
            "no --upstream given, and this build cannot run the service in-process (feature `in-process`)".into(),
        ),
    }
}
