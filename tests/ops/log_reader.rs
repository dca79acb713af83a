//! A reader of a program's stderr that stops reading (a log shipper that
//! falls behind, a terminal paused with Ctrl-S) holds up neither the
//! requests nor their log lines: the lines wait for the log writer's thread,
//! and every one of them is there once reading goes on. Nor does it keep the
//! program from stopping at SIGTERM.

use std::time::Duration;

use music_testkit::{Program, eventually, load::Load};

/// Requests answered while nobody reads the gateway's stderr: several times
/// what the pipe holds (64 KiB, some 250 access-log lines), and half of what
/// the writer's queue holds (`music_runtime::log_writer::QUEUED_BYTES`).
const REQUESTS: u32 = 2_000;

/// The table resource answers GET itself (405): only the gateway is measured.
const TABLE: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";

/// `REQUESTS` requests at 1,000 a second to the table resource.
fn load(gateway: &Program) -> Load {
    Load::new(gateway.addr("http"), "GET", TABLE)
        .pace(1_000, Duration::from_secs(u64::from(REQUESTS) / 1_000))
}

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
    let load = load(&gateway);
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

#[tokio::test(flavor = "multi_thread")]
async fn a_program_whose_stderr_is_not_read_still_stops_at_sigterm() {
    let service = Program::service(&["--in-memory"]).await;
    let mut gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;
    let stall = gateway.stall_log();
    // More lines than the pipe holds: the writer thread is stuck in a write.
    let tally = tokio::time::timeout(Duration::from_secs(20), load(&gateway).run())
        .await
        .expect("answers while the log is not read");
    assert_eq!(tally.count(405), REQUESTS as usize, "{tally:?}");

    gateway.terminate();
    // The drain (no requests in flight) and at most
    // `music_runtime::log_writer::SHUTDOWN_WAIT` (1 s) for the lines; the
    // log is still not read meanwhile.
    let exited = eventually(Duration::from_secs(15), Duration::from_millis(50), || {
        let running = gateway.is_running();
        async move { !running }
    })
    .await;
    assert!(
        exited.is_some(),
        "the gateway did not exit within 15 s of SIGTERM with its stderr unread"
    );
    drop(stall);
    let status = gateway.wait_exit(Duration::from_secs(5)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the gateway's exit: {status:?}"
    );
}
