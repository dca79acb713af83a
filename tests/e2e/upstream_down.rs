//! A gateway whose service is down answers 503 at once, and recovers by
//! itself when the service is back on the same address.

use std::time::{Duration, Instant};

use music_testkit::Program;

use crate::stack::{Store, TwoProcessStack, curl};

#[tokio::test]
async fn the_gateway_answers_503_while_the_service_is_down_and_recovers() {
    let mut stack = TwoProcessStack::start(&Store::Embedded, &[]).await;
    let base = stack.base_url();
    let grpc = stack.service.addr("grpc");
    let create = format!(
        "curl -X PUT {base}/Test/DemoResourceMusic/DemoResourceMusicTable -H 'table:Music'"
    );
    assert_eq!(curl(&create).await.status, 200);

    stack.service.kill().await;
    let started = Instant::now();
    let down = curl(&create).await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(
        down.body.starts_with('"'),
        "a JSON string message: {}",
        down.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast, not at the 29 s timeout"
    );

    // Back on the same address (a fresh in-memory store): the gateway reconnects by itself.
    let listen = grpc.to_string();
    let _service = Program::start(
        "music-service",
        &[
            "--listen",
            &listen,
            "--admin-listen",
            "127.0.0.1:0",
            "--in-memory",
        ],
        &[],
        2,
    )
    .await;
    let mut status = 0;
    for _ in 0..50 {
        status = curl(&create).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the gateway recovered without a restart");
}
