//! A reader of a program's stderr that stops reading (a log shipper that
//! falls behind, a terminal paused with Ctrl-S) holds up neither the
//! requests nor their log lines: the lines wait for the log writer's thread,
//! and every one of them is there once reading goes on.

use std::time::Duration;

use music_testkit::{Program, eventually, load::Load};

/// Requests answered while nobody reads the gateway's stderr: several times
/// what the pipe holds (64 KiB, some 250 access-log lines), and half of what
/// the writer's queue holds (`music_runtime::log_writer::QUEUED_BYTES`).
const REQUESTS: u32 = 2_000;

/// The table resource answers GET itself (405): only the gateway is measured.
const TABLE: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";

/// Access-log lines in the gateway's log.
fn answered(gateway: &Program) -> usize {
    gateway
        .log_lines()
        .iter()
        .filter(|line| line.contains("request answered"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_stderr_reader_neither_stops_the_answers_nor_loses_their_log_lines() {
    let service = Program::service(&["--in-memory"]).await;
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;

    let stall = gateway.stall_log();
    let load = Load::new(gateway.addr("http"), "GET", TABLE)
        .pace(1_000, Duration::from_secs(u64::from(REQUESTS) / 1_000));
    // Were the lines written by the threads that answer, they would block
    // once the pipe is full, and with them every answer.
    let tally = tokio::time::timeout(Duration::from_secs(20), load.run())
        .await
        .expect("the gateway answers within 20 s while nobody reads its log");
    assert_eq!(
        (tally.count(405), tally.failed),
        (REQUESTS as usize, 0),
        "every request answered while the log was not read: {tally:?}"
    );
    eprintln!(
        "{REQUESTS} answers in {:.2}s with stderr unread; {} access-log lines read so far",
        tally.took.as_secs_f64(),
        answered(&gateway)
    );
    assert!(
        answered(&gateway) < REQUESTS as usize,
        "the log was read while stalled: the test shows nothing"
    );

    drop(stall);
    let all = eventually(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async { answered(&gateway) >= REQUESTS as usize },
    )
    .await;
    assert!(
        all.is_some(),
        "{} of {REQUESTS} access-log lines after reading went on",
        answered(&gateway)
    );
}
