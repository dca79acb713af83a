//! Load shedding before a message is read: at most `max_in_flight` music.v1
//! RPCs are served at once, and one more is answered RESOURCE_EXHAUSTED with a
//! retry delay at once, from its headers alone, so that a flood of requests
//! cannot make the service buffer their messages first. An RPC counts until
//! its answer's body (a stream's last message) is sent or dropped. Health and
//! reflection are never shed: a probe must see an overloaded service as up.
//!
//! Hand-written rather than tower's `LoadShed` + `ConcurrencyLimit`: those
//! answer an error rather than a gRPC response, and release the slot when a
//! stream starts, not when it ends.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Status, body::Body};
use tower::Service;

use super::Method;
use crate::error::ServiceError;

/// The limit on RPCs in flight, shared by every clone.
#[derive(Debug, Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
    max_in_flight: usize,
}

impl InFlightLimit {
    pub fn new(max_in_flight: usize) -> Self {
        let max_in_flight = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
        }
    }

    /// RPCs being served now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.permits.available_permits()
    }

    /// Wraps the gRPC routes.
    pub fn shed<S>(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            limit: self.clone(),
        }
    }
}

/// The routes behind an [`InFlightLimit`].
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    limit: InFlightLimit,
}

impl<S, B> Service<Request<B>> for Shed<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if Method::of_path(request.uri().path()).is_none() {
            return ShedFuture::Admitted {
                inner: self.inner.call(request),
                permit: None,
            };
        }
        match Arc::clone(&self.limit.permits).try_acquire_owned() {
            Ok(permit) => ShedFuture::Admitted {
                inner: self.inner.call(request),
                permit: Some(permit),
            },
            Err(_) => ShedFuture::Shed {
                response: Some(overloaded(self.limit.max_in_flight)),
            },
        }
    }
}

/// The answer to a call beyond the limit; its cause goes on the RPC's span
/// (`observe` counts and logs it like any other answer).
fn overloaded(max_in_flight: usize) -> Response<Body> {
    let error = ServiceError::Overloaded { max_in_flight };
    tracing::Span::current().record("error", tracing::field::display(&error));
    Status::from(error).into_http()
}

pin_project_lite::pin_project! {
    /// The answer of a [`Shed`] service.
    #[project = ShedProjection]
    pub enum ShedFuture<F> {
        Shed { response: Option<Response<Body>> },
        Admitted { #[pin] inner: F, permit: Option<OwnedSemaphorePermit> },
    }
}

impl<F> Future for ShedFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        const POLLED_AFTER_READY: &str = "a future is not polled after it is ready";
        match self.project() {
            ShedProjection::Shed { response } => {
                Poll::Ready(Ok(response.take().expect(POLLED_AFTER_READY)))
            }
            ShedProjection::Admitted { inner, permit } => {
                let Ok(response) = std::task::ready!(inner.poll(cx));
                Poll::Ready(Ok(match permit.take() {
                    None => response,
                    Some(permit) => response.map(|body| {
                        Body::new(Permitted {
                            inner: body,
                            _permit: permit,
                        })
                    }),
                }))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that holds its RPC's slot until it ends.
    struct Permitted {
        #[pin]
        inner: Body,
        _permit: OwnedSemaphorePermit,
    }
}

impl http_body::Body for Permitted {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, Status>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
