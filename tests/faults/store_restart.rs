//! DynamoDB Local killed (SIGKILL to the JVM) in the middle of a write load
//! through a two-process stack, then started again on the same port with the
//! same data folder (`-dbPath`):
//!
//! - while it is away, every write fails within its deadline with a mapped
//!   error (503 UNAVAILABLE or 504 DEADLINE_EXCEEDED, `--errors http`), and
//!   readiness (`/readyz` of the service and of the gateway) is false;
//! - within about a second of its return, writes succeed again;
//! - afterwards every write answered 200 is in the table, read straight from
//!   DynamoDB Local with a fresh client. A write that failed may or may not be
//!   there (the store may have done it before its answer was lost: an unknown
//!   outcome, which is what a non-200 means); none was answered 200 without
//!   being done.

use std::time::{Duration, Instant};

use crate::{
    load::{Write, WriteLoad, max, median, statuses},
    table::scan,
};
use music_testkit::{
    Program,
    dynamodb_local::{DynamoDbLocal, free_port, jar_dir},
    eventually,
    grpc::create_table,
    http_status,
};

const TABLE: &str = "StoreRestart";
const WRITERS: usize = 4;
/// A bound on each writer; the test stops them long before in practice.
const PER_WRITER: usize = 2_000;
/// The gateway's integration timeout: no answer may come later than this.
const GATEWAY_TIMEOUT: Duration = Duration::from_millis(3_000);
/// What curl and process start-up may add to an answer on a loaded machine.
const CURL_SLACK: Duration = Duration::from_millis(500);
/// "Within 1 s of its return", with a little slack for a 2-core machine.
const RECOVERY_LIMIT: Duration = Duration::from_millis(1_500);
/// Readiness follows within a few probe intervals (200 ms here).
const READINESS_WITHIN: Duration = Duration::from_secs(3);

fn acknowledged(writes: &[Write]) -> usize {
    writes.iter().filter(|w| w.status == 200).count()
}

async fn readyz(service: &Program, gateway: &Program) -> (u16, u16) {
    (
        http_status(&format!("{}/readyz", service.url("admin"))).await,
        http_status(&format!("{}/readyz", gateway.url("http"))).await,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_local_killed_mid_load_loses_no_acknowledged_write_and_recovers_on_its_return() {
    let Some(jar) = jar_dir("the DynamoDB Local kill/restart write-load test") else {
        return;
    };
    let data = tempfile::tempdir().expect("a data folder");
    let port = free_port();
    let local = DynamoDbLocal::start(&jar, data.path(), port).await;
    let endpoint = local.endpoint();
    let service = Program::service_on(
        &endpoint,
        &[
            "--dynamodb-timeout-ms",
            "2000",
            "--dynamodb-attempt-timeout-ms",
            "1000",
            "--health-probe-interval-ms",
            "200",
        ],
    )
    .await;
    let gateway = Program::gateway(
        &service.url("grpc"),
        &["--timeout-ms", "3000", "--errors", "http"],
        &[],
    )
    .await;
    create_table(service.addr("grpc"), TABLE).await;
    // A cold JVM may miss the first probes' 200 ms budget.
    let ready = eventually(READINESS_WITHIN, Duration::from_millis(20), || async {
        readyz(&service, &gateway).await == (200, 200)
    })
    .await;
    assert!(ready.is_some(), "ready while DynamoDB Local serves");

    let load = WriteLoad::start(&gateway.url("http"), TABLE, "Restart", WRITERS, PER_WRITER);
    load.until(Duration::from_secs(30), |w| acknowledged(w) >= 40)
        .await
        .expect("writes are acknowledged while DynamoDB Local serves");

    local.kill().await;
    let killed = Instant::now();
    let not_ready = eventually(READINESS_WITHIN, Duration::from_millis(20), || async {
        readyz(&service, &gateway).await == (503, 503)
    })
    .await;
    // A few writes sent (and answered) while it is away.
    load.until(Duration::from_secs(20), |w| {
        w.iter().filter(|w| w.sent > killed).count() >= 3 * WRITERS
    })
    .await
    .expect("writes are answered while DynamoDB Local is away");

    // Writes answered before the new JVM is started were answered while the store was away for
    // certain; once it runs it can serve before its start returns here.
    let restarting = Instant::now();
    let local = DynamoDbLocal::start(&jar, data.path(), port).await;
    let back = Instant::now();
    let away = back - killed;
    let recovered = load
        .until(Duration::from_secs(10), |w| {
            w.iter().any(|w| w.status == 200 && w.answered > back)
        })
        .await;
    let ready_again = eventually(READINESS_WITHIN, Duration::from_millis(20), || async {
        readyz(&service, &gateway).await == (200, 200)
    })
    .await;
    // Steady again: every writer gets a few more writes done.
    load.until(Duration::from_secs(20), |w| {
        w.iter()
            .filter(|w| w.status == 200 && w.sent > back)
            .count()
            >= 5 * WRITERS
    })
    .await
    .expect("writes keep succeeding once DynamoDB Local is back");
    let writes = load.finish().await;

    // What the table holds, read with a fresh client straight from DynamoDB Local.
    let songs = scan(&local.endpoint(), TABLE).await;
    let (acked, failed): (Vec<&Write>, Vec<&Write>) = writes.iter().partition(|w| w.status == 200);
    let lost: Vec<&&Write> = acked.iter().filter(|w| !w.is_in(&songs)).collect();
    let failed_but_present = failed.iter().filter(|w| w.is_in(&songs)).count();
    let during: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent > killed && w.answered < restarting)
        .collect();
    let unwritten: Vec<_> = songs
        .keys()
        .filter(|key| !writes.iter().any(|w| &w.key() == *key))
        .collect();

    eprintln!(
        "fault: DynamoDB Local (-dbPath, -sharedDb) SIGKILLed under {WRITERS} concurrent curl writers, away {away:?} (JVM restart included)"
    );
    eprintln!(
        "while away: {} writes answered {:?}, median {:?}, slowest {:?} (gateway budget {GATEWAY_TIMEOUT:?}); readiness false after {not_ready:?}",
        during.len(),
        statuses(during.iter().copied()),
        median(during.iter().map(|w| w.took())),
        max(during.iter().map(|w| w.took())),
    );
    for status in statuses(during.iter().copied()).keys() {
        if let Some(sample) = during.iter().find(|w| w.status == *status) {
            eprintln!("  e.g. {status} {}", sample.body);
        }
    }
    eprintln!(
        "recovery: first write answered 200 {recovered:?} after DynamoDB Local served again; readiness true after {ready_again:?}"
    );
    eprintln!(
        "writes: {} sent, {} acknowledged (200), {} found in the table, {} acknowledged but missing; {} failed, of which {} present (unknown outcome); statuses overall {:?}",
        writes.len(),
        acked.len(),
        songs.len(),
        lost.len(),
        failed.len(),
        failed_but_present,
        statuses(&writes),
    );

    assert!(
        lost.is_empty(),
        "every write answered 200 is in the table; missing: {lost:#?}"
    );
    assert!(
        unwritten.is_empty(),
        "the table holds only songs that were written: {unwritten:?}"
    );
    for write in &acked {
        assert_eq!(write.body, "\"Item added\"", "{write:?}");
    }
    assert!(
        not_ready.is_some(),
        "readiness turns false while DynamoDB Local is away: {:?}\n{}",
        readyz(&service, &gateway).await,
        service.log_text()
    );
    assert!(
        !during.is_empty() && during.iter().all(|w| matches!(w.status, 503 | 504)),
        "while away, writes fail with the mapped error (503 or 504): {:?}",
        statuses(during.iter().copied())
    );
    for write in &failed {
        assert!(
            matches!(write.status, 503 | 504) && write.body.starts_with('"'),
            "a failed write has a mapped status and a JSON string body: {write:?}"
        );
    }
    let slowest = max(writes.iter().map(Write::took));
    assert!(
        slowest <= GATEWAY_TIMEOUT + CURL_SLACK,
        "no request outlives the gateway's {GATEWAY_TIMEOUT:?} budget: slowest {slowest:?}"
    );
    let recovered = recovered.expect("writes succeed again once DynamoDB Local is back");
    assert!(
        recovered <= RECOVERY_LIMIT,
        "writes succeed within about 1 s of DynamoDB Local's return: {recovered:?}"
    );
    assert!(ready_again.is_some(), "readiness turns true again");
}
