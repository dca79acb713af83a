//! Starts the gateway from its settings and serves its listeners until the
//! shutdown future resolves, each through music-runtime's one serving loop:
//! the public REST listener (the router below: request ids, the access log,
//! the tutorial's routes, and `/healthz` and `/readyz` for load balancers),
//! the admin listener, and, without `--upstream` (feature `in-process`), the
//! in-process music-service's gRPC listener.

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    response::{IntoResponse, Response},
};
use futures_util::future::Either;
use http::{StatusCode, header};
use music_api::wire;
use music_runtime::{
    admin::{Admin, Paths, ReadinessCheck},
    limits::ConnectionLimits,
    serve::{self, Listener, Protocols},
    tls::{self, Alpn},
};
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{
    access::{self, AccessLog, template::Template},
    edge::{self, Edge, EdgeError, usage::Flush},
    error::ApiError,
    execution::ExecutionLog,
    request::{MakeRequestUuid, X_REQUEST_ID},
    resource::ResourceNames,
    rest::{self, Descriptors, Rest},
    settings::GatewaySettings,
    state::Gateway,
    tutorial::{self, Tutorial, routes::RouteTable},
    upstream::{self, Upstream},
};

/// How long a lazy channel waits for the service's TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `/readyz` waits for the service's health answer.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the gateway could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] music_runtime::tls::TlsError),
    #[error(transparent)]
    UpstreamTls(#[from] music_runtime::pem::PemError),
    #[error("cannot set up the channel to the music service: {0}")]
    Upstream(#[from] tonic::transport::Error),
    #[cfg(feature = "in-process")]
    #[error(transparent)]
    Service(#[from] music_service::StartError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error(
        "no --upstream given, and this build cannot run the service in-process (feature `in-process`)"
    )]
    NoService,
    #[error(transparent)]
    Rest(#[from] rest::RestError),
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error("--access-log-format: {0}")]
    AccessLogFormat(String),
}

/// The gateway's public routes: the tutorial's, the `/v1` routes and
/// `/openapi.json` (`rest`), and `/healthz` and `/readyz` for load balancers
/// (`/metrics` is on the admin listener only).
pub fn router(tutorial: Tutorial, rest: Arc<Rest>) -> Router {
    let probes = Admin::new(readiness_check(&tutorial.gateway.upstream), Paths::Probes);
    // /v1 and the tutorial's routes are told apart in the fallback (see
    // `rest::V1`), the tutorial's taking every other path.
    let v1 = rest::V1::new(Arc::clone(&rest), tutorial.gateway.clone());
    Router::new()
        .route_service("/healthz", probes.clone())
        .route_service("/readyz", probes)
        .merge(rest::router(Arc::clone(&rest)))
        .fallback(
            move |State(tutorial): State<Arc<Tutorial>>, request: Request| async move {
                if rest::is_v1(request.uri().path()) {
                    v1.serve(request).await
                } else {
                    tutorial::dispatch(State(tutorial), request).await
                }
            },
        )
        .with_state(Arc::new(tutorial))
}

/// What every request passes through before its route, outermost first: an
/// unusable request id dropped, a fresh one set (and echoed), the access log,
/// the edge (inside the log, so that its refusals are logged; CORS, when set,
/// on what it lets through), the Host check. One stack of static types
/// around the whole router: `Router::layer` would wrap each route in it, and
/// axum's `from_fn` boxes and clones the stack inside it, per request.
pub fn app(
    router: Router,
    edge: Edge,
    access: AccessLog,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    ServiceBuilder::new()
        .map_request(drop_unusable_request_id)
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(access::AccessLayer::new(access))
        .layer(edge::EdgeLayer::new(edge))
        .layer(tower::layer::layer_fn(RequireHost))
        .service(router)
}

/// The admin listener's endpoints: `/healthz`, `/readyz` and `/metrics`.
pub fn admin_endpoints(upstream: &Upstream) -> Admin {
    Admin::new(readiness_check(upstream), Paths::All)
}

/// Readiness: the service answers its health check with SERVING, which it
/// does only while its store answers.
fn readiness_check(upstream: &Upstream) -> ReadinessCheck {
    let upstream = upstream.clone();
    Arc::new(move || {
        let upstream = upstream.clone();
        Box::pin(async move { upstream.ready(READINESS_TIMEOUT).await })
    })
}

/// An HTTP/1.1 request without exactly one valid Host is 400 (RFC 9112,
/// section 3.2): a static layer around the router.
#[derive(Debug, Clone)]
struct RequireHost<S>(S);

impl<S> Service<Request> for RequireHost<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<std::future::Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.version() == http::Version::HTTP_11 && !has_one_valid_host(&request) {
            return Either::Left(std::future::ready(Ok(ApiError::message(
                StatusCode::BAD_REQUEST,
                "An HTTP/1.1 request needs exactly one valid Host header.",
            )
            .into_response())));
        }
        Either::Right(self.0.call(request))
    }
}

fn has_one_valid_host(request: &Request) -> bool {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host
            .to_str()
            .ok()
            .is_some_and(|h| h.parse::<http::uri::Authority>().is_ok()),
        _ => false,
    }
}

/// An `x-request-id` that is not a usable id (blank, over 128 characters,
/// not visible ASCII) is dropped, so that a fresh one is made for the request
/// and the received one is neither echoed, logged nor forwarded.
fn drop_unusable_request_id(mut request: Request) -> Request {
    let unusable = request
        .headers()
        .get_all(&X_REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(n, id)| n > 0 || !wire::is_valid_request_id(id.as_bytes()));
    if unusable {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// The listeners the gateway serves, bound by the caller (port 0 in tests).
#[derive(Debug)]
pub struct Listeners {
    /// The public REST listener.
    pub http: TcpListener,
    /// The in-process service's gRPC listener (unused with an upstream).
    pub grpc: Option<TcpListener>,
    /// The admin endpoint (`/metrics`, `/healthz`, `/readyz`).
    pub admin: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses the settings name: the REST listener, the admin
    /// listener, and the in-process service's gRPC listener when there is no
    /// upstream.
    pub async fn bind(settings: &GatewaySettings) -> Result<Self, StartError> {
        let bind = |what, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { what, addr, source })
        };
        Ok(Self {
            http: bind("REST", settings.listen).await?,
            admin: Some(bind("admin", settings.admin_listen).await?),
            grpc: match settings.upstream {
                None => Some(bind("gRPC", settings.grpc_listen).await?),
                Some(_) => None,
            },
        })
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    settings: GatewaySettings,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // Record from the start: the first scrape must see what came before it.
    crate::metrics::prometheus();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };

    let acceptor = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key, None, Alpn::Http2AndHttp1)?),
        _ => None,
    };
    let Listeners { http, grpc, admin } = listeners;
    // The /v1 routes and their document, from the descriptors: a rule that
    // cannot be served stops the start here, before anything serves.
    let routes = RouteTable::new(&settings.stage);
    let descriptors = Descriptors::load(&settings.proto_descriptors)?;
    let rest = Arc::new(Rest::new(&descriptors, &routes)?);
    // The edge and the access log: a policy, usage-plan file or template
    // that does not parse stops the start here too. /v1 requests are named
    // by the REST module's templates.
    let names = ResourceNames::new(routes.clone()).with_v1(Arc::new(rest.namer()));
    let edge = Edge::new(&settings.edge, &settings.stage, names)?;
    #[cfg(unix)]
    edge.reload_on_hangup()?;
    let access = AccessLog {
        format: match &settings.access_log_format {
            Some(text) => Some(Arc::new(
                Template::parse(text).map_err(StartError::AccessLogFormat)?,
            )),
            None => None,
        },
        stage: settings.stage.as_str().into(),
        api_id: settings.edge.api_id.as_str().into(),
        account_id: settings.edge.account_id.as_str().into(),
        ..AccessLog::new(routes.clone())
    };
    let limits = settings.connections.clone();
    let grace = settings.shutdown_grace;
    let serve_gateway = |upstream: Upstream, stopped| {
        let tutorial = Tutorial {
            gateway: Gateway {
                upstream: upstream.clone(),
                timeout: settings.timeout,
            },
            routes: routes.clone(),
            error_mode: settings.errors,
            integration: settings.integration,
            execution: ExecutionLog {
                mode: settings.execution_log,
                max_body: settings.execution_log_max_body,
                messages: descriptors.pool().clone(),
            },
        };
        let usage = edge.attach(&upstream);
        let flushes = usage.clone().map(|usage| usage.run(until_stopped()));
        let rest = serve_rest(
            http,
            app(router(tutorial, rest), edge, access),
            acceptor,
            limits.clone(),
            grace,
            stopped,
        );
        let admin = serve_admin(admin, admin_endpoints(&upstream), until_stopped());
        async move {
            // Quotas start from the totals every replica counted so far.
            if let Some(usage) = &usage {
                usage.flush_logged(Flush::All).await;
            }
            let flushes = flushes.map(tokio::spawn);
            let (rest, admin) = tokio::join!(rest, admin);
            // What the drain's last requests counted.
            if let Some(usage) = &usage {
                if let Some(flushes) = flushes {
                    let _ = flushes.await;
                }
                usage.flush_logged(Flush::All).await;
            }
            rest.and(admin)
        }
    };

    match (&settings.upstream, grpc) {
        (Some(uri), _) => {
            tracing::info!(upstream = %uri, "pure gateway");
            let client_tls = if uri.scheme_str() == Some("https") {
                let identity = settings
                    .upstream_client_cert
                    .as_deref()
                    .zip(settings.upstream_client_key.as_deref());
                Some(upstream::client_tls(
                    settings.upstream_ca.as_deref(),
                    identity,
                    settings.upstream_tls_domain.as_deref(),
                )?)
            } else {
                None
            };
            let upstream = Upstream::connect_lazy(
                uri.clone(),
                CONNECT_TIMEOUT,
                client_tls,
                usize::from(settings.upstream_connections),
            )?;
            serve_gateway(upstream, until_stopped()).await?;
            Ok(())
        }
        #[cfg(feature = "in-process")]
        (None, Some(grpc)) => {
            let service =
                music_service::MusicService::build_with(&settings.store, &settings.rpc).await?;
            let upstream = Upstream::in_process(service.routes());
            // The service (and its store) outlives the gateway's drain, whose
            // last step is the quotas' final flush through it; it says
            // NOT_SERVING at the signal all the same.
            let (gateway_done, gateway_stopped) = tokio::sync::oneshot::channel::<()>();
            let (health, readiness) = (service.health().clone(), service.readiness().clone());
            let signalled = until_stopped();
            tokio::spawn(async move {
                signalled.await;
                music_service::health::set_serving(&health, &readiness, false).await;
            });
            let gateway = serve_gateway(upstream, until_stopped());
            let (rest, rpc) = tokio::join!(
                async move {
                    let served = gateway.await;
                    let _ = gateway_done.send(());
                    served
                },
                service
                    .with_limits(limits.clone())
                    .with_shutdown_grace(grace)
                    .serve(grpc, async move {
                        let _ = gateway_stopped.await;
                    }),
            );
            rest?;
            rpc?;
            Ok(())
        }
        (None, _) => Err(StartError::NoService),
    }
}

/// Serves the public REST API (HTTPS with an acceptor), each connection's
/// requests carrying the peer's address for the access log and the edge.
async fn serve_rest<A>(
    listener: TcpListener,
    app: A,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    grace: Duration,
    stopped: impl Future<Output = ()> + Send,
) -> Result<(), StartError>
where
    A: Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    A::Future: Send + 'static,
{
    let protocol = if tls.is_some() { "https" } else { "http" };
    let listener = Listener {
        listener,
        protocol,
        protocols: Protocols::Http1AndHttp2,
        tls,
        limits,
    };
    serve::serve(
        listener,
        move |peer| {
            let peer = ConnectInfo(peer.addr);
            app.clone().map_request(move |request: http::Request<_>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(peer);
                request
            })
        },
        grace,
        stopped,
    )
    .await?;
    Ok(())
}

/// Serves the admin endpoint, when it has a listener.
async fn serve_admin(
    listener: Option<TcpListener>,
    admin: music_runtime::admin::Admin,
    stopped: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let Some(listener) = listener else {
        return Ok(());
    };
    music_runtime::admin::serve(listener, admin, stopped).await?;
    Ok(())
}
