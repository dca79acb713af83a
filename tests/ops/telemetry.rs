//! Telemetry across the two programs, with `--log-format json` on both: the
//! gateway's access-log line carries API Gateway's field names with the
//! request's values; the caller's W3C trace id and request id reach the
//! service's log line for the RPC; `X-Amzn-Trace-Id` is echoed, or made.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use music_testkit::{Answer, Program, curl};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const AMZN_TRACE_ID: &str = "Root=1-657d49e2-f5f6fd248da8e0881dd97df6";
const ITEM_RESOURCE: &str = "/DemoResourceMusic/DemoResourceMusicItem";
const LOG_WAIT: Duration = Duration::from_secs(3);

/// A two-process stack logging JSON, with the `Music` table created.
async fn json_logging_stack() -> (Program, Program) {
    let service = Program::service(&["--in-memory", "--log-format", "json"]).await;
    let gateway = Program::gateway(&service.url("grpc"), &["--log-format", "json"], &[]).await;
    let table = format!(
        "{}/Test/DemoResourceMusic/DemoResourceMusicTable",
        gateway.url("http")
    );
    let created = curl(&["-X", "PUT", &table, "-H", "table: Music"]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    (service, gateway)
}

/// `PUT` an item through the gateway with `headers` added.
async fn put_item(gateway: &Program, headers: &[&str]) -> Answer {
    let url = format!("{}/Test{ITEM_RESOURCE}", gateway.url("http"));
    let mut args = vec![
        "-X",
        "PUT",
        url.as_str(),
        "-H",
        "table: Music",
        "-H",
        "artist: Telemetry",
        "-H",
        "songtitle: Traced",
        "-H",
        "albumtitle: Spans",
    ];
    for header in headers {
        args.extend(["-H", header]);
    }
    let answer = curl(&args).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#""Item added""#)
    );
    answer
}

async fn access_log_line(gateway: &Program, request_id: &str) -> Value {
    gateway
        .json_line(LOG_WAIT, |l| {
            l["message"] == "request answered" && l["requestId"] == request_id
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no access-log line for {request_id}:\n{}",
                gateway.log_text()
            )
        })
}

async fn rpc_log_line(service: &Program, request_id: &str) -> Value {
    service
        .json_line(LOG_WAIT, |l| {
            l["message"] == "rpc finished" && l["span"]["request_id"] == request_id
        })
        .await
        .unwrap_or_else(|| panic!("no RPC log line for {request_id}:\n{}", service.log_text()))
}

/// A JSON value as text, whether logged as a string or a number.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_and_the_rpc_log_carry_the_callers_ids() {
    let (service, gateway) = json_logging_stack().await;
    let before = SystemTime::now();
    let answer = put_item(
        &gateway,
        &[
            &format!("traceparent: {TRACEPARENT}"),
            &format!("X-Amzn-Trace-Id: {AMZN_TRACE_ID}"),
            "x-request-id: ops-telemetry-1",
        ],
    )
    .await;
    let after = SystemTime::now();
    assert_eq!(
        answer.header("x-amzn-trace-id"),
        Some(AMZN_TRACE_ID),
        "echoed"
    );
    assert_eq!(answer.header("x-request-id"), Some("ops-telemetry-1"));

    let access = access_log_line(&gateway, "ops-telemetry-1").await;
    eprintln!("access-log line: {access}");
    for field in [
        "requestId",
        "ip",
        "caller",
        "user",
        "requestTime",
        "httpMethod",
        "resourcePath",
        "status",
        "protocol",
        "responseLength",
        "latency_ms",
    ] {
        assert!(access.get(field).is_some(), "{field} in {access}");
    }
    assert_eq!(text(&access["ip"]), "127.0.0.1");
    assert_eq!(text(&access["caller"]), "-");
    assert_eq!(text(&access["user"]), "-");
    assert_eq!(text(&access["httpMethod"]), "PUT");
    assert!(
        text(&access["resourcePath"]).ends_with(ITEM_RESOURCE),
        "{access}"
    );
    assert_eq!(text(&access["status"]), "200");
    assert_eq!(text(&access["protocol"]), "HTTP/1.1");
    assert_eq!(
        text(&access["responseLength"]),
        answer.body.len().to_string()
    );
    assert!(access["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    // `dd/Mon/yyyy:HH:MM:SS +0000`, the second the request arrived.
    let request_time = text(&access["requestTime"]);
    let (first, last) = (
        music_gateway::access::clf_time(before),
        music_gateway::access::clf_time(after),
    );
    assert!(
        request_time == first || request_time == last,
        "requestTime {request_time:?} is between {first:?} and {last:?}"
    );
    assert_eq!(text(&access["span"]["trace_id"]), TRACE_ID);

    let rpc = rpc_log_line(&service, "ops-telemetry-1").await;
    eprintln!("service RPC line: {rpc}");
    assert_eq!(
        text(&rpc["span"]["trace_id"]),
        TRACE_ID,
        "the caller's trace"
    );
    assert_eq!(text(&rpc["span"]["method"]), "PutItem");
    assert_eq!(text(&rpc["code"]), "OK");
    assert!(rpc["elapsed_ms"].as_f64().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_trace_headers_the_gateway_makes_ids_and_the_service_logs_the_same_trace() {
    let (service, gateway) = json_logging_stack().await;
    let answer = put_item(&gateway, &[]).await;

    let amzn = answer
        .header("x-amzn-trace-id")
        .expect("an X-Amzn-Trace-Id is made");
    let parts: Vec<&str> = amzn
        .strip_prefix("Root=1-")
        .map(|rest| rest.split('-').collect())
        .unwrap_or_default();
    assert!(
        parts.len() == 2 && is_hex(parts[0], 8) && is_hex(parts[1], 24),
        "Root=1-<8 hex>-<24 hex>: {amzn}"
    );
    let request_id = answer.header("x-request-id").expect("a request id is made");

    let access = access_log_line(&gateway, request_id).await;
    let rpc = rpc_log_line(&service, request_id).await;
    let trace = text(&access["span"]["trace_id"]);
    assert!(is_hex(&trace, 32), "a new W3C trace id: {trace}");
    assert_eq!(
        text(&rpc["span"]["trace_id"]),
        trace,
        "one trace, both programs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_logs_resource_path_is_the_resource_without_the_stage() {
    let (_service, gateway) = json_logging_stack().await;
    put_item(&gateway, &["x-request-id: ops-resource-path"]).await;
    let access = access_log_line(&gateway, "ops-resource-path").await;
    assert_eq!(text(&access["resourcePath"]), ITEM_RESOURCE, "{access}");
}
