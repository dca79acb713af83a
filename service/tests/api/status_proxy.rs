//! `StatusProxy`: an HTTP proxy on 127.0.0.1:0 between music-service and a
//! real DynamoDB-compatible store (the embedded dynoxide, DynamoDB Local) that
//! emulates the transient table statuses of real DynamoDB.
//!
//! Real DynamoDB keeps a new table CREATING, and a deleted one DELETING, for
//! seconds. The local stores make a table ACTIVE, or gone, at once, and
//! DynamoDB Local's `-delayTransientStatuses` flag does not change that: it
//! delays only the statuses of global secondary indexes, never a table's. So
//! the proxy forwards every request unchanged (body and headers, `Host`
//! included, so the SigV4 signature still matches what was signed) and, for a
//! set time after a table is created or deleted, changes what the store says
//! about that table:
//!
//! - after a successful CreateTable, CreateTable's and DescribeTable's
//!   `"TableStatus":"ACTIVE"` for the table reads `"CREATING"`;
//! - after a successful DeleteTable, the proxy answers DescribeTable of the
//!   table itself, with the table described as `"DELETING"` (taken from the
//!   DeleteTable response), and only then lets the store's own
//!   ResourceNotFoundException through.
//!
//! A rewritten body loses the store's `x-amz-crc32` header (aws-sdk-dynamodb
//! checks it when present) and gets its own `content-length`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    response::Response,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// The `X-Amz-Target` prefix of DynamoDB's JSON protocol.
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// How long each transient status lasts after the call that starts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    /// CREATING, after a successful CreateTable.
    pub(crate) creating: Duration,
    /// DELETING, after a successful DeleteTable.
    pub(crate) deleting: Duration,
}

/// What the proxy currently pretends about one table.
#[derive(Debug)]
enum Transient {
    Creating { until: Instant },
    Deleting { until: Instant, table: Value },
}

#[derive(Debug)]
struct Shared {
    /// The store's base URL, without a trailing slash.
    upstream: String,
    windows: Windows,
    client: Client<HttpConnector, Full<Bytes>>,
    tables: Mutex<HashMap<String, Transient>>,
    /// Responses that reported a transient status the store did not.
    transient_answers: AtomicUsize,
}

impl Shared {
    fn start(&self, table: &str, transient: Transient) {
        self.tables
            .lock()
            .unwrap()
            .insert(table.to_owned(), transient);
    }

    fn is_creating(&self, table: &str) -> bool {
        let mut tables = self.tables.lock().unwrap();
        match tables.get(table) {
            Some(Transient::Creating { until }) if Instant::now() < *until => true,
            Some(Transient::Creating { .. }) => {
                tables.remove(table);
                false
            }
            _ => false,
        }
    }

    /// The table as described while DELETING, if it still is.
    fn deleting(&self, table: &str) -> Option<Value> {
        let mut tables = self.tables.lock().unwrap();
        match tables.get(table) {
            Some(Transient::Deleting {
                until,
                table: described,
            }) if Instant::now() < *until => Some(described.clone()),
            Some(Transient::Deleting { .. }) => {
                tables.remove(table);
                None
            }
            _ => None,
        }
    }
}

/// A running proxy; stopped by [`StatusProxy::stop`].
#[derive(Debug)]
pub(crate) struct StatusProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl StatusProxy {
    /// Serves on 127.0.0.1:0, forwarding to `upstream` (e.g. `http://127.0.0.1:8000`).
    pub(crate) async fn start(upstream: &str, windows: Windows) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            windows,
            client: Client::builder(TokioExecutor::new()).build_http(),
            tables: Mutex::new(HashMap::new()),
            transient_answers: AtomicUsize::new(0),
        });
        let router = Router::new()
            .fallback(proxy)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("status proxy serves");
        });
        Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The endpoint URL to give the service.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many responses so far reported CREATING or DELETING where the store
    /// itself would not have.
    pub(crate) fn transient_answers(&self) -> usize {
        self.shared.transient_answers.load(Ordering::Relaxed)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("status proxy task ends cleanly");
        }
    }
}

async fn proxy(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    forward(&shared, request).await.unwrap_or_else(|message| {
        let mut response = Response::new(Body::from(format!("status proxy: {message}")));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    })
}

async fn forward(shared: &Shared, request: Request) -> Result<Response, String> {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the request: {e}"))?
        .to_bytes();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    let table = table_name(&body);

    if operation == "DescribeTable"
        && let Some(table) = &table
        && let Some(described) = shared.deleting(table)
    {
        shared.transient_answers.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&json!({ "Table": described })).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        return Ok(respond(StatusCode::OK, headers, body.into()));
    }

    // Everything as the client sent it, Host included: it is part of what
    // SigV4 signed. Only the address the bytes go to changes.
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{}{path}", shared.upstream)
        .parse()
        .map_err(|e| format!("upstream URI: {e}"))?;
    strip_hop_by_hop(&mut parts.headers);
    let answer = shared
        .client
        .request(http::Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| format!("forwarding {operation}: {e}"))?;
    let (parts, body) = answer.into_parts();
    let mut headers = parts.headers;
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the {operation} response: {e}"))?
        .to_bytes();

    let rewritten = match (&table, parts.status.is_success()) {
        (Some(table), true) => rewrite(shared, &operation, table, &body),
        _ => None,
    };
    let body = match rewritten {
        Some(rewritten) => {
            shared.transient_answers.fetch_add(1, Ordering::Relaxed);
            // The store's checksum was of the store's body.
            headers.remove("x-amz-crc32");
            Bytes::from(rewritten)
        }
        None => body,
    };
    strip_hop_by_hop(&mut headers);
    Ok(respond(parts.status, headers, body))
}

/// A successful response's body as the proxy reports it, when that differs
/// from the store's; records the transient statuses that calls start.
fn rewrite(shared: &Shared, operation: &str, table: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut answer: Value = serde_json::from_slice(body).ok()?;
    let now = Instant::now();
    let described = match operation {
        "CreateTable" => {
            if shared.windows.creating.is_zero() {
                return None;
            }
            let until = now + shared.windows.creating;
            shared.start(table, Transient::Creating { until });
            answer.get_mut("TableDescription")?
        }
        "DescribeTable" if shared.is_creating(table) => answer.get_mut("Table")?,
        "DeleteTable" => {
            if shared.windows.deleting.is_zero() {
                return None;
            }
            let described = answer.get_mut("TableDescription")?;
            described["TableStatus"] = json!("DELETING");
            let until = now + shared.windows.deleting;
            let table_while_deleting = described.clone();
            shared.start(
                table,
                Transient::Deleting {
                    until,
                    table: table_while_deleting,
                },
            );
            return serde_json::to_vec(&answer).ok();
        }
        _ => return None,
    };
    if described.get("TableStatus")? != "ACTIVE" {
        return None;
    }
    described["TableStatus"] = json!("CREATING");
    serde_json::to_vec(&answer).ok()
}

fn table_name(body: &[u8]) -> Option<String> {
    let request: Value = serde_json::from_slice(body).ok()?;
    Some(request.get("TableName")?.as_str()?.to_owned())
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

/// A response with the whole body, its length stated.
fn respond(status: StatusCode, mut headers: HeaderMap, body: Bytes) -> Response {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
