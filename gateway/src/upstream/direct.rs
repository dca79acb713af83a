//! The upstream over plain HTTP/2 with hyper-util's pooling client, for a
//! plaintext `--upstream`: each request goes straight to its connection's
//! `SendRequest`. A tonic `Channel` puts a `Buffer` in front of the
//! connection — one more task, and a channel hop each way, per request — to
//! make a `!Clone` connection shareable; hyper's HTTP/2 sender is `Clone`
//! already, so on this path the buffer costs and buys nothing. (TLS
//! upstreams keep the `Channel`, whose rustls set-up this does not repeat.)
//!
//! What the `Channel` did besides, done here: the absolute URI (tonic's
//! clients send a path only), `grpc-timeout` enforced on the client side
//! (answered as tonic answers it, CANCELLED "Timeout expired"), and connect
//! failures marked so that tonic answers UNAVAILABLE.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response, Uri, uri::PathAndQuery};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use music_api::wire;
use tonic::{ConnectError, TimeoutExpired, body::Body};
use tower::{BoxError, Service};

use super::TransportError;

/// How long an idle connection is kept open (the pool reconnects on demand).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// One HTTP/2 connection (reconnected when it fails) to one service.
#[derive(Debug, Clone)]
pub(super) struct Direct {
    client: Client<HttpConnector, Body>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Direct {
    /// A client of `http://{authority}`, connecting on first use.
    pub(super) fn new(authority: http::uri::Authority, connect_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Self {
            client,
            scheme: http::uri::Scheme::HTTP,
            authority,
        }
    }
}

impl Service<Request<Body>> for Direct {
    type Response = Response<Body>;
    type Error = TransportError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, TransportError>> + Send>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The pool checks a connection out per request, in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        match Uri::from_parts(parts) {
            Ok(uri) => *request.uri_mut() = uri,
            Err(e) => return Box::pin(async move { Err(TransportError(BoxError::from(e))) }),
        }
        let timeout = request
            .headers()
            .get(wire::GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(wire::grpc_timeout);
        let answer = self.client.request(request);
        Box::pin(async move {
            let answer = match timeout {
                Some(timeout) => match tokio::time::timeout(timeout, answer).await {
                    Ok(answer) => answer,
                    Err(_) => return Err(TransportError(Box::new(TimeoutExpired(())))),
                },
                None => answer.await,
            };
            match answer {
                Ok(response) => Ok(response.map(Body::new)),
                Err(e) if e.is_connect() => {
                    Err(TransportError(Box::new(ConnectError(Box::new(e)))))
                }
                Err(e) => Err(TransportError(BoxError::from(e))),
            }
        })
    }
}
