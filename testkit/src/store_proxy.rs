//! `StoreProxy`: an HTTP proxy on 127.0.0.1:0 between music-service and a
//! real DynamoDB-compatible store (the embedded dynoxide, DynamoDB Local),
//! that makes the store slow, unreachable or wrong on purpose while a test
//! runs.
//!
//! Owns: [`StoreProxy`], [`Fault`], the [`Tamper`] hook ([`Call`], [`Reply`],
//! [`Altered`], [`AnswerRewrite`])
//! and the record of what it saw ([`Seen`], [`Fate`], the
//! `forwarded`/`closed` counts).
//!
//! Every request it lets through is forwarded unchanged (method, path,
//! headers with `Host`, body), so the SigV4 signature still matches and the
//! store's answer, with its `x-amz-crc32`, comes back as the store sent it.
//! Knobs, set at run time:
//!
//! - **latency**: each request waits this long before it is forwarded, as a
//!   slow or distant DynamoDB would make it;
//! - **refusing**: every open connection is closed at once (requests on them
//!   included), and new ones are accepted and closed straight away, so the
//!   service sees a store that drops its connections until the knob is off;
//! - **a [`Fault`]** for some requests (one operation, by its `X-Amz-Target`,
//!   or all; the next N or until cleared): either a canned DynamoDB error reply
//!   (HTTP 400, `__type` and `message` in the body, `x-amzn-ErrorType`), as
//!   DynamoDB answers when it throttles or refuses credentials, without the
//!   store seeing the request; or the request is forwarded, the store does the
//!   work, and the connection is closed instead of answering: the answer is
//!   lost on the way back;
//! - **a [`Tamper`] hook**, for what real DynamoDB says and the local stores
//!   do not: it may answer a call in the store's place, change the body of
//!   the store's answer (which then loses the store's `x-amz-crc32`, which
//!   aws-sdk-dynamodb checks when present), or forward a changed request and
//!   answer from what the store said to that ([`Altered`]: the request's
//!   signature then no longer matches its body, which the local stores do not
//!   check). [`crate::table_statuses`] is the one that emulates CREATING and
//!   DELETING tables; [`crate::partial_batches`] the one that leaves part of a
//!   batch unprocessed.
//!
//! Every request is recorded with its operation, arrival time and fate, so a
//! test can count the attempts one call made and the pauses between them.
//!
//! Hand-written: a forwarding proxy whose faults are per request and per
//! connection, and that must keep the signed request byte for byte, is the
//! point of the test; hyper does the HTTP.

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
    task::JoinHandle,
};

/// What the proxy does with the requests a [`Fault`] applies to.
#[derive(Debug, Clone)]
enum FaultReply {
    /// Answer at once, as DynamoDB does when it refuses a call; the store
    /// never sees the request.
    Error {
        status: StatusCode,
        /// DynamoDB's error code, e.g. `ProvisionedThroughputExceededException`.
        error_type: String,
        message: String,
    },
    /// Forward the request (the store does the work), then close the
    /// connection instead of passing the answer back.
    DropAnswer,
}

/// A fault for some requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only requests for this operation (`PutItem`, from `X-Amz-Target:
    /// DynamoDB_20120810.PutItem`); `None`: every request.
    operation: Option<String>,
    /// How many more requests it applies to; `None`: until cleared.
    remaining: Option<usize>,
    reply: FaultReply,
}

impl Fault {
    /// A canned DynamoDB error reply (HTTP 400), for every request until cleared.
    pub fn error(error_type: &str, message: &str) -> Self {
        Self {
            operation: None,
            remaining: None,
            reply: FaultReply::Error {
                status: StatusCode::BAD_REQUEST,
                error_type: error_type.to_owned(),
                message: message.to_owned(),
            },
        }
    }

    /// DynamoDB throttling a table: `ProvisionedThroughputExceededException`.
    pub fn throttling() -> Self {
        Self::error(
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. \
             Consider increasing your provisioning level with the UpdateTable API.",
        )
    }

    /// Answers lost after the store did the work, for every request until cleared.
    pub fn drop_answer() -> Self {
        Self {
            operation: None,
            remaining: None,
            reply: FaultReply::DropAnswer,
        }
    }

    /// Only for requests of `operation` (as DynamoDB names it, e.g. `PutItem`).
    pub fn on(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_owned());
        self
    }

    /// Only for the next `count` requests it matches.
    pub fn times(mut self, count: usize) -> Self {
        self.remaining = Some(count);
        self
    }
}

/// One call as the [`Tamper`] hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// DynamoDB's operation name from `X-Amz-Target`, or "" without one.
    pub operation: &'a str,
    /// The request body (DynamoDB's JSON).
    pub body: &'a [u8],
}

/// A whole answer: the store's, or one made in its place.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// 200 with a DynamoDB JSON body.
    pub fn json(body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        Self {
            status: StatusCode::OK,
            headers,
            body: body.into(),
        }
    }
}

/// Makes the body the caller gets from the store's answer to an altered
/// request; `None` passes that answer on as it is.
pub type AnswerRewrite = Box<dyn FnOnce(&Reply) -> Option<Bytes> + Send>;

/// A request forwarded changed ([`Tamper::alter`]), and how the store's
/// answer to it is changed on the way back.
pub struct Altered {
    /// The body forwarded in the caller's place (its `Content-Length` is set
    /// to match; its SigV4 signature no longer does, which DynamoDB Local and
    /// the embedded store do not check).
    pub body: Bytes,
    /// The body the caller gets, made from the store's answer to `body`.
    pub answer: AnswerRewrite,
}

impl fmt::Debug for Altered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Altered")
            .field("body", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// What a test makes the store say that it would not: called for every
/// request that no [`Fault`] took.
pub trait Tamper: Send + Sync + fmt::Debug + 'static {
    /// An answer in the store's place (the store never sees the call), or
    /// `None` to forward it.
    fn answer(&self, call: &Call<'_>) -> Option<Reply> {
        let _ = call;
        None
    }

    /// A changed request to forward instead of `call`, with the change to
    /// make to the store's answer (asked after [`Tamper::answer`] declined;
    /// [`Tamper::rewrite`] is then not asked). `None`: forward `call` as it is.
    fn alter(&self, call: &Call<'_>) -> Option<Altered> {
        let _ = call;
        None
    }

    /// A new body for the store's answer to `call`, or `None` to pass it on
    /// as it is.
    fn rewrite(&self, call: &Call<'_>, answer: &Reply) -> Option<Bytes> {
        let _ = (call, answer);
        None
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Forwarded, and the store's answer passed back (rewritten or not).
    Forwarded,
    /// Answered by the proxy itself (a fault's canned error, or the tamper
    /// hook); the store never saw it.
    Canned,
    /// Forwarded, and the answer dropped with the connection.
    AnswerDropped,
    /// Forwarding failed (the store unreachable); answered 502.
    Failed,
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// DynamoDB's operation name from `X-Amz-Target`, or "" without one.
    pub operation: String,
    pub arrived: Instant,
    pub fate: Fate,
}

#[derive(Debug)]
struct Knobs {
    /// The store's base URL, without a trailing slash.
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    latency_ms: AtomicU64,
    refusing: AtomicBool,
    fault: Mutex<Option<Fault>>,
    tamper: Mutex<Option<Arc<dyn Tamper>>>,
    /// Bumped to close every open connection.
    cut: watch::Sender<u64>,
    seen: Mutex<Vec<Seen>>,
    /// Connections closed by the refusing knob so far.
    closed: AtomicUsize,
}

impl Knobs {
    fn new(upstream: &str) -> Self {
        Self {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            latency_ms: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
            fault: Mutex::new(None),
            tamper: Mutex::new(None),
            cut: watch::channel(0).0,
            seen: Mutex::new(Vec::new()),
            closed: AtomicUsize::new(0),
        }
    }

    /// The fault for a request of `operation`, counted against its budget.
    fn fault_for(&self, operation: &str) -> Option<FaultReply> {
        let mut slot = self.fault.lock().unwrap();
        let fault = slot.as_mut()?;
        if fault
            .operation
            .as_deref()
            .is_some_and(|wanted| wanted != operation)
        {
            return None;
        }
        let reply = fault.reply.clone();
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                *slot = None;
            }
        }
        Some(reply)
    }

    fn tamper(&self) -> Option<Arc<dyn Tamper>> {
        self.tamper.lock().unwrap().clone()
    }

    fn record(&self, operation: &str, arrived: Instant, fate: Fate) {
        self.seen.lock().unwrap().push(Seen {
            operation: operation.to_owned(),
            arrived,
            fate,
        });
    }
}

/// A running proxy; stops serving when dropped.
#[derive(Debug)]
pub struct StoreProxy {
    addr: SocketAddr,
    knobs: Arc<Knobs>,
    task: JoinHandle<()>,
}

impl StoreProxy {
    /// Serves on 127.0.0.1:0, forwarding to `upstream` (e.g. `http://127.0.0.1:8000`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the store proxy");
        let addr = listener.local_addr().expect("store proxy address");
        let knobs = Arc::new(Knobs::new(upstream));
        let task = tokio::spawn(accept(listener, Arc::clone(&knobs)));
        Self { addr, knobs, task }
    }

    /// [`StoreProxy::start`] with a tamper hook from the first request on.
    pub async fn start_with(upstream: &str, tamper: Arc<dyn Tamper>) -> Self {
        let proxy = Self::start(upstream).await;
        proxy.set_tamper(Some(tamper));
        proxy
    }

    /// The endpoint URL to give the service.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request from now on waits `latency` before it is forwarded.
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.knobs.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// On: close every open connection and every new one. Off: serve again.
    pub fn set_refusing(&self, refusing: bool) {
        self.knobs.refusing.store(refusing, Ordering::Relaxed);
        if refusing {
            self.knobs.cut.send_modify(|generation| *generation += 1);
        }
    }

    /// From now on, the requests `fault` matches get its reply (it replaces
    /// any fault set before).
    pub fn set_fault(&self, fault: Fault) {
        *self.knobs.fault.lock().unwrap() = Some(fault);
    }

    /// Every request is forwarded again.
    pub fn clear_fault(&self) {
        *self.knobs.fault.lock().unwrap() = None;
    }

    /// The tamper hook from now on (`None`: none).
    pub fn set_tamper(&self, tamper: Option<Arc<dyn Tamper>>) {
        *self.knobs.tamper.lock().unwrap() = tamper;
    }

    /// Every request received so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.knobs.seen.lock().unwrap().clone()
    }

    /// Requests of `operation` received so far that met `fate`.
    pub fn count(&self, operation: &str, fate: Fate) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation == operation && s.fate == fate)
            .count()
    }

    /// Requests forwarded to the store so far (answered or not).
    pub fn forwarded(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| matches!(s.fate, Fate::Forwarded | Fate::AnswerDropped))
            .count()
    }

    /// Connections closed by the refusing knob so far.
    pub fn closed(&self) -> usize {
        self.knobs.closed.load(Ordering::Relaxed)
    }
}

impl Drop for StoreProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.knobs.cut.send_modify(|generation| *generation += 1);
    }
}

async fn accept(listener: TcpListener, knobs: Arc<Knobs>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if knobs.refusing.load(Ordering::Relaxed) {
            knobs.closed.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let mut cut = knobs.cut.subscribe();
        // Set by a request whose answer must be lost: the connection is then
        // dropped with that request still unanswered.
        let lose_answer = Arc::new(Notify::new());
        let for_requests = Arc::clone(&knobs);
        let for_service = Arc::clone(&lose_answer);
        let service = service_fn(move |request| {
            let knobs = Arc::clone(&for_requests);
            let lose_answer = Arc::clone(&for_service);
            async move { Ok::<_, std::convert::Infallible>(handle(&knobs, &lose_answer, request).await) }
        });
        let counted = Arc::clone(&knobs);
        tokio::spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // Dropping the connection closes its socket, mid-request or not.
            tokio::select! {
                _ = connection => {}
                _ = cut.changed() => {
                    counted.closed.fetch_add(1, Ordering::Relaxed);
                }
                () = lose_answer.notified() => {}
            }
        });
    }
}

/// DynamoDB's operation name from `X-Amz-Target: DynamoDB_20120810.PutItem`.
fn operation_of(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit_once('.'))
        .map(|(_, operation)| operation.to_owned())
        .unwrap_or_default()
}

async fn handle(
    knobs: &Knobs,
    lose_answer: &Notify,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let arrived = Instant::now();
    let operation = operation_of(request.headers());
    let fault = knobs.fault_for(&operation);
    let (parts, body) = request.into_parts();
    // Read the request as a server would before answering.
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            knobs.record(&operation, arrived, Fate::Failed);
            return bad_gateway(&format!("reading the request: {e}"));
        }
    };
    if let Some(FaultReply::Error {
        status,
        error_type,
        message,
    }) = &fault
    {
        knobs.record(&operation, arrived, Fate::Canned);
        return canned_error(*status, error_type, message);
    }
    let tamper = knobs.tamper();
    let call = Call {
        operation: &operation,
        body: &body,
    };
    if let Some(reply) = tamper.as_ref().and_then(|t| t.answer(&call)) {
        knobs.record(&operation, arrived, Fate::Canned);
        return respond(reply);
    }
    let altered = tamper.as_ref().and_then(|t| t.alter(&call));
    let (parts, forwarded, rewrite_answer) = match altered {
        Some(Altered { body, answer }) => {
            let mut parts = parts;
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            (parts, body, Some(answer))
        }
        None => (parts, body.clone(), None),
    };
    match forward(knobs, parts, forwarded).await {
        Ok(_) if matches!(fault, Some(FaultReply::DropAnswer)) => {
            knobs.record(&operation, arrived, Fate::AnswerDropped);
            lose_answer.notify_one();
            std::future::pending().await
        }
        Ok(mut reply) => {
            let rewritten = match rewrite_answer {
                Some(answer) => answer(&reply),
                None => tamper.as_ref().and_then(|t| t.rewrite(&call, &reply)),
            };
            if let Some(rewritten) = rewritten {
                // The store's checksum was of the store's body.
                reply.headers.remove("x-amz-crc32");
                reply.body = rewritten;
            }
            knobs.record(&operation, arrived, Fate::Forwarded);
            respond(reply)
        }
        Err(message) => {
            knobs.record(&operation, arrived, Fate::Failed);
            bad_gateway(&message)
        }
    }
}

fn bad_gateway(message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("store proxy: {message}"))));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

/// A whole reply, its length stated.
fn respond(reply: Reply) -> Response<Full<Bytes>> {
    let mut headers = reply.headers;
    strip_hop_by_hop(&mut headers);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reply.body.len()));
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

/// An error reply in DynamoDB's wire format (awsJson 1.0).
fn canned_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": message,
    })
    .to_string();
    let mut reply = Reply::json(body);
    reply.status = status;
    reply.headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_str(error_type).expect("an error code is a valid header value"),
    );
    reply.headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("FAULTPROXYCANNEDREPLY0000000000000000000000000000000"),
    );
    respond(reply)
}

async fn forward(
    knobs: &Knobs,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Result<Reply, String> {
    let latency = knobs.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    // Everything as the client sent it, Host included: it is part of what
    // SigV4 signed. Only the address the bytes go to changes.
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{}{path}", knobs.upstream)
        .parse()
        .map_err(|e| format!("upstream URI: {e}"))?;
    strip_hop_by_hop(&mut parts.headers);
    let answer = knobs
        .client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| format!("forwarding: {e}"))?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// Headers of one connection rather than of the message.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fault_for_one_operation_spares_the_others_and_runs_out() {
        let knobs = Knobs::new("");
        *knobs.fault.lock().unwrap() = Some(Fault::throttling().on("PutItem").times(2));
        assert!(knobs.fault_for("ListTables").is_none());
        assert!(knobs.fault_for("PutItem").is_some());
        assert!(knobs.fault_for("PutItem").is_some());
        assert!(knobs.fault_for("PutItem").is_none(), "the budget ran out");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.UpdateItem"),
        );
        assert_eq!(operation_of(&headers), "UpdateItem");
        assert_eq!(operation_of(&HeaderMap::new()), "");
    }
}
