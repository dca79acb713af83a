//! The tutorial's logging set-up: a custom access log in API Gateway's
//! `$context` syntax (its documented JSON example gives one valid JSON line
//! a request, with that request's values), an unknown variable stopping the
//! start, and the full execution log of a PutItem with credentials redacted.

use std::time::Duration;

use music_gateway::access::template::API_GATEWAY_JSON_EXAMPLE;
use music_testkit::{Curl, Program};
use serde_json::Value;

use crate::support::{Files, ITEM, TABLE, curl_from, gateway, hash, refused_start, service};

/// The JSON access-log line of request `id`, waiting for it.
async fn access_line(gateway: &Program, id: &str) -> Value {
    let line = gateway
        .line(Duration::from_secs(5), |l| {
            l.starts_with('{') && l.contains(id)
        })
        .await
        .unwrap_or_else(|| panic!("no access-log line for {id}:\n{}", gateway.log_text()));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}"))
}

#[tokio::test]
async fn api_gateways_json_example_gives_one_json_line_with_the_requests_values() {
    let service = service().await;
    let gateway = gateway(
        &service.url("grpc"),
        &["--access-log-format", API_GATEWAY_JSON_EXAMPLE],
    )
    .await;
    let answer = curl_from(
        "127.0.0.2",
        "PUT",
        &format!("{}{TABLE}", gateway.url("http")),
    )
    .header("x-request-id: access-log-1")
    .header("table: Music")
    .send()
    .await;
    answer.assert_json(200, r#""Table created""#);
    let line = access_line(&gateway, "access-log-1").await;
    assert_eq!(line["requestId"], "access-log-1");
    assert_eq!(line["ip"], "127.0.0.2");
    assert_eq!(line["caller"], "-");
    assert_eq!(line["user"], "-");
    assert_eq!(line["httpMethod"], "PUT");
    assert_eq!(
        line["resourcePath"],
        "/DemoResourceMusic/DemoResourceMusicTable"
    );
    assert_eq!(line["status"], "200");
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert_eq!(line["responseLength"], answer.body.len().to_string());
    let time = line["requestTime"].as_str().expect("a request time");
    assert!(time.ends_with(" +0000") && time.len() == 26, "{time}");
}

#[tokio::test]
async fn values_with_quotes_stay_json_and_the_edge_shows_in_the_line() {
    const KEY: &str = "log-key-5e1f0a3b7c9d2468";
    let files = Files::new();
    let plans = files.write(
        "plans.toml",
        &format!(
            "api_key_required = [\"*/GET\"]\n[[plans]]\nid = \"p\"\n[[keys]]\nid = \"logged-key\"\nsha256 = \"{}\"\nplan = \"p\"\n",
            hash(KEY)
        ),
    );
    let template = r#"{"requestId":"$context.requestId","apiKeyId":"$context.identity.apiKeyId","agent":"$context.identity.userAgent","error":"$context.error.responseType","message":"$context.error.message","latency":$context.responseLatency,"integration":"$context.integrationLatency","stage":"$context.stage"}"#;
    let service = service().await;
    let gateway = gateway(
        &service.url("grpc"),
        &["--access-log-format", template, "--usage-plans", &plans],
    )
    .await;
    let url = format!("{}{ITEM}", gateway.url("http"));
    Curl::request("GET", &url)
        .header("x-request-id: refused-1")
        .header(r#"User-Agent: say "hi" \ bye"#)
        .send()
        .await
        .assert_json(403, r#"{"message":"Forbidden"}"#);
    let refused = access_line(&gateway, "refused-1").await;
    assert_eq!(refused["agent"], r#"say "hi" \ bye"#);
    assert_eq!(refused["error"], "INVALID_API_KEY");
    assert_eq!(refused["message"], "Forbidden");
    assert_eq!(refused["apiKeyId"], "-");
    assert_eq!(refused["integration"], "-", "no call was made");
    assert_eq!(refused["stage"], "Test");
    Curl::request("GET", &url)
        .header("x-request-id: served-1")
        .header(format!("x-api-key: {KEY}"))
        .header("table: Music")
        .header("artist: a")
        .header("songtitle: b")
        .send()
        .await;
    let served = access_line(&gateway, "served-1").await;
    assert_eq!(served["apiKeyId"], "logged-key");
    assert_eq!(served["error"], "-");
    assert!(served["latency"].is_u64(), "{served}");
    assert!(
        served["integration"]
            .as_str()
            .is_some_and(|ms| ms.parse::<u64>().is_ok()),
        "{served}"
    );
    assert!(!gateway.log_text().contains(KEY));
}

#[tokio::test]
async fn an_unknown_context_variable_stops_the_start_naming_it() {
    let (code, log) = refused_start(&[
        "--access-log-format",
        r#"{"requestId":"$context.requestId", "ip":"$context.identity.sourceIpAddress"}"#,
    ])
    .await;
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("--access-log-format: unknown variable $context.identity.sourceIpAddress"),
        "{log}"
    );
}

#[tokio::test]
async fn the_execution_log_of_a_put_item_shows_each_step_with_credentials_redacted() {
    const API_KEY: &str = "exec-api-key-value-1234567";
    const TOKEN: &str = "Bearer exec-secret-token";
    let service = service().await;
    let gateway = gateway(
        &service.url("grpc"),
        &["--execution-log", "full", "--log-format", "json"],
    )
    .await;
    let base = gateway.url("http");
    Curl::request("PUT", format!("{base}{TABLE}"))
        .header("table: Music")
        .send()
        .await
        .assert_json(200, r#""Table created""#);
    Curl::request("PUT", format!("{base}{ITEM}"))
        .header("x-request-id: exec-1")
        .header(format!("x-api-key: {API_KEY}"))
        .header(format!("Authorization: {TOKEN}"))
        .header("Cookie: session=exec-cookie")
        .header("table: Music")
        .header("artist: No One You Know")
        .header("songtitle: Call Me Today")
        .header("albumtitle: Somewhat Famous")
        .send()
        .await
        .assert_json(200, r#""Item added""#);
    let step = |name: &'static str| {
        let gateway = &gateway;
        async move {
            gateway
                .json_line(Duration::from_secs(5), |l| {
                    l["target"] == "music_gateway::execution"
                        && l["requestId"] == "exec-1"
                        && l["step"] == name
                })
                .await
                .unwrap_or_else(|| panic!("no {name} line:\n{}", gateway.log_text()))
        }
    };
    let request = step("method request").await;
    let headers = request["headers"].as_str().expect("headers");
    assert!(headers.contains("x-api-key=********"), "{headers}");
    assert!(headers.contains("authorization=********"), "{headers}");
    assert!(headers.contains("cookie=********"), "{headers}");
    assert!(headers.contains("artist=No One You Know"), "{headers}");
    assert_eq!(request["httpMethod"], "PUT");
    let sent = step("endpoint request").await;
    assert_eq!(sent["rpc"], "music.v1.ItemService/PutItem");
    let message: Value =
        serde_json::from_str(sent["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(message["tableName"], "Music");
    assert_eq!(message["song"]["artist"], "No One You Know");
    assert_eq!(message["song"]["albumTitle"], "Somewhat Famous");
    let received = step("endpoint response").await;
    assert_eq!(received["code"], "OK");
    assert!(
        received["body"]
            .as_str()
            .is_some_and(|b| b.contains("\"songTitle\":\"Call Me Today\"")),
        "{received}"
    );
    let answered = step("method response").await;
    assert_eq!(answered["status"], 200);
    assert_eq!(answered["body"], r#""Item added""#);
    for line in [&request, &sent, &received, &answered] {
        assert!(
            line["elapsed_ms"].is_f64() && line["step_ms"].is_f64(),
            "{line}"
        );
    }
    let log = gateway.log_text();
    for secret in [API_KEY, "exec-secret-token", "exec-cookie"] {
        assert!(!log.contains(secret), "{secret} is in the log");
    }
}
