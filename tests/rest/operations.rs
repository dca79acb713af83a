//! The `/v1` routes get what the tutorial's get: request ids and trace
//! context carried to the service and into both logs, the access log and
//! metrics labelled by the path template (never the raw path), the
//! gateway's deadline (`--timeout`), and throttling told as 429 with
//! `Retry-After`. A stream that fails after it began ends with an `error`
//! line; `Grpc-Metadata-*` headers are forwarded within bounds.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::{HeaderMap, HeaderValue, StatusCode, header};
use music_service::embedded::EmbeddedStore;
use music_testkit::{
    Program,
    metrics::Metrics,
    store_proxy::{Call, Fault, Reply, StoreProxy, Tamper},
};
use serde_json::Value;

use crate::support::{Mode, Stack, ok, reason, status};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread")]
async fn v1_calls_carry_ids_and_traces_and_are_logged_and_counted_by_template() {
    let stack = Stack::start(Mode::Pure, &[]).await;
    let service = stack.service.as_ref().expect("a service process");
    ok(&stack
        .curl("POST", "/v1/tables")
        .data(r#"{"tableName": "Music"}"#)
        .send()
        .await);
    let answer = stack
        .curl("GET", "/v1/tables/Music")
        .header("x-request-id: rest-ids-1")
        .header(format!("traceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .send()
        .await;
    ok(&answer);
    assert_eq!(answer.header("x-request-id"), Some("rest-ids-1"));
    assert_eq!(answer.header("x-amzn-requestid"), Some("rest-ids-1"));
    assert!(answer.header("x-amzn-trace-id").is_some(), "{answer:?}");
    // The service saw the same id and trace.
    let line = service
        .line(Duration::from_secs(5), |l| {
            l.contains("rest-ids-1") && l.contains("DescribeTable")
        })
        .await
        .unwrap_or_else(|| panic!("the service logs the request id:\n{}", service.log_text()));
    assert!(
        line.contains(TRACE_ID),
        "the service continues the trace: {line}"
    );
    // The gateway's access log names the template.
    let access = stack
        .gateway
        .line(Duration::from_secs(5), |l| {
            l.contains("request answered") && l.contains("rest-ids-1")
        })
        .await
        .expect("an access-log line");
    assert!(
        access.contains("resourcePath=/v1/tables/{table_name}"),
        "{access}"
    );

    // Metrics are labelled by template, for answers, refusals and 405s alike.
    let id = "/v1/tables/{table_name}";
    stack.curl("GET", "/v1/tables/Nope").send().await;
    stack
        .curl("PUT", "/v1/tables/Music")
        .data("{}")
        .send()
        .await;
    stack.curl("GET", "/v1/nothing/here").send().await;
    let metrics = Metrics::scrape(&format!("{}/metrics", stack.gateway.url("admin"))).await;
    let count = |labels: &[(&str, &str)]| metrics.sum("music_http_requests_total", labels);
    assert!(count(&[("route", id), ("method", "GET"), ("status", "200")]) >= Some(1.0));
    assert!(count(&[("route", id), ("method", "GET"), ("status", "404")]) >= Some(1.0));
    assert!(count(&[("route", id), ("method", "PUT"), ("status", "405")]) >= Some(1.0));
    assert!(count(&[("route", "unmatched"), ("status", "404")]) >= Some(1.0));
    for raw in ["/v1/tables/Music", "/v1/tables/Nope", "/v1/nothing"] {
        assert!(
            !metrics.text.contains(&format!("route=\"{raw}")),
            "no raw path is a label: {}",
            metrics.excerpt("music_http_requests_total")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_timeout_bounds_v1_calls_with_504_deadline_exceeded() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &[]).await;
    let stack = Stack::in_front_of(service, &["--timeout", "500ms"]).await;
    proxy.set_latency(Duration::from_secs(3));
    let started = Instant::now();
    let answer = stack.curl("GET", "/v1/tables").send().await;
    let took = started.elapsed();
    let body = status(&answer, 504, 4);
    assert!(
        took < Duration::from_secs(3),
        "bounded by --timeout: {took:?}"
    );
    eprintln!("GET /v1/tables with a 3 s store and --timeout 500ms: {took:?} {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_v1_calls_are_429_with_retry_after_from_retry_info() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &["--dynamodb-max-attempts", "1"]).await;
    let stack = Stack::in_front_of(service, &[]).await;
    proxy.set_fault(Fault::throttling().on("ListTables"));
    let answer = stack.curl("GET", "/v1/tables").send().await;
    let body = status(&answer, 429, 8);
    assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
    assert_eq!(
        reason(&body),
        Some("ProvisionedThroughputExceededException")
    );
    let retry = body["details"]
        .as_array()
        .and_then(|d| {
            d.iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        })
        .unwrap_or_else(|| panic!("RetryInfo: {body}"));
    assert_eq!(retry["retryDelay"], "1s");
}

/// Answers every Query after the first with DynamoDB's throttling error.
#[derive(Debug, Default)]
struct LaterQueriesThrottled {
    queries: AtomicUsize,
}

impl Tamper for LaterQueriesThrottled {
    fn answer(&self, call: &Call<'_>) -> Option<Reply> {
        if call.operation != "Query" || self.queries.fetch_add(1, Ordering::SeqCst) == 0 {
            return None;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("ProvisionedThroughputExceededException"),
        );
        Some(Reply {
            status: StatusCode::BAD_REQUEST,
            headers,
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#.into(),
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_fails_after_it_began_ends_with_an_error_line() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &["--dynamodb-max-attempts", "1"]).await;
    let stack = Stack::in_front_of(service, &[]).await;
    ok(&stack
        .curl("POST", "/v1/tables")
        .data(r#"{"tableName": "Music"}"#)
        .send()
        .await);
    // 150 songs: the service reads a stream 100 songs a Query.
    for batch in 0..6 {
        let writes: Vec<Value> = (0..25)
            .map(|n| {
                serde_json::json!({"put": {"artist": "Many", "songTitle": format!("Song {:03}", batch * 25 + n)}})
            })
            .collect();
        ok(&stack
            .curl("POST", "/v1/tables/Music/songs:batchWrite")
            .data(&serde_json::json!({ "writes": writes }).to_string())
            .send()
            .await);
    }
    // Before the stream begins, a failure is an ordinary error answer.
    proxy.set_fault(Fault::throttling().on("Query").times(1));
    let refused = stack
        .curl("GET", "/v1/tables/Music/artists/Many/songs:stream")
        .send()
        .await;
    status(&refused, 429, 8);

    proxy.set_tamper(Some(Arc::new(LaterQueriesThrottled::default())));
    let answer = stack
        .curl("GET", "/v1/tables/Music/artists/Many/songs:stream")
        .send()
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = answer
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 101, "a page of results, then the error");
    assert!(lines[..100].iter().all(|l| l["result"]["artist"] == "Many"));
    let error = &lines[100]["error"];
    assert_eq!(error["code"], 8, "{error}");
    assert_eq!(
        error["details"]
            .as_array()
            .and_then(|d| d.iter().find_map(|d| d["reason"].as_str())),
        Some("ProvisionedThroughputExceededException"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_metadata_headers_are_forwarded_within_bounds() {
    let stack = Stack::start(Mode::Pure, &[]).await;
    // Many large Grpc-Metadata-* headers: at most 16 entries of at most 256
    // bytes go on, so the shared connection to the service is unharmed.
    let big = "v".repeat(4000);
    let mut abusive = stack.curl("GET", "/v1/tables");
    for n in 0..30 {
        abusive = abusive.header(format!("Grpc-Metadata-Big-{n}: {big}"));
    }
    for name in [
        "Grpc-Timeout",
        "X-Request-Id",
        "Traceparent",
        "Connection",
        "Te",
    ] {
        abusive = abusive.header(format!("Grpc-Metadata-{name}: forged"));
    }
    for n in 0..30 {
        abusive = abusive.header(format!("Grpc-Metadata-Small-{n}: ok"));
    }
    let answer = abusive.header("x-request-id: rest-metadata-1").send().await;
    assert_eq!(ok(&answer), serde_json::json!({}));
    let innocent = stack.curl("GET", "/v1/tables").send().await;
    assert_eq!(ok(&innocent), serde_json::json!({}));
    // The forged request id was not forwarded: the service saw the real one.
    let service = stack.service.as_ref().expect("a service process");
    let line = service
        .line(Duration::from_secs(5), |l| l.contains("rest-metadata-1"))
        .await
        .unwrap_or_else(|| panic!("{}", service.log_text()));
    assert!(!line.contains("forged"), "{line}");
    assert!(!stack.logs().contains(&big), "no value is logged");
}
