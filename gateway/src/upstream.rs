//! The gateway's way to music-service: gRPC clients over either a tonic
//! `Channel` (a separate service process) or the service's routes called
//! in-process, behind one boxed transport so the handlers never know which.

use std::time::Duration;

use http::{Request, Response};
use music_api::pb::{
    item_service_client::ItemServiceClient, table_service_client::TableServiceClient,
};
use tonic::{body::Body, transport::Channel};
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

/// The metadata key that carries the request id to the service.
pub const REQUEST_ID_METADATA: &str = "x-request-id";

/// Clients of both music.v1 services over one transport.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub tables: TableServiceClient<Transport>,
    pub items: ItemServiceClient<Transport>,
}

impl Upstream {
    pub fn new(transport: Transport) -> Self {
        Self {
            tables: TableServiceClient::new(transport.clone()),
            items: ItemServiceClient::new(transport),
        }
    }

    /// A channel to a separate service that connects on first use and
    /// reconnects by itself, so the gateway starts even while the service is down.
    pub fn connect_lazy(uri: http::Uri, connect_timeout: Duration) -> Self {
        let channel = Channel::builder(uri)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Self::new(BoxCloneSyncService::new(
            channel.map_err(|e| TransportError(BoxError::from(e))),
        ))
    }

    /// Calls a service's routes directly, with no network in between.
    #[cfg(feature = "in-process")]
    pub fn in_process(routes: tonic::service::Routes) -> Self {
        Self::new(BoxCloneSyncService::new(
            ServiceExt::<Request<Body>>::map_err(
                routes,
                |never: std::convert::Infallible| -> TransportError { match never {} },
            ),
        ))
    }
}

/// Wraps a message in a request carrying the request id and the time budget
/// (sent as `grpc-timeout`).
pub fn request<T>(request_id: &str, budget: Duration, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = request_id.parse() {
        request.metadata_mut().insert(REQUEST_ID_METADATA, value);
    }
    request.set_timeout(budget);
    request
}
