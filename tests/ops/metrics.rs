//! The Prometheus metrics count exactly what was sent: 7 PUTs and 3 GETs of
//! a missing song through a two-process stack show up as 7 and 3 in the
//! gateway's HTTP series, the service's RPC series and its DynamoDB series,
//! with latency histograms beside them and no request left in flight.

use music_testkit::{Program, curl, metrics::Metrics};

const PUTS: usize = 7;
const MISSING_GETS: usize = 3;
const TABLE_ROUTE: &str = "/DemoResourceMusic/DemoResourceMusicTable";
const ITEM_ROUTE: &str = "/DemoResourceMusic/DemoResourceMusicItem";

/// A two-process stack that has served one CreateTable, `PUTS` PUTs and
/// `MISSING_GETS` GETs of missing songs, all through the gateway with curl.
async fn stack_after_the_requests() -> (Program, Program) {
    let service = Program::service(&["--in-memory"]).await;
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;
    let base = gateway.url("http");
    let table_url = format!("{base}/Test{TABLE_ROUTE}");
    let item_url = format!("{base}/Test{ITEM_ROUTE}");

    let created = curl(&["-X", "PUT", &table_url, "-H", "table: Music"]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    for i in 0..PUTS {
        let title = format!("songtitle: Counted {i}");
        let put = curl(&[
            "-X",
            "PUT",
            &item_url,
            "-H",
            "table: Music",
            "-H",
            "artist: Metrics",
            "-H",
            &title,
            "-H",
            "albumtitle: Seven",
        ])
        .await;
        assert_eq!((put.status, put.body.as_str()), (200, r#""Item added""#));
    }
    for i in 0..MISSING_GETS {
        let title = format!("songtitle: Missing {i}");
        let get = curl(&[
            "-X",
            "GET",
            &item_url,
            "-H",
            "table: Music",
            "-H",
            "artist: Metrics",
            "-H",
            &title,
        ])
        .await;
        assert_eq!(
            (get.status, get.body.as_str()),
            (200, r#""Item not found""#)
        );
    }
    (service, gateway)
}

fn count(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .sum(name, labels)
        .unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{}", metrics.text))
}

fn assert_histogram(metrics: &Metrics, histogram: &str) {
    assert!(
        metrics
            .text
            .contains(&format!("# TYPE {histogram} histogram")),
        "{histogram} is a histogram:\n{}",
        metrics.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_services_metrics_count_exactly_the_rpcs_and_store_calls_that_were_made() {
    let (service, _gateway) = stack_after_the_requests().await;
    let grpc = Metrics::scrape(&format!("{}/metrics", service.url("admin"))).await;
    eprintln!(
        "service /metrics excerpt:\n{}\n{}\n{}",
        grpc.excerpt("music_grpc_requests_total"),
        grpc.excerpt("music_dynamodb_calls_total"),
        grpc.excerpt("music_grpc_requests_in_flight"),
    );

    // RPCs by method and code.
    let rpcs = "music_grpc_requests_total";
    assert_eq!(
        count(&grpc, rpcs, &[("method", "PutItem"), ("code", "OK")]),
        PUTS as f64
    );
    assert_eq!(
        count(&grpc, rpcs, &[("method", "GetItem"), ("code", "NOT_FOUND")]),
        MISSING_GETS as f64
    );
    assert_eq!(
        count(&grpc, rpcs, &[("method", "PutItem")]),
        PUTS as f64,
        "no other PutItem codes"
    );
    assert_eq!(
        count(&grpc, rpcs, &[("method", "GetItem")]),
        MISSING_GETS as f64,
        "no other GetItem codes"
    );
    assert_eq!(
        count(&grpc, rpcs, &[("method", "CreateTable"), ("code", "OK")]),
        1.0
    );
    // DynamoDB calls by operation and outcome.
    let calls = "music_dynamodb_calls_total";
    assert_eq!(
        count(&grpc, calls, &[("operation", "PutItem"), ("outcome", "ok")]),
        PUTS as f64
    );
    assert_eq!(
        count(&grpc, calls, &[("operation", "GetItem"), ("outcome", "ok")]),
        MISSING_GETS as f64,
        "a missing item is an ordinary answer of DynamoDB"
    );
    // Latency histograms, counting the same calls.
    assert_histogram(&grpc, "music_grpc_request_duration_seconds");
    assert_histogram(&grpc, "music_dynamodb_call_duration_seconds");
    assert_eq!(
        count(
            &grpc,
            "music_grpc_request_duration_seconds_count",
            &[("method", "PutItem")]
        ),
        PUTS as f64
    );
    assert_eq!(
        count(
            &grpc,
            "music_grpc_request_duration_seconds_bucket",
            &[("method", "GetItem"), ("le", "+Inf")]
        ),
        MISSING_GETS as f64
    );
    assert_eq!(
        count(
            &grpc,
            "music_dynamodb_call_duration_seconds_count",
            &[("operation", "PutItem")]
        ),
        PUTS as f64
    );
    assert_eq!(count(&grpc, "music_grpc_requests_in_flight", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateways_metrics_count_exactly_the_requests_that_were_sent() {
    let (_service, gateway) = stack_after_the_requests().await;
    let http = Metrics::scrape(&format!("{}/metrics", gateway.url("admin"))).await;
    eprintln!(
        "gateway /metrics excerpt:\n{}\n{}",
        http.excerpt("music_http_requests_total"),
        http.excerpt("music_http_requests_in_flight"),
    );

    // Requests by route, method and status.
    let requests = "music_http_requests_total";
    let put = [("route", ITEM_ROUTE), ("method", "PUT"), ("status", "200")];
    let get = [("route", ITEM_ROUTE), ("method", "GET"), ("status", "200")];
    let table = [("route", TABLE_ROUTE), ("method", "PUT"), ("status", "200")];
    assert_eq!(count(&http, requests, &put), PUTS as f64);
    assert_eq!(count(&http, requests, &get), MISSING_GETS as f64);
    assert_eq!(count(&http, requests, &table), 1.0);
    // Their latency.
    assert_histogram(&http, "music_http_request_duration_seconds");
    let latency = [("route", ITEM_ROUTE), ("method", "PUT")];
    assert_eq!(
        count(&http, "music_http_request_duration_seconds_count", &latency),
        PUTS as f64
    );
    assert_eq!(
        count(
            &http,
            "music_http_request_duration_seconds_bucket",
            &[("route", ITEM_ROUTE), ("method", "GET"), ("le", "+Inf")]
        ),
        MISSING_GETS as f64
    );
    assert!(count(&http, "music_http_request_duration_seconds_sum", &latency) > 0.0);
    // Nothing is in flight (the scrape, on the admin listener, is not counted).
    assert_eq!(count(&http, "music_http_requests_in_flight", &[]), 0.0);
}
