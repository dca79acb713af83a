//! Assembles the service (the DynamoDB client of the chosen backend, the two
//! music.v1 services behind the in-flight limit, health and reflection) and
//! serves it on a listener it is handed until a shutdown future resolves,
//! through music-runtime's one serving loop.

use std::{future::Future, time::Duration};

use http_body::Frame;
use http_body_util::{BodyExt, combinators::MapFrame};
use music_api::pb::{
    item_service_server::ItemServiceServer, table_service_server::TableServiceServer,
    usage_service_server::UsageServiceServer,
};
use music_runtime::{
    admin::{Admin, Paths},
    limits::{BodyError, ConnectionLimits, LimitedBody},
    serve::{self, Listener, Protocols},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_rustls::TlsAcceptor;
use tonic::{Status, codec::CompressionEncoding, service::Routes};
use tonic_health::server::HealthReporter;
use tower::ServiceExt;

use crate::{
    backend::dynamodb_client,
    domain::TableName,
    embedded::{EmbeddedError, EmbeddedStore},
    grpc::{
        ItemApi, TableApi, UsageApi,
        observe::Observe,
        shed::{InFlightLimit, Shed},
    },
    health::{self, Readiness},
    page_token::PageTokens,
    settings::{RpcSettings, StoreSettings},
    store::{Store, usage::UsageStore},
};

/// Grace period for requests in flight at shutdown, unless set otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Retry delay suggested with a refusal for a full byte budget.
const BUDGET_RETRY_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("--usage-table: {0}")]
    UsageTable(String),
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// The gRPC services, as the served and the in-process paths both call them:
/// the routes behind the in-flight limit, observed.
pub type GrpcRoutes = Observe<Shed<Routes>>;

/// The service, built and ready to serve.
pub struct MusicService {
    store: Store,
    health: HealthReporter,
    readiness: Readiness,
    limit: InFlightLimit,
    routes: GrpcRoutes,
    shutdown_grace: Duration,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    admin: Option<TcpListener>,
    probe: JoinHandle<()>,
    embedded: Option<EmbeddedStore>,
}

impl std::fmt::Debug for MusicService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicService")
            .field("store", &self.store)
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
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
        let store = Store::new(client, settings.table_wait);
        let limit = InFlightLimit::new(rpc.max_concurrent_requests);
        let usage_table = TableName::parse(settings.usage_table.clone(), "usage_table")
            .map_err(|violation| StartError::UsageTable(violation.description))?;
        let usage = UsageStore::new(store.clone(), usage_table);

        let (health, health_service) = tonic_health::server::health_reporter();
        let readiness = Readiness::default();
        // Ready only once the store has answered a probe.
        health::set_serving(
            &health,
            &readiness,
            health::probe_store(&store, rpc.health_probe_interval()).await,
        )
        .await;
        let probe = tokio::spawn(health::keep_probing(
            store.clone(),
            health.clone(),
            readiness.clone(),
            rpc.health_probe_interval(),
        ));

        let max = rpc.max_message_bytes;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(music_api::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                // google.rpc's details (ErrorInfo, BadRequest, RetryInfo), so
                // that grpcurl prints them instead of "not recognized".
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        };
        let routes = Routes::builder()
            .add_service(
                TableServiceServer::new(TableApi::new(store.clone()))
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Zstd),
            )
            .add_service(
                ItemServiceServer::new(ItemApi::new(
                    store.clone(),
                    PageTokens::new(rpc.page_token_secret.as_deref()),
                ))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Zstd),
            )
            .add_service(
                UsageServiceServer::new(UsageApi::new(usage))
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd),
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
            routes: Observe::new(limit.shed(routes)),
            limit,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            tls: None,
            limits: ConnectionLimits::default(),
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

    /// Serve gRPC over TLS (and, with a client CA in the acceptor, require client certificates).
    pub fn with_tls(mut self, tls: TlsAcceptor) -> Self {
        self.tls = Some(tls);
        self
    }

    /// What every gRPC connection is held to.
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Also serve the admin endpoint (`/metrics`, `/healthz`, `/readyz`) on `listener`.
    pub fn with_admin(mut self, listener: TcpListener) -> Self {
        self.admin = Some(listener);
        self
    }

    /// The gRPC services as one tower service, for serving or calling in-process.
    pub fn routes(&self) -> GrpcRoutes {
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

    /// RPCs being served now.
    pub fn in_flight(&self) -> usize {
        self.limit.in_flight()
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
        let (health, readiness, probe) = (self.health.clone(), self.readiness.clone(), self.probe);
        let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        let admin = self.admin.map(|listener| {
            let admin = Admin::new(self.readiness.check(), Paths::All);
            tokio::spawn(music_runtime::admin::serve(listener, admin, async {
                let _ = admin_stopped.await;
            }))
        });
        let drain = async move {
            shutdown.await;
            probe.abort();
            health::set_serving(&health, &readiness, false).await;
        };
        let routes = self.routes;
        let grpc = Listener {
            listener,
            protocol: "grpc",
            protocols: Protocols::Http2Only,
            tls: self.tls,
            limits: self.limits,
        };
        let served = serve::serve(
            grpc,
            move |_| {
                routes
                    .clone()
                    .map_request(|request: http::Request<LimitedBody>| {
                        request.map(|body| tonic::body::Body::new(body.map_err(body_status)))
                    })
                    .map_response(oversized_is_resource_exhausted)
            },
            self.shutdown_grace,
            drain,
        )
        .await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
        let _ = admin_stop.send(());
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        served.map_err(StartError::from)
    }

    /// Stops a service that is not being served (the in-process gateway calls
    /// its routes directly): NOT_SERVING, no more probes, embedded store stopped.
    pub async fn stop(self) {
        self.probe.abort();
        health::set_serving(&self.health, &self.readiness, false).await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
    }
}

/// The status a stream is answered with when its request body could not be read.
fn body_status(error: BodyError) -> Status {
    match error {
        BodyError::TimedOut { .. } => Status::deadline_exceeded(format!("{error}.")),
        BodyError::OverBudget { .. } => {
            let mut details = tonic_types::ErrorDetails::new();
            details.set_retry_info(Some(BUDGET_RETRY_DELAY));
            <Status as tonic_types::StatusExt>::with_error_details(
                tonic::Code::ResourceExhausted,
                format!("{error}."),
                details,
            )
        }
        // tonic recognises h2's errors (a reset stream, a broken connection) in the chain.
        BodyError::Read(cause) => Status::from_error(Box::new(cause)),
    }
}

/// tonic answers an oversized message with OUT_OF_RANGE; gRPC's own
/// implementations (and this service's contract) say RESOURCE_EXHAUSTED. The
/// status travels in the trailers (or, for an early error, the headers).
fn oversized_is_resource_exhausted<B>(
    response: http::Response<B>,
) -> http::Response<MapFrame<B, FrameFix>>
where
    B: http_body::Body<Data = bytes::Bytes>,
{
    let (mut parts, body) = response.into_parts();
    fix_oversized_status(&mut parts.headers);
    http::Response::from_parts(parts, body.map_frame(fix_oversized_trailers as FrameFix))
}

type FrameFix = fn(Frame<bytes::Bytes>) -> Frame<bytes::Bytes>;

fn fix_oversized_trailers(mut frame: Frame<bytes::Bytes>) -> Frame<bytes::Bytes> {
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
