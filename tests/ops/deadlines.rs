//! Deadlines end to end: a store that takes 3 s never makes a caller wait
//! past its own budget. The service answers DEADLINE_EXCEEDED just before the
//! caller's `grpc-timeout`; without one, the SDK's operation timeout bounds the
//! call; the gateway answers 504 when its integration timeout is spent.

use std::time::{Duration, Instant};

use music_service::embedded::EmbeddedStore;
use tonic::Code;
use tonic_types::StatusExt;

use music_testkit::{
    Program, curl,
    grpc::{get_request, items},
    store_proxy::StoreProxy,
};

/// What the slow store takes per request: ten times any budget below.
const STORE_LATENCY: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_store_gets_deadline_exceeded_from_the_service_at_the_callers_deadline() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &[]).await;
    proxy.set_latency(STORE_LATENCY);

    let budget = Duration::from_millis(300);
    let mut request = tonic::Request::new(get_request("Music", "Deadline", "Three Seconds"));
    request.set_timeout(budget);
    let started = Instant::now();
    let status = items(service.addr("grpc"))
        .await
        .get_item(request)
        .await
        .expect_err("the store is slower than the deadline");
    let elapsed = started.elapsed();
    eprintln!(
        "deadline {budget:?}: the client saw {:?} {:?} after {elapsed:?}",
        status.code(),
        status.message()
    );

    // The service's own answer, not tonic's client-side CANCELLED "Timeout expired".
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let info = status
        .get_details_error_info()
        .expect("the service's ErrorInfo");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("DEADLINE_EXCEEDED", "music.v1")
    );
    assert!(
        elapsed >= budget / 2 && elapsed <= budget * 3 / 2,
        "answered within ±50% of the {budget:?} deadline, not at the store's 3 s: {elapsed:?}"
    );
    let logged = service
        .line(Duration::from_secs(2), |l| {
            l.contains("rpc finished") && l.contains("method=\"GetItem\"")
        })
        .await;
    assert!(
        logged
            .as_deref()
            .is_some_and(|l| l.contains("code=\"DEADLINE_EXCEEDED\"")),
        "the RPC's log line says DEADLINE_EXCEEDED: {logged:?}\n{}",
        service.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_caller_deadline_the_sdk_operation_timeout_bounds_a_store_call() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let budget = Duration::from_millis(800);
    let service = Program::service_on(
        &proxy.url(),
        &[
            "--dynamodb-timeout-ms",
            "800",
            "--dynamodb-attempt-timeout-ms",
            "500",
        ],
    )
    .await;
    proxy.set_latency(STORE_LATENCY);

    let mut client = items(service.addr("grpc")).await;
    let started = Instant::now();
    let call = client.get_item(get_request("Music", "No Deadline", "Bounded Anyway"));
    let status = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("never a hang")
        .expect_err("the store is slower than the SDK's budget");
    let elapsed = started.elapsed();
    eprintln!(
        "SDK operation timeout {budget:?}: {:?} {:?} after {elapsed:?}",
        status.code(),
        status.message()
    );
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(
        status
            .get_details_error_info()
            .map(|info| info.reason)
            .as_deref(),
        Some("TimeoutError")
    );
    assert!(
        elapsed >= budget / 2 && elapsed <= budget * 3 / 2,
        "bounded by the {budget:?} operation timeout: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_answers_504_when_its_integration_timeout_is_spent() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(&proxy.url(), &[]).await;
    let gateway = Program::gateway(&service.url("grpc"), &["--timeout-ms", "500"], &[]).await;
    proxy.set_latency(STORE_LATENCY);

    let budget = Duration::from_millis(500);
    let url = format!(
        "{}/Test/DemoResourceMusic/DemoResourceMusicItem",
        gateway.url("http")
    );
    let started = Instant::now();
    let answer = curl(&[
        "-X",
        "GET",
        &url,
        "-H",
        "table: Music",
        "-H",
        "artist: Deadline",
        "-H",
        "songtitle: Gateway",
    ])
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "gateway timeout {budget:?}: {} {} after {elapsed:?}",
        answer.status, answer.body
    );

    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&answer.body).expect("a JSON body");
    assert!(body.is_string(), "a JSON string, as the seed's: {body}");
    assert!(
        elapsed >= budget / 2 && elapsed <= budget * 3 / 2,
        "answered within ±50% of the gateway's {budget:?}, not at 29 s or the store's 3 s: {elapsed:?}"
    );
}
