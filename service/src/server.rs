//! Assembles the service: the DynamoDB client for the chosen backend, the two
//! music.v1 services, health and reflection; and serves them on a listener it
//! is handed until a shutdown future resolves.

use std::{future::Future, net::SocketAddr, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::config::Credentials;
use http_body::Frame;
use http_body_util::{BodyExt, combinators::MapFrame};
use music_api::pb::{
    item_service_server::ItemServiceServer, table_service_server::TableServiceServer,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{codec::CompressionEncoding, service::Routes, transport::ServerTlsConfig};
use tonic_health::server::HealthReporter;

use crate::{
    admin::Readiness,
    embedded::{EmbeddedError, EmbeddedStore},
    grpc::{ItemApi, REQUEST_ID_METADATA, RpcPolicy, TableApi},
    settings::{Backend, RpcSettings, StoreSettings},
    store::Store,
};

/// Region used when the AWS configuration names none (the embedded store and
/// DynamoDB Local accept any).
const FALLBACK_REGION: &str = "us-east-1";

/// Grace period for requests in flight at shutdown, unless set otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("cannot read the listener's address: {0}")]
    Listener(std::io::Error),
}

/// The service, built and ready to serve.
#[derive(Debug)]
pub struct MusicService {
    store: Store,
    health: HealthReporter,
    readiness: Readiness,
    policy: RpcPolicy,
    routes: Routes,
    shutdown_grace: Duration,
    tls: Option<ServerTlsConfig>,
    admin: Option<TcpListener>,
    probe: JoinHandle<()>,
    embedded: Option<EmbeddedStore>,
}

impl MusicService {
    /// [`MusicService::build_with`] default request handling.
    pub async fn build(store: &StoreSettings) -> Result<Self, StartError> {
        Self::build_with(store, &RpcSettings::default()).await
    }

    /// Connects the store for `settings` (starting the embedded engine when
    /// that is the backend), builds the gRPC routes and starts probing the
    /// store for readiness.
    pub async fn build_with(
        settings: &StoreSettings,
        rpc: &RpcSettings,
    ) -> Result<Self, StartError> {
        crate::metrics::prometheus();
        let (client, embedded) = dynamodb_client(settings).await?;
        let store = Store::new(client, settings.table_wait());
        let policy = RpcPolicy::new(rpc.max_concurrent_requests);

        let (health, health_service) = tonic_health::server::health_reporter();
        let readiness = Readiness::default();
        // Ready only once the store has answered a probe.
        set_serving(
            &health,
            &readiness,
            probe_store(&store, rpc.health_probe_interval()).await,
        )
        .await;
        let probe = tokio::spawn(keep_probing(
            store.clone(),
            health.clone(),
            readiness.clone(),
            rpc.health_probe_interval(),
        ));

        let limit = rpc.max_message_bytes;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(music_api::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let routes = Routes::builder()
            .add_service(
                TableServiceServer::new(TableApi::new(store.clone(), policy.clone()))
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Zstd),
            )
            .add_service(
                ItemServiceServer::new(ItemApi::new(store.clone(), policy.clone()))
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Zstd),
            )
            .add_service(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .clone()
            .routes();
        Ok(Self {
            store,
            health,
            readiness,
            policy,
            routes,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            tls: None,
            admin: None,
            probe,
            embedded,
        })
    }

    /// How long requests in flight may take to finish once shutdown starts.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Serve gRPC over TLS (and, with a client CA in the config, require client certificates).
    pub fn with_tls(mut self, tls: ServerTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Also serve the admin endpoint (`/metrics`, `/healthz`, `/readyz`) on `listener`.
    pub fn with_admin(mut self, listener: TcpListener) -> Self {
        self.admin = Some(listener);
        self
    }

    /// The gRPC services as one tower service, for serving or calling in-process.
    pub fn routes(&self) -> Routes {
        self.routes.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn health(&self) -> &HealthReporter {
        &self.health
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Serves on `listener` until `shutdown` resolves. Then: health says
    /// NOT_SERVING and readiness false, the listener stops accepting, requests
    /// in flight get the grace period to finish (those still running after it
    /// are cut, and logged), and the embedded store stops.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartError> {
        let addr: SocketAddr = listener.local_addr().map_err(StartError::Listener)?;
        let (admin_stop, admin_stopped) = oneshot::channel::<()>();
        let admin = self.admin.map(|admin| {
            tokio::spawn(crate::admin::serve(admin, self.readiness.clone(), async {
                let _ = admin_stopped.await;
            }))
        });
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        tracing::info!(protocol = "grpc", "listening on {addr}");

        let (signalled, signal) = oneshot::channel::<()>();
        let (health, readiness, probe) = (self.health.clone(), self.readiness.clone(), self.probe);
        let drain = async move {
            shutdown.await;
            probe.abort();
            set_serving(&health, &readiness, false).await;
            tracing::info!("gRPC server draining");
            let _ = signalled.send(());
        };
        let grace = self.shutdown_grace;
        let grace_over = async move {
            if signal.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        let server = builder
            .trace_fn(|request| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID_METADATA)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("grpc", path = %request.uri().path(), request_id = %request_id)
            })
            .layer(tower::util::MapResponseLayer::new(
                oversized_is_resource_exhausted,
            ))
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(incoming_nodelay(listener), drain);
        let served = tokio::select! {
            served = server => served.map_err(StartError::from),
            () = grace_over => {
                tracing::warn!(
                    cut = self.policy.in_flight(),
                    "grace period of {}s is over; cutting the requests still in flight",
                    grace.as_secs()
                );
                Ok(())
            }
        };
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
        let _ = admin_stop.send(());
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        tracing::info!("gRPC server stopped");
        served
    }

    /// Stops a service that is not being served (the in-process gateway calls
    /// its routes directly): NOT_SERVING, no more probes, embedded store stopped.
    pub async fn stop(self) {
        self.probe.abort();
        set_serving(&self.health, &self.readiness, false).await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
    }
}

/// Accepted connections with Nagle's algorithm off: tonic's own `tcp_nodelay`
/// setting applies only to listeners it binds, and small gRPC frames left
/// waiting for an ACK cost tens of milliseconds at low concurrency.
fn incoming_nodelay(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        accepted
    })
}

/// tonic answers an oversized message with OUT_OF_RANGE; gRPC's own
/// implementations (and this service's contract) say RESOURCE_EXHAUSTED. The
/// status travels in the trailers (or, for an early error, the headers).
fn oversized_is_resource_exhausted<B>(
    response: http::Response<B>,
) -> http::Response<MapFrame<B, FrameFix>>
where
    B: http_body::Body<Data = hyper::body::Bytes>,
{
    let (mut parts, body) = response.into_parts();
    fix_oversized_status(&mut parts.headers);
    http::Response::from_parts(parts, body.map_frame(fix_oversized_trailers as FrameFix))
}

type FrameFix = fn(Frame<hyper::body::Bytes>) -> Frame<hyper::body::Bytes>;

fn fix_oversized_trailers(mut frame: Frame<hyper::body::Bytes>) -> Frame<hyper::body::Bytes> {
    if let Some(trailers) = frame.trailers_mut() {
        fix_oversized_status(trailers);
    }
    frame
}

fn fix_oversized_status(headers: &mut http::HeaderMap) {
    // `grpc-message` is percent-encoded on the wire: spaces are `%20`.
    const OVERSIZED: &[u8] = b"Error,%20decoded%20message%20length%20too%20large";
    let oversized = headers.get("grpc-status").is_some_and(|s| s == "11")
        && headers
            .get("grpc-message")
            .is_some_and(|m| m.as_bytes().starts_with(OVERSIZED));
    if oversized {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
}

/// Whether the store answers a cheap call within the probe interval (at most 2 s).
async fn probe_store(store: &Store, interval: Duration) -> bool {
    let budget = interval.min(Duration::from_secs(2));
    match tokio::time::timeout(budget, store.probe()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "store probe failed");
            false
        }
        Err(_) => false,
    }
}

async fn keep_probing(
    store: Store,
    health: HealthReporter,
    readiness: Readiness,
    interval: Duration,
) {
    let mut was_ready = readiness.get();
    loop {
        tokio::time::sleep(interval).await;
        let ready = probe_store(&store, interval).await;
        if ready != was_ready {
            if ready {
                tracing::info!("store reachable again; serving");
            } else {
                tracing::warn!("store unreachable; health NOT_SERVING until it answers");
            }
            was_ready = ready;
        }
        set_serving(&health, &readiness, ready).await;
    }
}

async fn set_serving(health: &HealthReporter, readiness: &Readiness, serving: bool) {
    readiness.set(serving);
    let status = if serving {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    health
        .set_service_status(
            <TableServiceServer<TableApi> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
    health
        .set_service_status(
            <ItemServiceServer<ItemApi> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
    health.set_service_status("", status).await;
}

/// The DynamoDB client for the chosen backend: the standard AWS configuration
/// (environment, profiles, `AWS_ENDPOINT_URL_DYNAMODB`), with the endpoint and
/// credentials of the embedded engine when that is the backend.
async fn dynamodb_client(
    settings: &StoreSettings,
) -> Result<(aws_sdk_dynamodb::Client, Option<EmbeddedStore>), StartError> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(settings.dynamodb_timeout())
        .operation_attempt_timeout(settings.dynamodb_attempt_timeout())
        .build();
    let retry = RetryConfig::standard().with_max_attempts(settings.dynamodb_max_attempts.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retry);

    let embedded = match settings.backend {
        Backend::Embedded => {
            let dir = (!settings.in_memory).then_some(settings.data_dir.as_path());
            let store = EmbeddedStore::start(dir).await?;
            tracing::info!(
                backend = "embedded",
                data = %dir.map_or_else(|| ":memory:".to_owned(), |d| d.join(crate::embedded::DATA_FILE).display().to_string()),
                "store ready"
            );
            // dynoxide accepts any signature; fixed credentials keep the AWS
            // credential chain (and its network lookups) out of the way.
            loader = loader
                .region(Region::new(FALLBACK_REGION))
                .credentials_provider(Credentials::new(
                    "embedded",
                    "embedded",
                    None,
                    None,
                    "music-service-embedded",
                ))
                .endpoint_url(store.endpoint());
            Some(store)
        }
        Backend::Dynamodb => {
            if let Some(endpoint) = &settings.dynamodb_endpoint {
                loader = loader.endpoint_url(endpoint);
            }
            if let Some(fixed) = &settings.static_credentials {
                loader = loader.credentials_provider(Credentials::new(
                    fixed.access_key_id.clone(),
                    fixed.secret_access_key.clone(),
                    None,
                    None,
                    "music-service-static",
                ));
            }
            None
        }
    };
    let sdk_config = loader.load().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk_config);
    if sdk_config.region().is_none() {
        config = config.region(Region::new(FALLBACK_REGION));
    }
    // Stalled-stream protection watches the throughput of every body with an
    // interceptor and a throughput check per call (in every SDK stack of the
    // profile, BENCHMARKS.md); our bodies are a few hundred bytes and the
    // attempt timeout already bounds a stalled answer.
    config = config.stalled_stream_protection(
        aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled(),
    );
    if settings.backend == Backend::Dynamodb {
        tracing::info!(
            backend = "dynamodb",
            endpoint = settings
                .dynamodb_endpoint
                .as_deref()
                .unwrap_or("(AWS configuration)"),
            "store ready"
        );
    }
    Ok((
        aws_sdk_dynamodb::Client::from_conf(config.build()),
        embedded,
    ))
}
