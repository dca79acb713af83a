//! Starts the gateway from its settings: a pure gateway over `--upstream`, or
//! (feature `in-process`) with music-service in the same process; each
//! listener served by music-runtime's one serving loop.

use std::{future::Future, time::Duration};

use axum::extract::ConnectInfo;
use music_runtime::{
    limits::ConnectionLimits,
    serve::{self, Listener, Protocols},
    tls::{self, Alpn},
};
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{
    app::{self, Gateway},
    routes::RouteTable,
    settings::GatewaySettings,
    upstream::Upstream,
};

/// How long a lazy channel waits for the service's TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the admin endpoint's connections may take to finish at shutdown.
const ADMIN_GRACE: Duration = Duration::from_secs(1);

pub type RunError = Box<dyn std::error::Error + Send + Sync>;

/// The listeners the gateway serves, bound by the caller (port 0 in tests).
#[derive(Debug)]
pub struct Listeners {
    /// The public REST listener.
    pub http: TcpListener,
    /// The in-process service's gRPC listener (unused with an upstream).
    pub grpc: Option<TcpListener>,
    /// The admin endpoint (`/metrics`, `/healthz`, `/readyz`).
    pub admin: Option<TcpListener>,
}

/// Runs until `shutdown` resolves.
pub async fn run(
    settings: GatewaySettings,
    listeners: Listeners,
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

    let acceptor = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key, None, Alpn::Http2AndHttp1)?),
        _ => None,
    };
    let Listeners { http, grpc, admin } = listeners;
    let limits = settings.connections.clone();
    let grace = settings.shutdown_grace();
    let serve_gateway = |upstream: Upstream, stopped| {
        let gateway = Gateway::new(
            upstream.clone(),
            RouteTable::new(&settings.stage),
            settings.errors,
            settings.timeout(),
        );
        let rest = serve_rest(http, gateway, acceptor, limits.clone(), grace, stopped);
        let admin = serve_admin(admin, app::admin(&upstream), until_stopped());
        async move {
            let (rest, admin) = tokio::join!(rest, admin);
            rest.and(admin)
        }
    };

    match (&settings.upstream, grpc) {
        (Some(uri), _) => {
            tracing::info!(upstream = %uri, "pure gateway");
            let client_tls = if uri.scheme_str() == Some("https") {
                let identity = settings
                    .upstream_client_cert
                    .as_deref()
                    .zip(settings.upstream_client_key.as_deref());
                Some(crate::tls::client_config(
                    settings.upstream_ca.as_deref(),
                    identity,
                    settings.upstream_tls_domain.as_deref(),
                )?)
            } else {
                None
            };
            let upstream = Upstream::connect_lazy(uri.clone(), CONNECT_TIMEOUT, client_tls)?;
            serve_gateway(upstream, until_stopped()).await?;
            Ok(())
        }
        #[cfg(feature = "in-process")]
        (None, Some(grpc)) => {
            let service =
                music_service::MusicService::build_with(&settings.store, &settings.rpc).await?;
            let upstream = Upstream::in_process(service.routes());
            let (rest, rpc) = tokio::join!(
                serve_gateway(upstream, until_stopped()),
                service
                    .with_limits(limits.clone())
                    .with_shutdown_grace(grace)
                    .serve(grpc, until_stopped()),
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

/// Serves the public REST API (HTTPS with an acceptor), each connection's
/// requests carrying the peer's address for the access log.
async fn serve_rest(
    listener: TcpListener,
    gateway: Gateway,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    grace: Duration,
    stopped: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let protocol = if tls.is_some() { "https" } else { "http" };
    let listener = Listener {
        listener,
        protocol,
        protocols: Protocols::Http1AndHttp2,
        tls,
        limits,
    };
    let app = app::router(gateway);
    serve::serve(
        listener,
        move |peer| {
            app.clone()
                .layer(axum::Extension(ConnectInfo(peer.addr)))
                .map_request(|request: http::Request<_>| request.map(axum::body::Body::new))
        },
        grace,
        stopped,
    )
    .await?;
    Ok(())
}

/// Serves the admin endpoint, when it has a listener.
async fn serve_admin(
    listener: Option<TcpListener>,
    admin: music_runtime::admin::Admin,
    stopped: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let Some(listener) = listener else {
        return Ok(());
    };
    let listener = Listener {
        listener,
        protocol: "admin",
        protocols: Protocols::Http1AndHttp2,
        tls: None,
        limits: ConnectionLimits::default(),
    };
    serve::serve(listener, move |_| admin.clone(), ADMIN_GRACE, stopped).await?;
    Ok(())
}
