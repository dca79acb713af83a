//! Assembles the service: the DynamoDB client for the chosen backend, the two
//! music.v1 services, health and reflection; and serves them on a listener it
//! is handed until a shutdown future resolves.

use std::{future::Future, net::SocketAddr};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::config::Credentials;
use music_api::pb::{
    item_service_server::ItemServiceServer, table_service_server::TableServiceServer,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;

use crate::{
    embedded::{EmbeddedError, EmbeddedStore},
    grpc::{ItemApi, REQUEST_ID_METADATA, TableApi},
    settings::{Backend, StoreSettings},
    store::Store,
};

/// Region used when the AWS configuration names none (the embedded store and
/// DynamoDB Local accept any).
const FALLBACK_REGION: &str = "us-east-1";

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
    routes: Routes,
    embedded: Option<EmbeddedStore>,
}

impl MusicService {
    /// Connects the store for `settings` (starting the embedded engine when
    /// that is the backend) and builds the gRPC routes.
    pub async fn build(settings: &StoreSettings) -> Result<Self, StartError> {
        let (client, embedded) = dynamodb_client(settings).await?;
        let store = Store::new(client, settings.table_wait());

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<TableServiceServer<TableApi>>().await;
        health.set_serving::<ItemServiceServer<ItemApi>>().await;

        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(music_api::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let routes = Routes::builder()
            .add_service(TableServiceServer::new(TableApi::new(store.clone())))
            .add_service(ItemServiceServer::new(ItemApi::new(store.clone())))
            .add_service(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .clone()
            .routes();
        Ok(Self {
            store,
            health,
            routes,
            embedded,
        })
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

    /// Serves on `listener` until `shutdown` resolves; then reports NOT_SERVING,
    /// lets requests in flight finish and stops the embedded store.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartError> {
        let addr: SocketAddr = listener.local_addr().map_err(StartError::Listener)?;
        tracing::info!(protocol = "grpc", "listening on {addr}");
        let health = self.health.clone();
        let drain = async move {
            shutdown.await;
            mark_not_serving(&health).await;
            tracing::info!("gRPC server draining");
        };
        let served = tonic::transport::Server::builder()
            .trace_fn(|request| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID_METADATA)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("grpc", path = %request.uri().path(), request_id = %request_id)
            })
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), drain)
            .await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
        tracing::info!("gRPC server stopped");
        served.map_err(StartError::from)
    }

    /// Stops the embedded store of a service that is not being served (the
    /// in-process gateway calls its routes directly).
    pub async fn stop(self) {
        mark_not_serving(&self.health).await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
    }
}

async fn mark_not_serving(health: &HealthReporter) {
    health
        .set_not_serving::<TableServiceServer<TableApi>>()
        .await;
    health.set_not_serving::<ItemServiceServer<ItemApi>>().await;
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
}

/// The DynamoDB client for the chosen backend: the standard AWS configuration
/// (environment, profiles, `AWS_ENDPOINT_URL_DYNAMODB`), with the endpoint and
/// credentials of the embedded engine when that is the backend.
async fn dynamodb_client(
    settings: &StoreSettings,
) -> Result<(aws_sdk_dynamodb::Client, Option<EmbeddedStore>), StartError> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(settings.dynamodb_timeout())
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
