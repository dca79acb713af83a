//! What the gateway records of every request: its trace context continued
//! (`request`), one access-log line — by default a log event in the field
//! names of API Gateway's JSON access-log template, or with
//! `--access-log-format` a line in API Gateway's `$context` syntax
//! (`template`), written to stderr as it is — and its metrics. The edge's
//! verdict (source IP, API key id, refusal) and the integration's latency
//! come from the answer's extensions (`facts`).

pub mod template;

use std::{
    convert::Infallible,
    future::Future,
    io::Write as _,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{ConnectInfo, Request},
    response::Response,
};
use http::{HeaderValue, Method};
use http_body::Body as _;
use tower::{Layer, Service};
use tracing::Instrument;

use music_runtime::traceparent;

use self::template::{Template, Values, Var};
use crate::{
    facts::{EdgeFacts, IntegrationFacts},
    metrics,
    request::{
        TraceContext, X_AMZN_REQUEST_ID, X_AMZN_TRACE_ID, X_REQUEST_ID, bounded,
        incoming_traceparent,
    },
    tutorial::routes::RouteTable,
};

/// The route a request matched, named by its path template
/// (`/v1/tables/{table_name}`): a route family that is not in the tutorial's
/// table puts it in its response's extensions, so that the access log and the
/// metrics name the template, never the raw path (a bounded set of labels).
#[derive(Debug, Clone)]
pub struct RouteLabel(pub std::sync::Arc<str>);

/// API Gateway's `$context.requestTime`: `25/Nov/2026:00:07:19 +0000`.
pub fn clf_time(time: SystemTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from(time)
        .format(FORMAT)
        .unwrap_or_else(|_| "-".to_owned())
}

/// What the access log needs besides the request: the tutorial's routes (for
/// `resourcePath`), the template, and the API's names for `$context.stage`,
/// `apiId` and `accountId`.
#[derive(Debug, Clone)]
pub struct AccessLog {
    pub routes: RouteTable,
    pub format: Option<Arc<Template>>,
    pub stage: Arc<str>,
    pub api_id: Arc<str>,
    pub account_id: Arc<str>,
}

impl AccessLog {
    /// Today's fields, and the API's default names.
    pub fn new(routes: RouteTable) -> Self {
        Self {
            routes,
            format: None,
            stage: "-".into(),
            api_id: "-".into(),
            account_id: "-".into(),
        }
    }
}

/// One answered request, as a template reads it.
struct Line<'a> {
    log: &'a AccessLog,
    request_id: &'a str,
    source_ip: Option<IpAddr>,
    user_agent: Option<&'a str>,
    domain: Option<&'a str>,
    arrived: SystemTime,
    method: &'a Method,
    resource_path: &'a str,
    path: &'a str,
    status: u16,
    version: http::Version,
    response_length: i64,
    latency: Duration,
    edge: Option<&'a EdgeFacts>,
    integration: Option<&'a IntegrationFacts>,
    amzn_trace_id: &'a str,
}

impl Values for Line<'_> {
    fn value(&self, var: Var, out: &mut String) -> bool {
        use std::fmt::Write as _;
        let _ = match var {
            Var::RequestId | Var::ExtendedRequestId => write!(out, "{}", self.request_id),
            Var::SourceIp => match self.source_ip {
                Some(ip) => write!(out, "{ip}"),
                None => return false,
            },
            Var::Caller | Var::User => return false,
            Var::UserAgent => match self.user_agent {
                Some(agent) => write!(out, "{}", bounded(agent)),
                None => return false,
            },
            Var::ApiKeyId => match self.edge.and_then(|e| e.api_key_id.as_deref()) {
                Some(id) => write!(out, "{id}"),
                None => return false,
            },
            Var::VpceId => match self.edge.and_then(|e| e.vpce_id.as_deref()) {
                Some(id) => write!(out, "{id}"),
                None => return false,
            },
            Var::RequestTime => write!(out, "{}", clf_time(self.arrived)),
            Var::RequestTimeEpoch => write!(
                out,
                "{}",
                self.arrived
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
            ),
            Var::HttpMethod => write!(out, "{}", self.method),
            Var::ResourcePath => write!(out, "{}", bounded(self.resource_path)),
            Var::Path => write!(out, "{}", bounded(self.path)),
            Var::Status => write!(out, "{}", self.status),
            Var::Protocol => write!(out, "{:?}", self.version),
            Var::ResponseLength => {
                if self.response_length < 0 {
                    return false;
                }
                write!(out, "{}", self.response_length)
            }
            Var::ResponseLatency => write!(out, "{}", self.latency.as_millis()),
            Var::IntegrationLatency => match self.integration {
                Some(i) => write!(out, "{}", i.latency.as_millis()),
                None => return false,
            },
            Var::IntegrationStatus => match self.integration {
                Some(i) => write!(out, "{}", i.status),
                None => return false,
            },
            Var::Stage => write!(out, "{}", self.log.stage),
            Var::ApiId => write!(out, "{}", self.log.api_id),
            Var::AccountId => write!(out, "{}", self.log.account_id),
            Var::DomainName => match self.domain {
                Some(host) => write!(out, "{}", bounded(host)),
                None => return false,
            },
            Var::ErrorMessage => match self.edge.and_then(|e| e.error_message.as_deref()) {
                Some(message) => write!(out, "{message}"),
                None => return false,
            },
            Var::ErrorResponseType => match self.edge.and_then(|e| e.refusal) {
                Some(refusal) => write!(out, "{}", refusal.response_type()),
                None => return false,
            },
            Var::XrayTraceId => write!(out, "{}", self.amzn_trace_id),
        };
        true
    }
}

/// The access log as a layer around every request: trace context in, ids
/// out, one access-log line, metrics. A static tower layer, not an axum
/// `from_fn`, which boxes and clones the stack inside it per request.
#[derive(Debug, Clone)]
pub struct AccessLayer {
    log: Arc<AccessLog>,
    in_flight: ::metrics::Gauge,
}

impl AccessLayer {
    /// Counts into the process's recorder (installed here if it is not yet:
    /// a gauge's handle is bound to the recorder in place when it is made).
    pub fn new(log: AccessLog) -> Self {
        crate::metrics::prometheus();
        Self {
            log: Arc::new(log),
            in_flight: metrics::in_flight_gauge(),
        }
    }
}

impl<S> Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            layer: self.clone(),
        }
    }
}

/// [`AccessLayer`]'s service.
#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
    layer: AccessLayer,
}

impl<S> Service<Request> for Access<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AccessFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let pending = Pending::begin(&self.layer, &mut request);
        // The layers inside (the edge's checks, the router) start their work
        // in `call`: in the request's span, as their polls are.
        let inner = pending.span.in_scope(|| self.inner.call(request));
        AccessFuture {
            inner: inner.instrument(pending.span.clone()),
            pending: Some(pending),
            log: Arc::clone(&self.layer.log),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer, logged and counted when it is ready.
    pub struct AccessFuture<F> {
        #[pin]
        inner: tracing::instrument::Instrumented<F>,
        pending: Option<Pending>,
        log: Arc<AccessLog>,
    }
}

impl<F> Future for AccessFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = std::task::ready!(this.inner.poll(cx));
        let pending = this
            .pending
            .take()
            .expect("a future is not polled after it is ready");
        Poll::Ready(Ok(pending.finish(this.log, response)))
    }
}

/// What the access log keeps of a request while it is served. Dropped with
/// the future when the client goes away, which takes the request out of the
/// in-flight gauge.
struct Pending {
    started: Instant,
    arrived: SystemTime,
    id_header: Option<HeaderValue>,
    request_id: String,
    span: tracing::Span,
    trace: TraceContext,
    peer: Option<IpAddr>,
    method: Method,
    version: http::Version,
    template_headers: Option<(Option<String>, Option<String>)>,
    uri: http::Uri,
    _in_flight: metrics::InFlight,
}

impl Pending {
    /// The request's ids, trace context and what its line will need.
    fn begin(layer: &AccessLayer, request: &mut Request) -> Self {
        let log = &layer.log;
        let started = Instant::now();
        // The access-log fields are formatted only when the line is written
        // (tracing evaluates an event's fields only when it is enabled).
        let arrived = SystemTime::now();
        let id_header = request.headers().get(&X_REQUEST_ID).cloned();
        let request_id = id_header
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            trace_id = tracing::field::Empty
        );
        let incoming =
            incoming_traceparent(request.headers()).filter(|t| traceparent::parse(t).is_some());
        music_runtime::telemetry::continue_trace(&span, incoming);
        let trace = TraceContext::continuing(
            request.headers(),
            music_runtime::telemetry::traceparent_of(&span),
        );
        span.record("trace_id", trace.trace_id());
        request.extensions_mut().insert(trace.clone());
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let template_headers = log.format.as_ref().map(|_| {
            let text = |name| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (text(http::header::USER_AGENT), text(http::header::HOST))
        });
        Self {
            started,
            arrived,
            id_header,
            request_id,
            span,
            trace,
            peer,
            method: request.method().clone(),
            version: request.version(),
            template_headers,
            uri: request.uri().clone(),
            _in_flight: metrics::InFlight::enter(&layer.in_flight),
        }
    }

    /// The answer, with its ids, counted and logged.
    fn finish(self, log: &AccessLog, mut response: Response) -> Response {
        let Self {
            started,
            arrived,
            id_header,
            request_id,
            span,
            trace,
            peer,
            method,
            version,
            template_headers,
            uri,
            _in_flight,
        } = self;
        drop(_in_flight);
        let path = uri.path();
        let resource = log.routes.resource_path(path);
        let matched = response
            .extensions()
            .get::<RouteLabel>()
            .map(|l| l.0.clone());
        // API Gateway's `$context.resourcePath`: the resource, without the stage.
        let resource_path = matched.as_deref().or(resource).unwrap_or(path);
        let route = match (&matched, resource) {
            (Some(template), _) => template,
            (None, Some(resource)) => resource,
            (None, None) => match path {
                "/healthz" | "/readyz" | "/metrics" => "admin",
                _ => "unmatched",
            },
        };

        // API Gateway's name for the request id, and the trace id it echoes.
        if let Some(id) = id_header {
            response.headers_mut().insert(X_AMZN_REQUEST_ID, id);
        }
        if let Ok(value) = HeaderValue::from_str(&trace.amzn_trace_id) {
            response.headers_mut().insert(X_AMZN_TRACE_ID, value);
        }

        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        metrics::record_request(route, &method, status, elapsed);
        let response_length = response.body().size_hint().exact().map_or(-1, |n| n as i64);
        let edge = response.extensions().get::<EdgeFacts>();
        let source_ip = edge.and_then(|e| e.source_ip).or(peer);
        if let Some(format) = &log.format {
            let (user_agent, domain) = template_headers.unwrap_or_default();
            let mut line = format.render(&Line {
                log,
                request_id: &request_id,
                source_ip,
                user_agent: user_agent.as_deref(),
                domain: domain.as_deref(),
                arrived,
                method: &method,
                resource_path,
                path,
                status,
                version,
                response_length,
                latency: elapsed,
                edge,
                integration: response.extensions().get::<IntegrationFacts>(),
                amzn_trace_id: &trace.amzn_trace_id,
            });
            line.push('\n');
            // One write of the whole line: std's stderr lock keeps it whole
            // among the other log lines (tracing writes through the same lock).
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            return response;
        }
        let api_key_id = edge.and_then(|e| e.api_key_id.as_deref()).unwrap_or("-");
        let refusal = edge.and_then(|e| e.refusal).map_or("-", |r| r.reason());
        span.in_scope(|| {
            tracing::info!(
                requestId = %request_id,
                ip = %source_ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                caller = "-",
                user = "-",
                requestTime = %clf_time(arrived),
                httpMethod = %method,
                resourcePath = %bounded(resource_path),
                status,
                protocol = ?version,
                responseLength = response_length,
                apiKeyId = %api_key_id,
                refusal,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request answered"
            )
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn request_time_is_in_api_gateways_format() {
        let time = UNIX_EPOCH + Duration::from_secs(1_702_710_814);
        assert_eq!(clf_time(time), "16/Dec/2023:07:13:34 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(clf_time(leap), "29/Feb/2000:00:00:00 +0000");
    }
}
