//! Throttling: the accuracy of the stage's token bucket under a load three
//! times its rate, and method buckets found by the request's resource name.

use std::time::Duration;

use music_testkit::{Curl, load::Load};

use crate::support::{NO_UPSTREAM, TABLE, gateway};

/// A stage with method buckets and no usage plan still names each request
/// (the edge names one only when a plan or a method bucket asks): a closed
/// bucket on a `/v1` template and on a tutorial resource refuses exactly
/// the requests of that resource and method.
#[tokio::test]
async fn method_buckets_without_a_usage_plan_apply_to_the_resource_and_method_they_name() {
    let gateway = gateway(
        NO_UPSTREAM,
        &[
            "--method-throttle",
            "/v1/tables/{table_name}/GET=0:0",
            "--method-throttle",
            "/DemoResourceMusic/DemoResourceMusicTable/GET=0:0",
        ],
    )
    .await;
    let base = gateway.url("http");
    let status = |method: &'static str, path: &'static str| {
        let url = format!("{base}{path}");
        async move { Curl::request(method, url).send().await }
    };
    for (method, path) in [("GET", "/v1/tables/Music"), ("GET", TABLE)] {
        let refused = status(method, path).await;
        refused.assert_json(429, r#"{"message":"Too Many Requests"}"#);
        assert_eq!(
            refused.header("x-amzn-errortype"),
            Some("TooManyRequestsException"),
            "{method} {path}"
        );
    }
    // Another method on the same resources, and another resource: let
    // through (to a service that is not there, or the tutorial's 405).
    for (method, path) in [
        ("DELETE", "/v1/tables/Music"),
        ("GET", "/v1/tables"),
        ("GET", "/v1/tables/Music/songs"),
        ("POST", TABLE),
    ] {
        let answer = status(method, path).await;
        assert_ne!(answer.status, 429, "{method} {path}: {}", answer.body);
    }
}

#[tokio::test]
async fn at_three_times_the_rate_for_five_seconds_rate_times_five_plus_burst_are_served() {
    const RATE: u32 = 200;
    const BURST: u32 = 100;
    const SECONDS: u64 = 5;
    let gateway = gateway(
        NO_UPSTREAM,
        &[
            "--throttle-rate",
            &RATE.to_string(),
            "--throttle-burst",
            &BURST.to_string(),
        ],
    )
    .await;
    // GET on the table resource is answered by the gateway itself (405):
    // the edge is all that is measured.
    let tally = Load::new(gateway.addr("http"), "GET", TABLE)
        .pace(3 * RATE, Duration::from_secs(SECONDS))
        .run()
        .await;
    let served = tally.count(405);
    let throttled = tally.count(429);
    let expected = u64::from(RATE) * SECONDS + u64::from(BURST);
    let off = (served as f64 - expected as f64) / expected as f64 * 100.0;
    eprintln!(
        "throttle {RATE}/s burst {BURST}, {} requests at {}/s in {:.2}s: {served} served, {throttled} throttled (expected {expected}, {off:+.1}%)",
        tally.sent,
        3 * RATE,
        tally.took.as_secs_f64()
    );
    assert_eq!(tally.failed, 0, "{tally:?}");
    assert_eq!(served + throttled, tally.sent, "{tally:?}");
    assert!(
        off.abs() <= 10.0,
        "served {served}, expected {expected} ± 10 %"
    );
}
