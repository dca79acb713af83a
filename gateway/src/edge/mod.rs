//! The edge: what API Gateway does to a request before its integration runs,
//! for both route families, in API Gateway's order: the resource policy
//! (`policy`, with the source address and VPC ids of `network`) → the API key
//! (`keys`) → throttling (`throttle`) and the quota (`usage`) → CORS
//! (tower-http's `CorsLayer`, so preflights are answered here) → the call.
//! Each refusal is API Gateway's answer, counted in
//! `music_edge_refusals_total{reason}` and told to the access log (`facts`).
//!
//! The hot path allocates nothing it can avoid: patterns are compiled at
//! load, the request's ARN is written into a per-thread buffer, keys are
//! looked up by their hash, and the policy is read through an `ArcSwap`
//! (swapped whole on SIGHUP, so a reload never stalls or loses a request).

pub mod keys;
pub mod network;
pub mod pattern;
pub mod policy;
pub mod throttle;
pub mod usage;

use std::{
    cell::{LazyCell, RefCell},
    convert::Infallible,
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use arc_swap::ArcSwap;
use axum::{
    extract::{ConnectInfo, Request},
    response::{IntoResponse, Response},
};
use clap::Args;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use ipnet::IpNet;
use tower::{Layer, ServiceExt, service_fn};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

use self::{
    keys::{Presented, UsagePlans},
    network::{NamedNet, Network},
    policy::{ApiArn, Decision, Policy, Subject},
    throttle::{MethodThrottle, StageThrottle, Throttle},
    usage::Usage,
};
use crate::{
    error::ApiError,
    facts::{EdgeFacts, Refusal},
    resource::ResourceNames,
    upstream::Upstream,
};

pub const EDGE_REFUSALS: &str = "music_edge_refusals_total";

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

fn parse_net_arg(text: &str) -> Result<IpNet, String> {
    network::parse_net(text)
}

/// The edge's settings.
#[derive(Debug, Clone, Args)]
pub struct EdgeSettings {
    /// Resource policy (IAM policy JSON, as API Gateway takes it) that every
    /// request must be allowed by. SIGHUP reloads it; a file that does not
    /// parse then keeps the policy in force (and is logged).
    #[arg(long, env = "MUSIC_GATEWAY_RESOURCE_POLICY")]
    pub resource_policy: Option<PathBuf>,

    /// Proxies (CIDRs or addresses, comma-separated or repeated) whose
    /// `X-Forwarded-For` names the caller; from any other peer the header is ignored.
    #[arg(long, env = "MUSIC_GATEWAY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net_arg)]
    pub trusted_proxies: Vec<IpNet>,

    /// A VPC's address range, `vpc-0abc=10.0.0.0/16`, for the policy's
    /// `aws:SourceVpc` (repeatable; the most specific range wins).
    #[arg(long = "vpc", env = "MUSIC_GATEWAY_VPC", value_delimiter = ';')]
    pub vpcs: Vec<NamedNet>,

    /// A VPC endpoint's address range, `vpce-0def=10.1.0.0/24`, for
    /// `aws:SourceVpce` (repeatable).
    #[arg(
        long = "vpc-endpoint",
        env = "MUSIC_GATEWAY_VPC_ENDPOINT",
        value_delimiter = ';'
    )]
    pub vpc_endpoints: Vec<NamedNet>,

    /// Region of this API's ARN (`arn:aws:execute-api:REGION:…`), as the policy names it.
    #[arg(long, env = "MUSIC_GATEWAY_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Account id of this API's ARN.
    #[arg(long, env = "MUSIC_GATEWAY_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// API id of this API's ARN (`…:ACCOUNT:API-ID/stage/METHOD/path`).
    #[arg(long, env = "MUSIC_GATEWAY_API_ID", default_value = "music-api")]
    pub api_id: String,

    /// API keys and usage plans (TOML, or JSON for a `.json` file): plans
    /// with throttles and quotas, keys as SHA-256 hashes, the methods that
    /// need a key. See the README's "Protecting the API".
    #[arg(long, env = "MUSIC_GATEWAY_USAGE_PLANS")]
    pub usage_plans: Option<PathBuf>,

    /// How often the quota counts of a key near its quota are sent to the
    /// service's usage table (near: the quota could be spent within two
    /// `--usage-flush-max-interval`s at the rate the key is used): `1s`; a
    /// bare number is milliseconds.
    #[arg(long, env = "MUSIC_GATEWAY_USAGE_FLUSH_INTERVAL", default_value = "1s", value_parser = music_runtime::settings::millis)]
    pub usage_flush_interval: Duration,

    /// How long the counts of a key far from its quota may wait before they
    /// are sent (a crash loses at most this much of them), and how stale its
    /// total of every replica's counts may grow: `10s`; a bare number is
    /// milliseconds. At least `--usage-flush-interval`.
    #[arg(long, env = "MUSIC_GATEWAY_USAGE_FLUSH_MAX_INTERVAL", default_value = "10s", value_parser = music_runtime::settings::millis)]
    pub usage_flush_max_interval: Duration,

    /// The stage's throttle: requests a second, shared by every caller (API
    /// Gateway's account default).
    #[arg(long, env = "MUSIC_GATEWAY_THROTTLE_RATE", default_value_t = 10_000.0)]
    pub throttle_rate: f64,

    /// The stage's burst: requests at once above the rate.
    #[arg(long, env = "MUSIC_GATEWAY_THROTTLE_BURST", default_value_t = 5_000)]
    pub throttle_burst: u32,

    /// A method's own throttle, `RESOURCE/METHOD=RATE:BURST`, e.g.
    /// `/DemoResourceMusic/DemoResourceMusicItem/GET=100:50` or
    /// `/v1/*/GET=50:10` (repeatable; taken besides the stage's).
    #[arg(
        long = "method-throttle",
        env = "MUSIC_GATEWAY_METHOD_THROTTLE",
        value_delimiter = ';'
    )]
    pub method_throttles: Vec<MethodThrottle>,

    /// Origins allowed to call from a browser (`https://app.example`, or `*`);
    /// unset, no CORS headers are sent and preflights are not answered.
    #[arg(long, env = "MUSIC_GATEWAY_CORS_ALLOW_ORIGIN", value_delimiter = ',')]
    pub cors_allow_origin: Vec<String>,

    /// Methods a browser may use.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_CORS_ALLOW_METHODS",
        value_delimiter = ',',
        default_value = "GET,PUT,POST,PATCH,DELETE,OPTIONS"
    )]
    pub cors_allow_methods: Vec<Method>,

    /// Request headers a browser may send: API Gateway's CORS defaults and
    /// the tutorial's parameter headers.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_CORS_ALLOW_HEADERS",
        value_delimiter = ',',
        default_value = "content-type,x-amz-date,authorization,x-api-key,x-amz-security-token,x-request-id,if-match,if-none-match,table,artist,songtitle,albumtitle"
    )]
    pub cors_allow_headers: Vec<HeaderName>,

    /// Response headers a browser's script may read.
    #[arg(
        long,
        env = "MUSIC_GATEWAY_CORS_EXPOSE_HEADERS",
        value_delimiter = ',',
        default_value = "x-request-id,x-amzn-requestid,x-amzn-trace-id,etag,retry-after"
    )]
    pub cors_expose_headers: Vec<HeaderName>,

    /// How long a browser may cache a preflight's answer: `10m`; a bare number is seconds.
    #[arg(long, env = "MUSIC_GATEWAY_CORS_MAX_AGE", default_value = "10m", value_parser = music_runtime::settings::seconds)]
    pub cors_max_age: Duration,
}

/// Why the edge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("resource policy {}: {error}", path.display())]
    Policy {
        path: PathBuf,
        error: policy::PolicyError,
    },
    #[error("usage plans {}: {error}", path.display())]
    UsagePlans { path: PathBuf, error: String },
    #[error("--cors-allow-origin: {0}")]
    Cors(String),
    #[error("--throttle-rate: {0}")]
    Throttle(String),
    #[error("{0}")]
    FlushIntervals(String),
}

/// The policy in force, and where it is reloaded from.
#[derive(Debug)]
struct PolicySource {
    path: PathBuf,
    current: ArcSwap<Policy>,
}

/// The edge, shared by every request.
#[derive(Debug, Clone)]
pub struct Edge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    names: ResourceNames,
    /// The stage as the ARN names it.
    stage: String,
    /// `/Test`, stripped from a path for its ARN.
    prefix: String,
    arn: ApiArn,
    network: Network,
    policy: Option<PolicySource>,
    plans: Option<UsagePlans>,
    /// Set once the way to the service is known (`Edge::attach`).
    usage: std::sync::OnceLock<Arc<Usage>>,
    flushes: usage::FlushIntervals,
    throttle: StageThrottle,
    cors: Option<CorsLayer>,
}

thread_local! {
    /// The request's resource ARN, written per request without allocating.
    static ARN: RefCell<String> = RefCell::new(String::with_capacity(256));
}

impl Edge {
    /// Loads the policy and usage plans the settings name (failing on the
    /// first mistake in either) and sets up the buckets.
    pub fn new(
        settings: &EdgeSettings,
        stage: &str,
        names: ResourceNames,
    ) -> Result<Self, EdgeError> {
        let arn = ApiArn::new(&settings.region, &settings.account_id, &settings.api_id);
        let policy = match &settings.resource_policy {
            None => None,
            Some(path) => {
                let policy = Policy::load(path, &arn).map_err(|error| EdgeError::Policy {
                    path: path.clone(),
                    error,
                })?;
                tracing::info!(
                    path = %path.display(),
                    statements = policy.statements(),
                    "resource policy in force"
                );
                Some(PolicySource {
                    path: path.clone(),
                    current: ArcSwap::from_pointee(policy),
                })
            }
        };
        let plans = match &settings.usage_plans {
            None => None,
            Some(path) => Some(
                UsagePlans::load(path).map_err(|error| EdgeError::UsagePlans {
                    path: path.clone(),
                    error,
                })?,
            ),
        };
        if let Some(plans) = &plans {
            tracing::info!(keys = plans.keys().len(), "usage plans in force");
        }
        let stage_throttle = Throttle {
            rate: settings.throttle_rate,
            burst: settings.throttle_burst,
        };
        stage_throttle.check().map_err(EdgeError::Throttle)?;
        let flushes = usage::FlushIntervals::new(
            settings.usage_flush_interval,
            settings.usage_flush_max_interval,
        )
        .map_err(EdgeError::FlushIntervals)?;
        let stage_name = stage.trim_matches('/');
        Ok(Self {
            inner: Arc::new(Inner {
                names,
                stage: if stage_name.is_empty() {
                    "$default".to_owned()
                } else {
                    stage_name.to_owned()
                },
                prefix: if stage_name.is_empty() {
                    String::new()
                } else {
                    format!("/{stage_name}")
                },
                arn,
                network: Network::new(
                    settings.trusted_proxies.clone(),
                    settings.vpcs.clone(),
                    settings.vpc_endpoints.clone(),
                ),
                policy,
                plans,
                usage: std::sync::OnceLock::new(),
                flushes,
                throttle: StageThrottle::new(stage_throttle, &settings.method_throttles),
                cors: cors_layer(settings)?,
            }),
        })
    }

    /// Counts quotas through `upstream`'s usage service from now on; the
    /// counters, when any key has a quota (their flushes are the caller's
    /// to run: [`Usage::flush`] at start, [`Usage::run`], and once after
    /// the drain).
    pub fn attach(&self, upstream: &Upstream) -> Option<Arc<Usage>> {
        let plans = self.inner.plans.as_ref()?;
        let usage = Usage::new(plans, upstream.usage.clone(), self.inner.flushes);
        if usage.is_empty() {
            return None;
        }
        Some(Arc::clone(self.inner.usage.get_or_init(|| Arc::new(usage))))
    }

    /// Reloads the resource policy on every SIGHUP, for the life of the
    /// process. Installed before serving: SIGHUP's default would end it.
    #[cfg(unix)]
    pub fn reload_on_hangup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        let edge = self.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                edge.reload();
            }
        });
        Ok(())
    }

    /// Reads the policy file again; a policy that does not parse leaves the
    /// one in force.
    pub fn reload(&self) {
        let Some(source) = &self.inner.policy else {
            tracing::info!("SIGHUP: no --resource-policy to reload");
            return;
        };
        match Policy::load(&source.path, &self.inner.arn) {
            Ok(policy) => {
                let statements = policy.statements();
                source.current.store(Arc::new(policy));
                tracing::info!(path = %source.path.display(), statements, "resource policy reloaded");
            }
            Err(error) => tracing::error!(
                path = %source.path.display(),
                %error,
                "the new resource policy does not parse; keeping the policy in force"
            ),
        }
    }

    /// The request's path under the stage, as its ARN names it.
    fn path_in_stage<'p>(&self, path: &'p str) -> &'p str {
        let prefix = self.inner.prefix.as_str();
        match path.strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
            _ => path,
        }
    }
}

fn cors_layer(settings: &EdgeSettings) -> Result<Option<CorsLayer>, EdgeError> {
    if settings.cors_allow_origin.is_empty() {
        return Ok(None);
    }
    let origin = if settings.cors_allow_origin.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .cors_allow_origin
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o.trim())
                        .map_err(|_| EdgeError::Cors(format!("{o:?} is not an origin")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(settings.cors_allow_methods.clone())
            .allow_headers(settings.cors_allow_headers.clone())
            .expose_headers(settings.cors_expose_headers.clone())
            .max_age(settings.cors_max_age),
    ))
}

/// A CORS preflight: OPTIONS asking for a method.
fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// API Gateway's answer to a refusal: its status, body and `x-amzn-ErrorType`.
fn refusal_answer(refusal: Refusal, message: &str, retry: Option<Duration>) -> Response {
    #[derive(serde::Serialize)]
    struct Lower<'a> {
        message: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Upper<'a> {
        #[serde(rename = "Message")]
        message: &'a str,
    }
    let (status, body, error_type) = match refusal {
        Refusal::Policy { .. } => (
            StatusCode::FORBIDDEN,
            serde_json::to_string(&Upper { message }),
            "AccessDeniedException",
        ),
        Refusal::ApiKeyMissing | Refusal::ApiKeyUnknown | Refusal::ApiKeyDisabled => (
            StatusCode::FORBIDDEN,
            serde_json::to_string(&Lower { message }),
            "ForbiddenException",
        ),
        Refusal::Throttled => (
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::to_string(&Lower { message }),
            "TooManyRequestsException",
        ),
        Refusal::QuotaExceeded => (
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::to_string(&Lower { message }),
            "LimitExceededException",
        ),
    };
    let body = body.expect("a message serializes");
    let mut response = ApiError::json(status, body)
        .retry_after(retry)
        .into_response();
    response
        .headers_mut()
        .insert(X_AMZN_ERROR_TYPE, HeaderValue::from_static(error_type));
    response
}

impl Edge {
    /// Refuses `request`: counted, told to the access log, answered (with
    /// CORS headers, so a browser's script can read why, unless it is a
    /// preflight, which a browser then reports as failed).
    async fn refuse(
        &self,
        request: Request,
        mut facts: EdgeFacts,
        refusal: Refusal,
        message: &str,
        retry: Option<Duration>,
    ) -> Response {
        ::metrics::counter!(EDGE_REFUSALS, "reason" => refusal.reason()).increment(1);
        let answer = refusal_answer(refusal, message, retry);
        let mut response = match &self.inner.cors {
            Some(cors) if !is_preflight(&request) => cors
                .layer(service_fn({
                    let mut answer = Some(answer);
                    move |_: Request| {
                        let answer = answer
                            .take()
                            .unwrap_or_else(|| StatusCode::FORBIDDEN.into_response());
                        async move { Ok::<_, Infallible>(answer) }
                    }
                }))
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {}),
            _ => answer,
        };
        facts.refusal = Some(refusal);
        facts.error_message = Some(message.into());
        response.extensions_mut().insert(facts);
        response
    }
}

/// What the edge makes of a request, decided before it goes on.
enum Verdict {
    /// `/healthz` and `/readyz`: the load balancer's, not the API's.
    Untouched,
    /// Served; `facts` go to the access log when it cannot tell them itself.
    Pass { facts: EdgeFacts, peer: IpAddr },
    Refuse {
        facts: EdgeFacts,
        refusal: Refusal,
        message: String,
        retry: Option<Duration>,
    },
}

impl Edge {
    /// API Gateway's order: resource policy → API key → throttling and quota.
    fn verdict(&self, request: &Request) -> Verdict {
        let path = request.uri().path();
        if path == "/healthz" || path == "/readyz" {
            return Verdict::Untouched;
        }
        let inner = &*self.inner;
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let source_ip = inner.network.source_ip(peer, request.headers());
        let vpce = inner.network.vpc_endpoint(source_ip);
        let mut facts = EdgeFacts {
            source_ip: Some(source_ip),
            vpce_id: vpce.cloned(),
            ..EdgeFacts::default()
        };

        if let Some(source) = &inner.policy {
            let policy = source.current.load();
            let denied = ARN.with(|arn| {
                let mut arn = arn.borrow_mut();
                let at = inner.arn.write(
                    &mut arn,
                    &inner.stage,
                    request.method().as_str(),
                    self.path_in_stage(path),
                );
                let subject = Subject {
                    arn: &arn,
                    in_api: &arn[at..],
                    source_ip,
                    vpc: policy
                        .uses_vpc()
                        .then(|| inner.network.vpc(source_ip))
                        .flatten()
                        .map(|v| &**v),
                    vpce: vpce.map(|v| &**v),
                };
                match policy.evaluate(&subject) {
                    Decision::Allow => None,
                    Decision::Deny { explicit } => Some((explicit, inner.arn.masked(&arn))),
                }
            });
            if let Some((explicit, arn)) = denied {
                let message = format!(
                    "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}{}",
                    if explicit {
                        " with an explicit deny"
                    } else {
                        ""
                    }
                );
                return Verdict::Refuse {
                    facts,
                    refusal: Refusal::Policy { explicit },
                    message,
                    retry: None,
                };
            }
        }

        let method = request.method().clone();
        // Named only when a key's plan or a method's bucket asks.
        let resource = LazyCell::new(|| inner.names.name(&method, path));
        let mut key = None;
        // A preflight never carries a key (browsers send none), as API
        // Gateway's CORS OPTIONS methods need none.
        if let Some(plans) = &inner.plans
            && !is_preflight(request)
            && plans.requires_key(resource.as_str(), &method)
        {
            let presented = request.headers().get(X_API_KEY).map(HeaderValue::as_bytes);
            let refusal = match plans.find(presented) {
                Presented::Valid(found, index) => {
                    facts.api_key_id = Some(found.id.clone());
                    key = Some((found, index));
                    None
                }
                Presented::Disabled(found, _) => {
                    facts.api_key_id = Some(found.id.clone());
                    Some(Refusal::ApiKeyDisabled)
                }
                Presented::Unknown => Some(Refusal::ApiKeyUnknown),
                Presented::Missing => Some(Refusal::ApiKeyMissing),
            };
            if let Some(refusal) = refusal {
                return Verdict::Refuse {
                    facts,
                    refusal,
                    message: "Forbidden".to_owned(),
                    retry: None,
                };
            }
        }

        let throttled = match key {
            Some((found, _)) => found.throttle(resource.as_str(), &method),
            None => Ok(()),
        }
        .and_then(|()| inner.throttle.check(|| resource.as_str(), &method));
        if let Err(wait) = throttled {
            return Verdict::Refuse {
                facts,
                refusal: Refusal::Throttled,
                message: "Too Many Requests".to_owned(),
                retry: Some(wait),
            };
        }
        if let (Some(usage), Some((_, index))) = (inner.usage.get(), key)
            && let Err(spent) = usage.take(index)
        {
            return Verdict::Refuse {
                facts,
                refusal: Refusal::QuotaExceeded,
                message: "Limit Exceeded".to_owned(),
                retry: Some(spent.resets_in),
            };
        }
        Verdict::Pass { facts, peer }
    }
}

/// The edge as a layer around every route of both families. A static tower
/// layer, not an axum `from_fn`, which boxes and clones the stack inside it
/// per request.
#[derive(Debug, Clone)]
pub struct EdgeLayer(Edge);

impl EdgeLayer {
    pub fn new(edge: Edge) -> Self {
        Self(edge)
    }
}

impl<S: Clone> Layer<S> for EdgeLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            cors: self
                .0
                .inner
                .cors
                .as_ref()
                .map(|cors| cors.layer(inner.clone())),
            inner,
            edge: self.0.clone(),
        }
    }
}

/// [`EdgeLayer`]'s service. What it lets through goes on with CORS when
/// CORS is set (a refusal gets CORS headers from [`Edge::refuse`]); the
/// load balancer's `/healthz` and `/readyz` go on untouched.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    cors: Option<Cors<S>>,
    edge: Edge,
}

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        std::task::ready!(self.inner.poll_ready(cx))?;
        match &mut self.cors {
            Some(cors) => cors.poll_ready(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.edge.verdict(&request) {
            Verdict::Untouched => GuardFuture::Pass {
                inner: self.inner.call(request),
                facts: None,
            },
            Verdict::Pass { facts, peer } => {
                // Only what the access log cannot tell by itself: no
                // allocation for a request that carried no key from an
                // address of its own.
                let needed = facts.api_key_id.is_some()
                    || facts.vpce_id.is_some()
                    || facts.source_ip != Some(peer);
                let facts = needed.then_some(facts);
                match &mut self.cors {
                    Some(cors) => GuardFuture::PassWithCors {
                        inner: cors.call(request),
                        facts,
                    },
                    None => GuardFuture::Pass {
                        inner: self.inner.call(request),
                        facts,
                    },
                }
            }
            Verdict::Refuse {
                facts,
                refusal,
                message,
                retry,
            } => {
                let edge = self.edge.clone();
                GuardFuture::Refused {
                    answer: Box::pin(async move {
                        Ok(edge.refuse(request, facts, refusal, &message, retry).await)
                    }),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer through the edge: the inner service's (through
    /// CORS or not), with the edge's facts; or the edge's refusal (boxed:
    /// refusals are the rare path).
    #[project = GuardProjection]
    pub enum GuardFuture<F> {
        Pass {
            #[pin]
            inner: F,
            facts: Option<EdgeFacts>,
        },
        PassWithCors {
            #[pin]
            inner: tower_http::cors::ResponseFuture<F>,
            facts: Option<EdgeFacts>,
        },
        Refused {
            answer: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
        },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (answered, facts) = match self.project() {
            GuardProjection::Pass { inner, facts } => (std::task::ready!(inner.poll(cx)), facts),
            GuardProjection::PassWithCors { inner, facts } => {
                (std::task::ready!(inner.poll(cx)), facts)
            }
            GuardProjection::Refused { answer } => return answer.as_mut().poll(cx),
        };
        let Ok(mut response) = answered;
        if let Some(facts) = facts.take() {
            response.extensions_mut().insert(facts);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::GatewaySettings;

    #[test]
    fn the_stage_default_is_api_gateways_account_default() {
        let settings =
            GatewaySettings::try_parse_from(["music-gateway"]).expect("the defaults parse");
        assert_eq!(settings.edge.throttle_rate, 10_000.0);
        assert_eq!(settings.edge.throttle_burst, 5_000);
        assert!(settings.edge.cors_allow_origin.is_empty());
        assert!(settings.edge.resource_policy.is_none());
    }

    #[test]
    fn repeated_flags_collect() {
        let settings = GatewaySettings::try_parse_from([
            "music-gateway",
            "--vpc",
            "vpc-0abc=10.0.0.0/16",
            "--vpc",
            "vpc-1=10.1.0.0/16",
            "--vpc-endpoint",
            "vpce-0def=10.1.0.0/24",
            "--trusted-proxies",
            "10.9.0.0/16,127.0.0.1",
            "--method-throttle",
            "/DemoResourceMusic/DemoResourceMusicItem/GET=100:50",
        ])
        .expect("valid flags");
        assert_eq!(settings.edge.vpcs.len(), 2);
        assert_eq!(settings.edge.vpc_endpoints.len(), 1);
        assert_eq!(settings.edge.trusted_proxies.len(), 2);
        assert_eq!(settings.edge.method_throttles.len(), 1);
        assert!(GatewaySettings::try_parse_from(["music-gateway", "--vpc", "nonsense"]).is_err());
    }
}

/// What the edge costs a request, measured without the network: run with
/// `cargo test -p music-gateway --release --lib edge::cost -- --ignored --nocapture`.
#[cfg(test)]
mod cost {
    use std::{
        net::IpAddr,
        time::{Duration, Instant},
    };

    use http::Method;

    use super::{
        keys::{Presented, UsagePlans, hash_hex},
        policy::{ApiArn, Policy, Subject},
        throttle::{StageThrottle, Throttle},
    };

    /// A policy of 20 statements: 19 Denies that do not match the request
    /// (each with a condition), then the Allow.
    fn policy() -> String {
        let mut statements: Vec<String> = (0..19)
            .map(|n| {
                format!(
                    r#"{{"Sid": "S{n}", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/DELETE/DemoResourceMusic/Other{n}*", "Condition": {{"NotIpAddress": {{"aws:SourceIp": "10.{n}.0.0/16"}}}}}}"#
                )
            })
            .collect();
        statements.push(r#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/*/*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-x"}}}"#.to_owned());
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(",")
        )
    }

    fn plans() -> String {
        let mut text = String::from(
            "api_key_required = [\"*/*\"]\n[[plans]]\nid = \"p\"\nthrottle = { rate = 1000000000, burst = 1000000000 }\n",
        );
        for n in 0..1000 {
            text.push_str(&format!(
                "[[keys]]\nid = \"k{n}\"\nsha256 = \"{}\"\nplan = \"p\"\n",
                hash_hex(&format!("key-value-number-{n:04}-abcdef"))
            ));
        }
        text
    }

    fn per_op(n: u32, mut op: impl FnMut()) -> Duration {
        for _ in 0..n / 10 {
            op();
        }
        let started = Instant::now();
        for _ in 0..n {
            op();
        }
        started.elapsed() / n
    }

    #[test]
    #[ignore = "a measurement; run in release"]
    fn cost() {
        let arn = ApiArn::new("us-east-1", "000000000000", "music-api");
        let policy = Policy::parse(&policy(), &arn).expect("the policy parses");
        let plans = UsagePlans::parse(&plans(), false).expect("the plans parse");
        let stage = StageThrottle::new(
            Throttle {
                rate: 1e9,
                burst: 1_000_000_000,
            },
            &[],
        );
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut buf = String::with_capacity(256);
        let policy_cost = per_op(1_000_000, || {
            let at = arn.write(
                &mut buf,
                "Test",
                "PUT",
                "/DemoResourceMusic/DemoResourceMusicItem",
            );
            let subject = Subject {
                arn: &buf,
                in_api: &buf[at..],
                source_ip: ip,
                vpc: None,
                vpce: None,
            };
            std::hint::black_box(policy.evaluate(&subject));
        });
        let key = b"key-value-number-0500-abcdef";
        let key_cost = per_op(1_000_000, || {
            let Presented::Valid(found, _) = plans.find(Some(std::hint::black_box(key))) else {
                panic!("a valid key");
            };
            std::hint::black_box(
                found.throttle("/DemoResourceMusic/DemoResourceMusicItem", &Method::PUT),
            )
            .ok();
        });
        let throttle_cost = per_op(1_000_000, || {
            std::hint::black_box(
                stage.check(|| "/DemoResourceMusic/DemoResourceMusicItem", &Method::PUT),
            )
            .ok();
        });
        let tutorial = Policy::parse(
            r#"{"Version": "2012-10-17","Statement": [{"Effect": "Deny","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*","Condition": {"StringNotEquals": {"aws:sourceVpc": "vpc-1234"}}},{"Effect": "Allow","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*"}]}"#,
            &arn,
        )
        .expect("the tutorial's policy parses");
        let tutorial_cost = per_op(1_000_000, || {
            let at = arn.write(
                &mut buf,
                "Test",
                "PUT",
                "/DemoResourceMusic/DemoResourceMusicItem",
            );
            let subject = Subject {
                arn: &buf,
                in_api: &buf[at..],
                source_ip: ip,
                vpc: Some("vpc-1234"),
                vpce: None,
            };
            std::hint::black_box(tutorial.evaluate(&subject));
        });
        eprintln!(
            "the tutorial's policy: {tutorial_cost:?} a request; 20-statement policy: {policy_cost:?} a request; key among 1,000 (SHA-256, lookup, plan bucket): {key_cost:?}; stage bucket: {throttle_cost:?}"
        );
    }
}
