//! Limits and back-pressure: beyond `--max-concurrent-requests` the service
//! sheds load at once with RESOURCE_EXHAUSTED and a retry delay instead of
//! queueing; a message over `--max-message-bytes` is RESOURCE_EXHAUSTED,
//! compressed or not; gzip and zstd requests are accepted and answers are
//! compressed for the clients that accept it.

use std::time::{Duration, Instant};

use music_service::embedded::EmbeddedStore;
use tonic::{Code, codec::CompressionEncoding};
use tonic_types::StatusExt;

use music_testkit::{
    Program,
    grpc::{create_table, get_request, items, put_request},
    metrics::Metrics,
    store_proxy::StoreProxy,
};

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_concurrency_limit_requests_are_shed_at_once_with_a_retry_delay() {
    const CALLS: usize = 6;
    const LIMIT: usize = 2;
    let store_latency = Duration::from_secs(1);
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let limit = LIMIT.to_string();
    let service =
        Program::service_on(&proxy.url(), &["--max-concurrent-requests", limit.as_str()]).await;
    let grpc = service.addr("grpc");
    create_table(grpc, "Music").await;
    proxy.set_latency(store_latency);

    let client = items(grpc).await;
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = client
                    .put_item(put_request("Music", "Shed", &format!("Call {i}"), "Busy"))
                    .await;
                (started.elapsed(), result)
            })
        })
        .collect();
    let mut served = Vec::new();
    let mut shed = Vec::new();
    for call in calls {
        let (elapsed, result) = call.await.expect("the call task");
        match result {
            Ok(_) => served.push(elapsed),
            Err(status) => shed.push((elapsed, status)),
        }
    }
    eprintln!(
        "limit {LIMIT}, {CALLS} calls, store {store_latency:?}: {} served after {served:?}, {} shed after {:?}",
        served.len(),
        shed.len(),
        shed.iter().map(|(e, s)| (*e, s.code())).collect::<Vec<_>>()
    );

    assert_eq!(served.len(), LIMIT, "as many served as the limit allows");
    assert_eq!(shed.len(), CALLS - LIMIT);
    for (elapsed, status) in &shed {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            *elapsed < store_latency / 2,
            "shed at once, not queued behind the store: {elapsed:?}"
        );
        let retry = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay);
        assert!(
            retry.is_some_and(|d| d > Duration::ZERO),
            "RetryInfo tells the caller when to come back: {retry:?}"
        );
    }
    for elapsed in &served {
        assert!(
            *elapsed >= store_latency,
            "served through the slow store: {elapsed:?}"
        );
    }
    let metrics = Metrics::scrape(&format!("{}/metrics", service.url("admin"))).await;
    assert_eq!(
        metrics.sum(
            "music_grpc_requests_total",
            &[("method", "PutItem"), ("code", "RESOURCE_EXHAUSTED")]
        ),
        Some((CALLS - LIMIT) as f64),
        "shed requests are counted"
    );
}

/// A service whose messages may be 1 KiB at most, with the `Music` table.
async fn small_message_service() -> Program {
    let service = Program::service(&["--in-memory", "--max-message-bytes", "1024"]).await;
    create_table(service.addr("grpc"), "Music").await;
    service
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_over_the_size_limit_is_resource_exhausted() {
    let service = small_message_service().await;
    let oversized = items(service.addr("grpc"))
        .await
        .put_item(put_request("Music", "Limits", "Too Big", &"a".repeat(2048)))
        .await
        .expect_err("a 2 KB message over a 1 KiB limit");
    eprintln!(
        "2 KB PutItem, limit 1 KiB: {:?} {:?}",
        oversized.code(),
        oversized.message()
    );
    assert_eq!(oversized.code(), Code::ResourceExhausted, "{oversized:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_calls_are_served_within_the_size_limit_and_refused_beyond_it() {
    let service = small_message_service().await;
    let grpc = service.addr("grpc");

    // Compression does not get a message past the limit: it applies to the decompressed size.
    let squeezed = items(grpc)
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .put_item(put_request(
            "Music",
            "Limits",
            "Too Big Zipped",
            &"a".repeat(2048),
        ))
        .await
        .expect_err("2 KB once decompressed, over the limit");
    eprintln!(
        "2 KB PutItem gzip-compressed, limit 1 KiB: {:?} {:?}",
        squeezed.code(),
        squeezed.message()
    );
    assert_eq!(squeezed.code(), Code::ResourceExhausted, "{squeezed:?}");

    for (name, encoding) in [
        ("gzip", CompressionEncoding::Gzip),
        ("zstd", CompressionEncoding::Zstd),
    ] {
        let mut client = items(grpc)
            .await
            .send_compressed(encoding)
            .accept_compressed(encoding);
        let title = format!("Compressed {name}");
        client
            .put_item(put_request("Music", "Limits", &title, "Small"))
            .await
            .unwrap_or_else(|e| panic!("{name}-compressed PutItem is accepted: {e:?}"));
        let answer = client
            .get_item(get_request("Music", "Limits", &title))
            .await
            .unwrap_or_else(|e| panic!("{name}-compressed GetItem is accepted: {e:?}"));
        let answered_with = answer
            .metadata()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        eprintln!("{name}: request compressed, answer grpc-encoding {answered_with:?}");
        assert_eq!(answer.get_ref().album_title.as_deref(), Some("Small"));
        assert_eq!(
            answered_with.as_deref(),
            Some(name),
            "the answer is compressed for a client that accepts {name}"
        );
    }
}
