//! The one way both programs serve a listener: accept, TLS when configured,
//! HTTP/1.1 and/or h2 with hyper, every connection held to [`ConnectionLimits`],
//! and a drain bounded by a grace period when the shutdown future resolves.
//!
//! Why our own loop rather than `axum::serve` or tonic's server: neither closes
//! a connection that never starts a request (hyper's header timeout starts only
//! once HTTP/1 vs h2 is decided, and h2 has none), nor one that stays idle, nor
//! bounds the request bytes a connection may hold; and a single loop gives the
//! gateway, the gRPC server and the admin endpoints one drain instead of three.
//!
//! Per connection: the TLS handshake and the first request's headers must come
//! within `request_start_timeout`; then a connection with no request in flight
//! for `idle_timeout` is shut down gracefully (HTTP/1: closed; h2: GOAWAY) and
//! cut [`CLOSE_GRACE`] later if the peer holds it open. Request bodies are
//! [`LimitedBody`]: read within `body_read_timeout`, counted against the
//! connection's and the server's byte budgets (see [`crate::limits`]).

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;
use tower::{BoxError, Service};

use crate::limits::{BodyBudget, ConnectionLimits, LimitedBody};

/// How long a connection shut down for idleness may take to close before it is cut.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Which HTTP versions a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/1.1 and h2 (ALPN, or the client's preface in plaintext).
    Http1AndHttp2,
    /// h2 only, as gRPC needs.
    Http2Only,
}

/// A listener to serve, and how.
pub struct Listener {
    pub listener: TcpListener,
    /// The name logged with the address (`listening on ADDR protocol="grpc"`).
    pub protocol: &'static str,
    pub protocols: Protocols,
    pub tls: Option<TlsAcceptor>,
    pub limits: ConnectionLimits,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("listener", &self.listener)
            .field("protocol", &self.protocol)
            .field("protocols", &self.protocols)
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish()
    }
}

/// What a connection's service is made from.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
}

/// Requests being answered by one server, for the drain's log lines.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Serves `listener` until `shutdown` resolves, with a service made per
/// connection by `make`. Then it stops accepting (the listening socket is
/// closed at once), asks every connection to finish (HTTP/1: after the request
/// in flight; h2: GOAWAY), and waits for them at most `grace`; what is still
/// running then is cut, and logged.
pub async fn serve<M, S, B>(
    listener: Listener,
    make: M,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    M: Fn(Peer) -> S,
    S: Service<Request<LimitedBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let Listener {
        listener,
        protocol,
        protocols,
        tls,
        limits,
    } = listener;
    let addr = listener.local_addr()?;
    tracing::info!(protocol, "listening on {addr}");
    let builder = http_builder(protocols, &limits);
    let budget = BodyBudget::new(limits.max_buffered_body_bytes);
    let in_flight = InFlight::default();
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(protocol, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connections so that the set does not grow without end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builder: builder.clone(),
            limits: limits.clone(),
            budget: budget.for_connection(limits.max_connection_body_bytes),
            in_flight: in_flight.clone(),
            draining: draining.clone(),
            peer,
        };
        let service = make(Peer { addr: peer });
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => connection.serve(stream, service).await,
                Some(acceptor) => connection.serve_tls(stream, acceptor, service).await,
            }
        });
    }
    // Refuse new connections at once; only the open ones are waited for.
    drop(listener);
    let server = server_name(protocol);
    tracing::info!(
        protocol,
        in_flight = in_flight.get(),
        connections = connections.len(),
        "{server} server draining"
    );
    let _ = drain.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            protocol,
            cut = in_flight.get(),
            "grace period of {}s is over; cutting the requests still in flight",
            grace.as_secs()
        );
        connections.shutdown().await;
    }
    tracing::info!(protocol, "{server} server stopped");
    Ok(())
}

/// How the logs name a server: `gRPC server stopped`.
fn server_name(protocol: &str) -> &str {
    match protocol {
        "grpc" => "gRPC",
        "http" => "HTTP",
        "https" => "HTTPS",
        other => other,
    }
}

fn http_builder(protocols: Protocols, limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if protocols == Protocols::Http2Only {
        builder = builder.http2_only();
    }
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_start_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout);
    builder
}

/// One accepted connection and what it is held to.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    limits: ConnectionLimits,
    budget: BodyBudget,
    in_flight: InFlight,
    draining: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl Connection {
    async fn serve_tls<S, B>(self, stream: TcpStream, acceptor: TlsAcceptor, service: S)
    where
        S: Service<Request<LimitedBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // The handshake counts against the time to the first request.
        let peer = self.peer;
        match tokio::time::timeout(self.limits.request_start_timeout, acceptor.accept(stream)).await
        {
            Ok(Ok(stream)) => self.serve(stream, service).await,
            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        }
    }

    async fn serve<I, S, B>(self, io: I, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Service<Request<LimitedBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let Self {
            builder,
            limits,
            budget,
            in_flight,
            mut draining,
            peer,
        } = self;
        let activity = Activity::default();
        let tracked = Tracked {
            inner: service,
            activity: activity.clone(),
            in_flight,
            budget,
            body_read_timeout: limits.body_read_timeout,
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(tracked));
        tokio::pin!(connection);
        let idle = activity.idle(limits.request_start_timeout, limits.idle_timeout);
        tokio::pin!(idle);
        let mut cut_at = None;
        let mut drain_seen = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                () = &mut idle, if cut_at.is_none() => {
                    tracing::debug!(%peer, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    cut_at = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                }
                () = sleep_until(cut_at) => {
                    tracing::debug!(%peer, "cutting a connection that did not close");
                    return;
                }
                drain = draining.wait_for(|d| *d), if !drain_seen => {
                    // Once is enough; the drain's grace period bounds the rest.
                    drain_seen = true;
                    if drain.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A connection's requests: how many are in flight, how many have started,
/// and when the last one ended. Atomics that the requests write and a lazy
/// timer reads (see [`Activity::idle`]): a channel that woke the connection's
/// task at every request's start and end, and a timer set and cancelled per
/// request, cost the gateway about 3 % of its CPU (BENCHMARKS.md).
#[derive(Debug, Clone)]
struct Activity(Arc<Counts>);

#[derive(Debug)]
struct Counts {
    active: AtomicUsize,
    started: AtomicU64,
    /// When the last request ended, in nanoseconds since `opened`.
    last_end: AtomicU64,
    opened: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Self(Arc::new(Counts {
            active: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            opened: Instant::now(),
        }))
    }
}

impl Activity {
    fn begin(&self, in_flight: &InFlight) -> ActiveGuard {
        self.0.active.fetch_add(1, Ordering::SeqCst);
        self.0.started.fetch_add(1, Ordering::SeqCst);
        in_flight.0.fetch_add(1, Ordering::Relaxed);
        ActiveGuard {
            activity: self.clone(),
            in_flight: in_flight.clone(),
        }
    }

    /// Resolves once the connection has had no request in flight for
    /// `first` (before its first request) or `idle` (after it). It sleeps
    /// until the earliest moment that could be so and looks then: while
    /// requests come and go it wakes about once an `idle`, not once a request.
    async fn idle(self, first: Duration, idle: Duration) {
        let counts = &*self.0;
        let mut deadline = counts.opened + first;
        loop {
            tokio::time::sleep_until(deadline.into()).await;
            // The guard's order reversed: no request in flight first, then
            // when the last one ended (written before the count fell), then
            // no request begun meanwhile.
            let started = counts.started.load(Ordering::SeqCst);
            if counts.active.load(Ordering::SeqCst) > 0 {
                deadline = Instant::now() + idle;
                continue;
            }
            let quiet_since =
                counts.opened + Duration::from_nanos(counts.last_end.load(Ordering::SeqCst));
            if counts.started.load(Ordering::SeqCst) != started
                || counts.active.load(Ordering::SeqCst) > 0
            {
                deadline = Instant::now() + idle;
                continue;
            }
            let due = if started == 0 {
                counts.opened + first
            } else {
                quiet_since + idle
            };
            if Instant::now() >= due {
                return;
            }
            deadline = due;
        }
    }
}

/// Counts a request as in flight until its answer has been sent (or dropped).
#[derive(Debug)]
struct ActiveGuard {
    activity: Activity,
    in_flight: InFlight,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let counts = &*self.activity.0;
        // The end is written before the count falls, so that whoever sees
        // no request in flight sees when the last one ended.
        let since = counts.opened.elapsed().as_nanos();
        counts
            .last_end
            .fetch_max(u64::try_from(since).unwrap_or(u64::MAX), Ordering::SeqCst);
        counts.active.fetch_sub(1, Ordering::SeqCst);
        self.in_flight.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's service: bodies limited on the way in, the request
/// counted as active until its answer's body is done.
#[derive(Debug, Clone)]
struct Tracked<S> {
    inner: S,
    activity: Activity,
    in_flight: InFlight,
    budget: BodyBudget,
    body_read_timeout: Duration,
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<LimitedBody>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<TrackedBody<B>>;
    type Error = BoxError;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin(&self.in_flight);
        let request =
            request.map(|body| LimitedBody::new(body, self.budget.clone(), self.body_read_timeout));
        TrackedFuture {
            inner: self.inner.call(request),
            guard: Some(guard),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of a [`Tracked`] service, its body carrying the request's guard.
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        guard: Option<ActiveGuard>,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<TrackedBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx)).map_err(Into::into)?;
        let guard = this
            .guard
            .take()
            .expect("a future is not polled after it is ready");
        Poll::Ready(Ok(response.map(|inner| TrackedBody {
            inner,
            _guard: guard,
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as active until it ends.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        _guard: ActiveGuard,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_millis(100);
    const IDLE: Duration = Duration::from_millis(600);
    /// What a loaded machine may add to a timer, for the upper bounds.
    const SLACK: Duration = Duration::from_secs(2);

    fn idle_of(activity: &Activity) -> tokio::task::JoinHandle<Instant> {
        let watched = activity.clone().idle(FIRST, IDLE);
        tokio::spawn(async move {
            watched.await;
            Instant::now()
        })
    }

    #[tokio::test]
    async fn a_connection_without_a_request_is_idle_after_the_first_limit() {
        let activity = Activity::default();
        let idle_at = idle_of(&activity).await.unwrap();
        let after = idle_at - activity.0.opened;
        assert!(after >= FIRST && after < FIRST + SLACK, "{after:?}");
    }

    #[tokio::test]
    async fn a_request_in_flight_holds_the_connection_however_long_it_takes() {
        let activity = Activity::default();
        let in_flight = InFlight::default();
        let idle = idle_of(&activity);
        let guard = activity.begin(&in_flight);
        // Three idle limits with a request in flight: not idle.
        tokio::time::sleep(3 * IDLE).await;
        assert!(!idle.is_finished(), "idle with a request in flight");
        let ended = Instant::now();
        drop(guard);
        let after = idle.await.unwrap() - ended;
        assert!(after >= IDLE && after < IDLE + SLACK, "{after:?}");
        assert_eq!(in_flight.0.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn requests_closer_than_the_idle_limit_keep_it_open() {
        let activity = Activity::default();
        let in_flight = InFlight::default();
        let idle = idle_of(&activity);
        // Ten short requests, a sixth of the idle limit apart.
        let mut last = Instant::now();
        for _ in 0..10 {
            drop(activity.begin(&in_flight));
            last = Instant::now();
            tokio::time::sleep(IDLE / 6).await;
            assert!(!idle.is_finished(), "idle between requests");
        }
        let after = idle.await.unwrap() - last;
        assert!(after >= IDLE && after < IDLE + SLACK, "{after:?}");
    }
}
