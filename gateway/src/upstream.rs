//! The gateway's way to music-service: gRPC clients over either a tonic
//! `Channel` (a separate service process, plaintext or TLS with rustls) or the
//! service's routes called in-process, behind one boxed transport so the
//! handlers never know which.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use http::{Request, Response};
use music_api::{
    pb::{
        item_service_client::ItemServiceClient, table_service_client::TableServiceClient,
        usage_service_client::UsageServiceClient,
    },
    wire,
};
use music_runtime::pem::{self, PemError};
use tonic::transport::{Certificate, Identity};
use tonic::{
    body::Body,
    transport::{Channel, ClientTlsConfig},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tower::{BoxError, ServiceExt, util::BoxCloneSyncService};

/// Any gRPC transport: a network channel or the in-process routes.
pub type Transport = BoxCloneSyncService<Request<Body>, Response<Body>, TransportError>;

/// A transport failure. A named type rather than a bare `BoxError` (which
/// trips a higher-ranked lifetime limit of rustc in tonic's client bounds);
/// its source chain stays visible, so tonic still recognises connection errors
/// and timeouts in it and answers UNAVAILABLE or "Timeout expired".
#[derive(Debug)]
pub struct TransportError(BoxError);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Clients of both music.v1 services (and of gRPC health) over one transport,
/// and the transport itself for calls made from descriptors (the `/v1` routes).
#[derive(Debug, Clone)]
pub struct Upstream {
    pub tables: TableServiceClient<Transport>,
    pub items: ItemServiceClient<Transport>,
    /// The usage plans' quota counters (the edge's).
    pub usage: UsageServiceClient<Transport>,
    pub health: HealthClient<Transport>,
    transport: Transport,
}

impl Upstream {
    pub fn new(transport: Transport) -> Self {
        Self {
            tables: TableServiceClient::new(transport.clone()),
            items: ItemServiceClient::new(transport.clone()),
            usage: UsageServiceClient::new(transport.clone()),
            health: HealthClient::new(transport.clone()),
            transport,
        }
    }

    /// tonic's generic client over the same transport, for any RPC with any codec.
    pub fn grpc(&self) -> tonic::client::Grpc<Transport> {
        tonic::client::Grpc::new(self.transport.clone())
    }

    /// Whether the service says SERVING (it does only while its store answers).
    pub async fn ready(&self, within: Duration) -> Result<(), String> {
        let mut health = self.health.clone();
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        request.set_timeout(within);
        match tokio::time::timeout(within, health.check(request)).await {
            Err(_) => Err("the music service did not answer its health check in time".into()),
            Ok(Err(status)) => Err(format!(
                "the music service's health check failed: {}",
                status.message()
            )),
            Ok(Ok(answer)) => match answer.into_inner().status() {
                ServingStatus::Serving => Ok(()),
                other => Err(format!("the music service reports {}", other.as_str_name())),
            },
        }
    }

    /// A channel to a separate service that connects on first use and
    /// reconnects by itself, so the gateway starts even while the service is down.
    pub fn connect_lazy(
        uri: http::Uri,
        connect_timeout: Duration,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Self, tonic::transport::Error> {
        let mut endpoint = Channel::builder(uri)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true);
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls)?;
        }
        let channel = endpoint.connect_lazy();
        Ok(Self::new(BoxCloneSyncService::new(
            channel.map_err(|e| TransportError(BoxError::from(e))),
        )))
    }

    /// Calls a service's routes directly, with no network in between.
    #[cfg(feature = "in-process")]
    pub fn in_process(routes: music_service::server::GrpcRoutes) -> Self {
        Self::new(BoxCloneSyncService::new(
            ServiceExt::<Request<Body>>::map_err(
                routes,
                |never: std::convert::Infallible| -> TransportError { match never {} },
            ),
        ))
    }
}

/// What a call to the service carries besides its message.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub request_id: String,
    /// W3C `traceparent` for the service.
    pub traceparent: String,
    /// When the gateway's integration timeout runs out for this request.
    pub deadline: Instant,
}

impl CallContext {
    /// The context of a request, as every route family builds it: the id the
    /// router set (`x-request-id`), the trace context the access middleware
    /// left in the extensions, and the deadline.
    pub fn of_request(parts: &http::request::Parts, deadline: Instant) -> Self {
        Self {
            request_id: parts
                .headers
                .get(crate::request::X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            traceparent: parts
                .extensions
                .get::<crate::request::TraceContext>()
                .map(|t| t.traceparent.clone())
                .unwrap_or_default(),
            deadline,
        }
    }

    /// The time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Wraps a message in a request carrying the request id, the trace context
    /// and the remaining budget (sent as `grpc-timeout`).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        // Both are bounded: the request id was checked on arrival, and the
        // traceparent is the gateway's own. An unbounded value here could
        // make the shared connection to the service fail for every client.
        if let Ok(value) = self.request_id.parse() {
            request.metadata_mut().insert(wire::REQUEST_ID, value);
        }
        if let Ok(value) = self.traceparent.parse() {
            request.metadata_mut().insert(wire::TRACEPARENT, value);
        }
        request.set_timeout(self.remaining());
        request
    }
}

/// Client TLS towards music-service: the CA to trust (else the system's
/// roots are not used: a private CA is the norm inside a mesh), an optional
/// client identity for mTLS, and an optional name to verify.
pub fn client_tls(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    domain: Option<&str>,
) -> Result<ClientTlsConfig, PemError> {
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = ca {
        config = config.ca_certificate(Certificate::from_pem(pem::certificates(ca)?.pem));
    }
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(
            pem::certificates(cert)?.pem,
            pem::private_key(key)?.pem,
        ));
    }
    if let Some(domain) = domain {
        config = config.domain_name(domain);
    }
    Ok(config)
}
