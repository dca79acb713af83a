//! What every music.v1 RPC goes through, served or called in-process alike:
//! one span carrying the caller's request id and trace id (continuing the
//! caller's trace when spans are exported), the caller's deadline
//! (`grpc-timeout`) enforced, the in-flight gauge, and, once the answer's
//! status is known (its trailers, or a trailers-only answer's headers), the
//! RPC's metrics and one log line: method, code, duration, and the cause of a
//! failure as the handler recorded it on the span.
//!
//! A tower layer at the HTTP level rather than code in each handler, so that
//! answers made before a handler runs (shed calls, messages too large, the
//! deadline) are observed like any other. Calls to health and reflection pass
//! through unobserved.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Frame, SizeHint};
use music_api::wire;
use music_runtime::traceparent;
use tonic::{Code, Status, body::Body};
use tower::Service;
use tracing::Instrument;

use strum::EnumCount;

use super::{Method, code_name};
use crate::{error::ServiceError, metrics::kept};

/// The observed routes.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S> Observe<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// How much earlier than the caller's deadline the service gives up, so that
/// its DEADLINE_EXCEEDED reaches the caller before the caller's own timer fires.
fn answer_margin(budget: Duration) -> Duration {
    (budget / 20).min(Duration::from_millis(20))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(method) = Method::of_path(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        let headers = request.headers();
        // Only a well-formed id is logged: a caller's 1 MiB of metadata must
        // not become a 1 MiB log line.
        let request_id = header(headers, wire::REQUEST_ID)
            .filter(|id| wire::is_valid_request_id(id.as_bytes()))
            .unwrap_or("-");
        let caller_trace = header(headers, wire::TRACEPARENT);
        let trace_id = caller_trace
            .and_then(traceparent::parse)
            .map_or("-", |t| t.trace_id);
        let budget = header(headers, wire::GRPC_TIMEOUT).and_then(wire::grpc_timeout);
        let span = tracing::info_span!(
            "rpc",
            method = method.as_str(),
            request_id = %request_id,
            trace_id = %trace_id,
            error = tracing::field::Empty,
        );
        music_runtime::telemetry::continue_trace(&span, caller_trace);
        let rpc = Rpc {
            span: span.clone(),
            method,
            started: Instant::now(),
            _gauge: InFlightGauge::enter(),
            finished: false,
        };
        // Entered for the call too, so that a layer answering at once (shed)
        // records its cause on this span.
        let call = span.in_scope(|| self.inner.call(request)).instrument(span);
        Box::pin(async move {
            let answered = match budget {
                None => call.await,
                Some(budget) => {
                    match tokio::time::timeout(budget - answer_margin(budget), call).await {
                        Ok(answered) => answered,
                        Err(_) => {
                            let error = ServiceError::DeadlineExceeded { budget };
                            rpc.span.record("error", tracing::field::display(&error));
                            Ok(Status::from(error).into_http())
                        }
                    }
                }
            };
            let Ok(response) = answered;
            Ok(rpc.watch(response))
        })
    }
}

/// One RPC being answered.
struct Rpc {
    span: tracing::Span,
    method: Method,
    started: Instant,
    _gauge: InFlightGauge,
    finished: bool,
}

impl Rpc {
    /// Finishes at once for a trailers-only answer (its status is in the
    /// headers); otherwise when the body's trailers have been sent.
    fn watch(mut self, response: Response<Body>) -> Response<Body> {
        if let Some(code) = grpc_status(response.headers()) {
            self.finish(code);
            return response;
        }
        response.map(|inner| Body::new(ObservedBody { inner, rpc: self }))
    }

    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        let code_index = code as usize;
        let (method, code) = (self.method.as_str(), code_name(code));
        // Gateways flush their usage counts every second: a successful
        // flush is routine (metrics count it), not a log line.
        let routine = self.method == Method::AddUsage && code == "OK";
        self.span.in_scope(|| {
            if routine {
                tracing::debug!(
                    code,
                    elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                    "rpc finished"
                );
            } else {
                tracing::info!(
                    code,
                    elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                    "rpc finished"
                );
            }
        });
        kept(
            &REQUESTS[self.method as usize][code_index],
            || metrics::counter!(crate::metrics::GRPC_REQUESTS, "method" => method, "code" => code),
        )
        .increment(1);
        kept(
            &DURATIONS[self.method as usize],
            || metrics::histogram!(crate::metrics::GRPC_DURATION, "method" => method),
        )
        .record(elapsed.as_secs_f64());
    }
}

/// gRPC's codes, 0 to 16.
const CODES: usize = 17;

/// Each method's and code's counter, registered when first counted (so that
/// `/metrics` lists only the series that happened).
static REQUESTS: [[OnceLock<metrics::Counter>; CODES]; Method::COUNT] =
    [const { [const { OnceLock::new() }; CODES] }; Method::COUNT];
static DURATIONS: [OnceLock<metrics::Histogram>; Method::COUNT] =
    [const { OnceLock::new() }; Method::COUNT];
static IN_FLIGHT: OnceLock<metrics::Gauge> = OnceLock::new();

impl Drop for Rpc {
    fn drop(&mut self) {
        // The answer was dropped before its end: the caller went away.
        self.finish(Code::Cancelled);
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let code: i32 = header(headers, "grpc-status")?.parse().ok()?;
    Some(Code::from_i32(code))
}

pin_project_lite::pin_project! {
    /// An answer's body that finishes its RPC when the trailers go out.
    struct ObservedBody {
        #[pin]
        inner: Body,
        rpc: Rpc,
    }
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.rpc.finish(code);
                }
            }
            Some(Err(status)) => this.rpc.finish(status.code()),
            None => this.rpc.finish(Code::Unknown),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts an RPC in the in-flight gauge for as long as it lives, including
/// when the caller goes away and the answer is dropped mid-way. (tower-http's
/// in-flight counter reports on an interval; a scrape right after a burst
/// would read a stale count.)
struct InFlightGauge(metrics::Gauge);

impl InFlightGauge {
    fn enter() -> Self {
        let gauge = kept(&IN_FLIGHT, || {
            metrics::gauge!(crate::metrics::GRPC_IN_FLIGHT)
        })
        .clone();
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_margin_is_small_and_bounded() {
        assert_eq!(
            answer_margin(Duration::from_millis(100)),
            Duration::from_millis(5)
        );
        assert_eq!(
            answer_margin(Duration::from_secs(29)),
            Duration::from_millis(20)
        );
    }
}
