//! Throttling replies from the store: the store proxy answers every PutItem
//! with DynamoDB's `ProvisionedThroughputExceededException` (HTTP 400), the
//! store never seeing it. The service retries with backoff, bounded by
//! `--dynamodb-max-attempts 3` (the proxy sees exactly 3 requests per call),
//! then answers RESOURCE_EXHAUSTED with `google.rpc.RetryInfo`; through the
//! gateway that is 429 with `Retry-After` in `--errors http` mode, and the
//! tutorial's 500 with botocore's text in the default seed mode. When the
//! throttling stops, the same calls succeed with one request each.

use std::time::{Duration, Instant};

use music_service::embedded::EmbeddedStore;
use tonic::Code;
use tonic_types::StatusExt;

use crate::load::max;
use music_testkit::{
    Answer, Program, curl,
    grpc::{create_table, items, put_request},
    store_proxy::{Fate, Fault, StoreProxy},
};

const TABLE: &str = "Throttled";
const MAX_ATTEMPTS: usize = 3;
/// Three attempts with the SDK's backoff (at most 1 s, then 2 s, jittered)
/// end well within this: the retries are bounded.
const THROTTLED_CALL_BOUND: Duration = Duration::from_secs(5);

/// The pauses between the attempts of the call that made `seen[from..]`.
fn pauses(proxy: &StoreProxy, from: usize) -> Vec<Duration> {
    let arrivals: Vec<Instant> = proxy.seen()[from..]
        .iter()
        .filter(|s| s.operation == "PutItem")
        .map(|s| s.arrived)
        .collect();
    arrivals.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A throttled call's figures: (attempts the proxy saw, pauses, call duration).
#[derive(Debug)]
struct Throttled {
    attempts: usize,
    pauses: Vec<Duration>,
    took: Duration,
}

async fn put_through(gateway: &Program, title: &str) -> Answer {
    curl(&[
        "-X",
        "PUT",
        &format!(
            "{}/Test/DemoResourceMusic/DemoResourceMusicItem",
            gateway.url("http")
        ),
        "-H",
        "content-type: application/json",
        "-H",
        &format!("table: {TABLE}"),
        "-H",
        "artist: Throttled",
        "-H",
        &format!("songtitle: {title}"),
        "-H",
        "albumtitle: Backoff",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_with_bounded_backoff_then_resource_exhausted_429_or_the_seed_500() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &["--dynamodb-max-attempts", "3"]).await;
    let http_mode = Program::gateway(&service.url("grpc"), &["--errors", "http"], &[]).await;
    let seed_mode = Program::gateway(&service.url("grpc"), &[], &[]).await;
    create_table(service.addr("grpc"), TABLE).await;
    let mut client = items(service.addr("grpc")).await;

    proxy.set_fault(Fault::throttling().on("PutItem"));
    let expected_message = "An error occurred (ProvisionedThroughputExceededException) when calling the PutItem operation: The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";
    let mut throttled = Vec::new();

    // gRPC, three calls: RESOURCE_EXHAUSTED with RetryInfo and DynamoDB's ErrorInfo.
    for n in 0..3 {
        let (from, canned) = (proxy.seen().len(), proxy.count("PutItem", Fate::Canned));
        let started = Instant::now();
        let status = client
            .put_item(put_request(
                TABLE,
                "Throttled",
                &format!("gRPC {n}"),
                "Backoff",
            ))
            .await
            .expect_err("every PutItem is throttled");
        let took = started.elapsed();
        eprintln!(
            "gRPC PutItem {n}: {:?} {:?} after {took:?}",
            status.code(),
            status.message()
        );
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(
            status
                .get_details_retry_info()
                .and_then(|info| info.retry_delay),
            Some(Duration::from_secs(1)),
            "RetryInfo tells the caller when to come back: {status:?}"
        );
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            (
                info.reason.as_str(),
                info.domain.as_str(),
                info.metadata.get("operation").map(String::as_str)
            ),
            (
                "ProvisionedThroughputExceededException",
                "dynamodb",
                Some("PutItem")
            )
        );
        throttled.push(Throttled {
            attempts: proxy.count("PutItem", Fate::Canned) - canned,
            pauses: pauses(&proxy, from),
            took,
        });
    }

    // The gateway, accurate statuses: 429 with Retry-After, botocore's text.
    let (from, canned) = (proxy.seen().len(), proxy.count("PutItem", Fate::Canned));
    let started = Instant::now();
    let answer = put_through(&http_mode, "HTTP mode").await;
    throttled.push(Throttled {
        attempts: proxy.count("PutItem", Fate::Canned) - canned,
        pauses: pauses(&proxy, from),
        took: started.elapsed(),
    });
    eprintln!(
        "gateway --errors http: {} Retry-After {:?} {}",
        answer.status,
        answer.header("retry-after"),
        answer.body
    );
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.body, serde_json::json!(expected_message).to_string());

    // The gateway, seed mode: the tutorial's 500 with the same text, no Retry-After.
    let (from, canned) = (proxy.seen().len(), proxy.count("PutItem", Fate::Canned));
    let started = Instant::now();
    let answer = put_through(&seed_mode, "Seed mode").await;
    throttled.push(Throttled {
        attempts: proxy.count("PutItem", Fate::Canned) - canned,
        pauses: pauses(&proxy, from),
        took: started.elapsed(),
    });
    eprintln!("gateway seed mode: {} {}", answer.status, answer.body);
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(answer.body, serde_json::json!(expected_message).to_string());

    for (n, call) in throttled.iter().enumerate() {
        eprintln!(
            "throttled call {n}: {} attempts seen by the proxy, pauses {:?}, answered after {:?}",
            call.attempts, call.pauses, call.took
        );
    }
    let total_pause: Duration = throttled.iter().flat_map(|c| &c.pauses).sum();
    eprintln!(
        "fault: canned ProvisionedThroughputExceededException on every PutItem; {} calls, {} store requests, total backoff {total_pause:?}, slowest call {:?}",
        throttled.len(),
        throttled.iter().map(|c| c.attempts).sum::<usize>(),
        max(throttled.iter().map(|c| c.took))
    );
    for call in &throttled {
        assert_eq!(
            call.attempts, MAX_ATTEMPTS,
            "each call makes exactly --dynamodb-max-attempts attempts: {throttled:?}"
        );
        assert!(
            call.took < THROTTLED_CALL_BOUND,
            "the retries are bounded: {throttled:?}"
        );
    }
    // The SDK's backoff is full jitter (a random share of 1 s, then of 2 s),
    // so one pause may be near zero; ten adding up to under 50 ms would take
    // odds far below 1 in 10^12.
    assert!(
        total_pause > Duration::from_millis(50),
        "the retries back off: {throttled:?}"
    );

    // The throttling stops: every path succeeds, with one request each.
    proxy.clear_fault();
    let forwarded = proxy.count("PutItem", Fate::Forwarded);
    client
        .put_item(put_request(TABLE, "Throttled", "gRPC after", "Backoff"))
        .await
        .expect("PutItem succeeds once the throttling stops");
    for (gateway, title) in [(&http_mode, "HTTP after"), (&seed_mode, "Seed after")] {
        let answer = put_through(gateway, title).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "\"Item added\"")
        );
    }
    let after = proxy.count("PutItem", Fate::Forwarded) - forwarded;
    eprintln!("throttling stopped: 3 calls succeeded with {after} store requests");
    assert_eq!(after, 3, "one request a call once the store answers");
}
