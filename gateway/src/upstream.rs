//! The gateway's way to music-service: gRPC clients over either a tonic
//! `Channel` (a separate service process, plaintext or TLS with rustls) or the
//! service's routes called in-process, behind one boxed transport so the
//! handlers never know which.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
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
    metadata::AsciiMetadataValue,
    transport::{Channel, ClientTlsConfig},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tower::{BoxError, Service, ServiceExt, util::BoxCloneSyncService};

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

    /// `connections` HTTP/2 connections to a separate service, taken in
    /// turn, each a tonic `Channel` (plaintext, or TLS with rustls) that
    /// connects on first use and reconnects by itself, so the gateway starts
    /// even while the service is down. (hyper's HTTP/2 client without the
    /// `Channel`'s buffer task was measured against it in BENCHMARKS.md: the
    /// same CPU per request, 0.5 MiB more RSS; so the `Channel` it is.)
    pub fn connect_lazy(
        uri: http::Uri,
        connect_timeout: Duration,
        tls: Option<ClientTlsConfig>,
        connections: usize,
    ) -> Result<Self, tonic::transport::Error> {
        let connections = connections.max(1);
        let mut endpoint = Channel::builder(uri)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true);
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls)?;
        }
        let channels: Vec<_> = (0..connections)
            .map(|_| {
                endpoint
                    .connect_lazy()
                    .map_err(|e| TransportError(BoxError::from(e)))
            })
            .collect();
        Ok(Self::new(in_turn(channels)))
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

/// One transport of `connections`: the one itself, or each request on the
/// next in turn. One HTTP/2 connection is one task on each side, reading
/// and writing every stream's frames: on a machine with more than one core
/// it is a queue the others wait behind. (tonic's `balance_list` would do
/// the same through a load balancer and one more buffer task; in turn is all
/// that identical connections need.)
fn in_turn<S>(connections: Vec<S>) -> Transport
where
    S: Service<Request<Body>, Response = Response<Body>, Error = TransportError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    match <[S; 1]>::try_from(connections) {
        Ok([one]) => BoxCloneSyncService::new(one),
        Err(connections) => BoxCloneSyncService::new(InTurn {
            connections: connections.into(),
            next: Arc::default(),
        }),
    }
}

#[derive(Debug)]
struct InTurn<S> {
    connections: Arc<[S]>,
    next: Arc<AtomicUsize>,
}

impl<S> Clone for InTurn<S> {
    fn clone(&self) -> Self {
        Self {
            connections: Arc::clone(&self.connections),
            next: Arc::clone(&self.next),
        }
    }
}

impl<S> Service<Request<Body>> for InTurn<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = TransportError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = TransportError;
    type Future = tower::util::Oneshot<S, Request<Body>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each connection's own readiness is awaited in `call`, on the one taken.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[index].clone().oneshot(request)
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
    ///
    /// The three values are new with every request, so they are sent as
    /// HPACK's never-indexed literals. Indexed, each would be added to the
    /// connection's header table and push out the entries every call shares
    /// (content type, `te`, user agent), which then had to be encoded
    /// in full again. Under callgrind, encoding the headers was 9 % of the
    /// gateway's instructions per GetItem (BENCHMARKS.md).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        // Both are bounded: the request id was checked on arrival, and the
        // traceparent is the gateway's own. An unbounded value here could
        // make the shared connection to the service fail for every client.
        if let Ok(value) = self.request_id.parse() {
            request
                .metadata_mut()
                .insert(wire::REQUEST_ID, never_indexed(value));
        }
        if let Ok(value) = self.traceparent.parse() {
            request
                .metadata_mut()
                .insert(wire::TRACEPARENT, never_indexed(value));
        }
        // What tonic's `set_timeout` sends (and its transport enforces),
        // without its `format!`.
        let mut timeout = [0; 9];
        if let Ok(value) =
            AsciiMetadataValue::try_from(wire::write_grpc_timeout(self.remaining(), &mut timeout))
        {
            request
                .metadata_mut()
                .insert(wire::GRPC_TIMEOUT, never_indexed(value));
        }
        request
    }
}

/// `value`, marked so that HTTP/2 sends it without adding it to the header table.
fn never_indexed(mut value: AsciiMetadataValue) -> AsciiMetadataValue {
    value.set_sensitive(true);
    value
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_per_request_metadata_is_sent_never_indexed() {
        let context = CallContext {
            request_id: "c0ffee00-0000-4000-8000-000000000001".to_owned(),
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
            deadline: Instant::now() + Duration::from_secs(29),
        };
        let request = context.request(());
        let metadata = request.metadata();
        for (name, expected) in [
            (wire::REQUEST_ID, Some(context.request_id.as_str())),
            (wire::TRACEPARENT, Some(context.traceparent.as_str())),
            (wire::GRPC_TIMEOUT, None),
        ] {
            let value = metadata
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert!(value.is_sensitive(), "{name} would be indexed");
            if let Some(expected) = expected {
                assert_eq!(value.to_str().unwrap(), expected);
            }
        }
        // tonic's format (wire::write_grpc_timeout): at most 8 digits and a unit, here microseconds.
        let timeout = metadata.get(wire::GRPC_TIMEOUT).unwrap().to_str().unwrap();
        let micros: u64 = timeout.strip_suffix('u').unwrap().parse().unwrap();
        assert!((28_000_000..=29_000_000).contains(&micros), "{timeout}");
    }
}
