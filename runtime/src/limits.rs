//! What one client may take from a server: the per-connection bounds (time to
//! the first request, idle time, h2 streams and pings) and the request bytes a
//! connection, and the whole server, may hold in flight.
//!
//! [`LimitedBody`] is hand-written because no crate does both jobs it has:
//! tower-http's `TimeoutBody` restarts its timer on every frame (a client that
//! sends a byte every few seconds is never timed out), and nothing counts the
//! bytes buffered across a connection's streams. A request body must arrive
//! whole within `body_read_timeout` of its headers, and every data frame is
//! counted against two byte budgets until the body is dropped: a stream that
//! would go over either is refused at once, so 145 half-sent 4 MiB messages on
//! one connection cost at most the connection's budget, not 600 MB.

use std::{
    future::Future as _,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use clap::Args;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

/// `1 MiB` in bytes, for the defaults below.
const MIB: usize = 1024 * 1024;

/// Bounds every accepted connection is held to (both programs, every listener).
#[derive(Debug, Clone, Args)]
pub struct ConnectionLimits {
    /// How long a new connection may take to complete its first request's
    /// headers, TLS handshake included; then it is closed (an h2 peer that does
    /// not acknowledge the GOAWAY is cut a second later). Also bounds how long
    /// an HTTP/1 request's headers may take, and so how long an HTTP/1
    /// keep-alive connection waits for its next request.
    #[arg(long, env = "MUSIC_REQUEST_START_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_start_timeout: Duration,

    /// How long a connection may stay open with no request in flight; then
    /// it is closed (h2: GOAWAY first). HTTP/1 keep-alive connections are held
    /// to --request-start-timeout between requests, as nginx's are.
    #[arg(long, env = "MUSIC_IDLE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// How long a request's body may take to arrive whole after its headers;
    /// a slower one is refused (HTTP 408, gRPC DEADLINE_EXCEEDED).
    #[arg(long, env = "MUSIC_BODY_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,

    /// HTTP/2 streams one connection may have open at once
    /// (SETTINGS_MAX_CONCURRENT_STREAMS; 100 as Envoy and nginx advise).
    #[arg(long, env = "MUSIC_MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    pub max_concurrent_streams: u32,

    /// How often an HTTP/2 connection is pinged, to find peers that went away.
    #[arg(long, env = "MUSIC_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub keepalive_interval: Duration,

    /// How long a ping may go unanswered before the connection is closed.
    #[arg(long, env = "MUSIC_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub keepalive_timeout: Duration,

    /// Request-body bytes one connection may hold in flight, over all its
    /// streams; a stream that would go over is refused at once.
    #[arg(long, env = "MUSIC_MAX_CONNECTION_BODY_BYTES", default_value_t = 32 * MIB)]
    pub max_connection_body_bytes: usize,

    /// Request-body bytes all connections of one server may hold in flight.
    #[arg(long, env = "MUSIC_MAX_BUFFERED_BODY_BYTES", default_value_t = 128 * MIB)]
    pub max_buffered_body_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        crate::settings::defaults()
    }
}

/// Which byte budget a refused body went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    Connection,
    Server,
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body did not arrive within {} s", limit.as_secs_f64())]
    TimedOut { limit: Duration },
    #[error(
        "the request bodies in flight on this {} would exceed {limit} bytes; retry shortly",
        match scope { BudgetScope::Connection => "connection", BudgetScope::Server => "server" }
    )]
    OverBudget { scope: BudgetScope, limit: usize },
    #[error("the request body could not be read: {0}")]
    Read(#[source] hyper::Error),
}

/// The two byte budgets a body counts against.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    connection: Option<Arc<Budget>>,
    server: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl Budget {
    fn new(limit: usize) -> Arc<Self> {
        // A semaphore holds at most `Semaphore::MAX_PERMITS`.
        let limit = limit.min(Semaphore::MAX_PERMITS);
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        })
    }
}

impl BodyBudget {
    /// A server's budget, shared by all its connections.
    pub fn new(server_limit: usize) -> Self {
        Self {
            connection: None,
            server: Budget::new(server_limit),
        }
    }

    /// The budget of one new connection of this server.
    pub fn for_connection(&self, connection_limit: usize) -> Self {
        Self {
            connection: Some(Budget::new(connection_limit)),
            server: Arc::clone(&self.server),
        }
    }

    /// Takes `bytes` from both budgets, or says which one is spent.
    fn take(&self, bytes: usize) -> Result<Vec<OwnedSemaphorePermit>, BodyError> {
        let take = |budget: &Budget, scope| {
            u32::try_from(bytes)
                .ok()
                .and_then(|n| Arc::clone(&budget.permits).try_acquire_many_owned(n).ok())
                .ok_or(BodyError::OverBudget {
                    scope,
                    limit: budget.limit,
                })
        };
        let mut permits = Vec::with_capacity(2);
        if let Some(connection) = &self.connection {
            permits.push(take(connection, BudgetScope::Connection)?);
        }
        permits.push(take(&self.server, BudgetScope::Server)?);
        Ok(permits)
    }
}

pin_project_lite::pin_project! {
    /// A request body held to a read deadline and to its connection's and
    /// server's byte budgets (see the module docs).
    pub struct LimitedBody {
        #[pin]
        inner: Incoming,
        budget: BodyBudget,
        // Released when the body is dropped: bytes count while they may be buffered.
        held: Vec<OwnedSemaphorePermit>,
        deadline: Instant,
        limit: Duration,
        // Armed only when the body is not ready at once, so that a request whose
        // body is already here costs no timer.
        #[pin]
        timer: Option<Sleep>,
        failed: bool,
    }
}

impl LimitedBody {
    pub fn new(inner: Incoming, budget: BodyBudget, limit: Duration) -> Self {
        Self {
            inner,
            budget,
            held: Vec::new(),
            deadline: Instant::now() + limit,
            limit,
            timer: None,
            failed: false,
        }
    }
}

impl std::fmt::Debug for LimitedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitedBody")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    match this.budget.take(data.len()) {
                        Ok(permits) => this.held.extend(permits),
                        Err(error) => {
                            *this.failed = true;
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(BodyError::Read(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.timer.is_none() {
                    this.timer
                        .set(Some(tokio::time::sleep_until(*this.deadline)));
                }
                let timer = this.timer.as_pin_mut().expect("armed above");
                match timer.poll(cx) {
                    Poll::Ready(()) => {
                        *this.failed = true;
                        Poll::Ready(Some(Err(BodyError::TimedOut { limit: *this.limit })))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
