//! music-service killed (SIGKILL) behind a two-process gateway, under a
//! concurrent write load: the gateway answers 503 at once (< 1 s) while the
//! service is down, its `/readyz` turns false, and it recovers by itself when
//! a service is back on the same address: no gateway restart, every writer
//! succeeding again. The service keeps its embedded store in a data folder,
//! so that every write it acknowledged before it died is read back from the
//! new one.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use crate::load::{Write, WriteLoad, max, median, statuses};
use music_testkit::{
    Program, eventually,
    grpc::{create_table, get_request, items},
    http_status,
};

const TABLE: &str = "ServiceKilled";
const WRITERS: usize = 4;
/// A bound on each writer; the test stops them long before in practice.
const PER_WRITER: usize = 2_000;
/// "At once": the gateway must not wait for a service that is not there.
const AT_ONCE: Duration = Duration::from_secs(1);
/// Recovery is measured and printed; this bound only catches a gateway that
/// never reconnects by itself.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

/// Writers that had a write answered 200 after `since`.
fn writers_succeeding(writes: &[Write], since: Instant) -> usize {
    writes
        .iter()
        .filter(|w| w.status == 200 && w.answered > since)
        .map(|w| &w.artist)
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_service_gets_503_at_once_from_the_gateway_which_recovers_by_itself_under_load() {
    let data = tempfile::tempdir().expect("a data folder");
    let data_dir = data.path().to_str().expect("a UTF-8 temp path");
    let mut service = Program::service_at("127.0.0.1:0", &["--data-dir", data_dir], &[]).await;
    let grpc = service.addr("grpc");
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;
    let gateway_readyz = format!("{}/readyz", gateway.url("http"));
    create_table(grpc, TABLE).await;

    let load = WriteLoad::start(&gateway.url("http"), TABLE, "Killed", WRITERS, PER_WRITER);
    load.until(Duration::from_secs(30), |w| {
        w.iter().filter(|w| w.status == 200).count() >= 40
    })
    .await
    .expect("writes are acknowledged while the service runs");

    let killing = Instant::now();
    service.kill().await;
    let killed = Instant::now();
    let not_ready = eventually(
        Duration::from_secs(3),
        Duration::from_millis(20),
        || async { http_status(&gateway_readyz).await == 503 },
    )
    .await;
    load.until(Duration::from_secs(20), |w| {
        w.iter().filter(|w| w.sent > killed).count() >= 10 * WRITERS
    })
    .await
    .expect("writes are answered while the service is down");

    // Writes answered before the new process is started were answered while it was down for
    // certain; once it runs it can answer before its `listening on` line reaches this test.
    let restarting = Instant::now();
    let service = Program::service_at(&grpc.to_string(), &["--data-dir", data_dir], &[]).await;
    let back = Instant::now();
    let first_success = load
        .until(RECOVERY_BOUND, |w| writers_succeeding(w, back) >= 1)
        .await;
    let every_writer = load
        .until(RECOVERY_BOUND, |w| writers_succeeding(w, back) == WRITERS)
        .await;
    let ready_again = eventually(
        Duration::from_secs(3),
        Duration::from_millis(20),
        || async { http_status(&gateway_readyz).await == 200 },
    )
    .await;
    let writes = load.finish().await;

    // Read back through the new service: what its store kept.
    let mut client = items(service.addr("grpc")).await;
    let mut present = Vec::with_capacity(writes.len());
    for write in &writes {
        let found = client
            .get_item(get_request(TABLE, &write.artist, &write.title))
            .await;
        present.push(found.is_ok_and(|song| {
            song.into_inner().album_title.as_deref() == Some(write.album.as_str())
        }));
    }
    let acked: Vec<(&Write, bool)> = writes
        .iter()
        .zip(present.iter().copied())
        .filter(|(w, _)| w.status == 200)
        .collect();
    let lost: Vec<&Write> = acked.iter().filter(|(_, p)| !p).map(|(w, _)| *w).collect();
    let failed_but_present = writes
        .iter()
        .zip(&present)
        .filter(|(w, p)| w.status != 200 && **p)
        .count();
    let in_flight: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent <= killed && w.answered > killing)
        .collect();
    let down: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent > killed && w.answered <= restarting)
        .collect();

    eprintln!(
        "fault: music-service SIGKILLed under {WRITERS} concurrent curl writers through a pure gateway; back on {grpc} after {:?}",
        back - killed
    );
    eprintln!(
        "in flight at the kill: {} writes answered {:?} within {:?}",
        in_flight.len(),
        statuses(in_flight.iter().copied()),
        max(in_flight.iter().map(|w| w.answered - killing)),
    );
    eprintln!(
        "while down: {} writes answered {:?}, median {:?}, slowest {:?}; gateway /readyz 503 after {not_ready:?}",
        down.len(),
        statuses(down.iter().copied()),
        median(down.iter().map(|w| w.took())),
        max(down.iter().map(|w| w.took())),
    );
    if let Some(sample) = down.first() {
        eprintln!("  e.g. {} {}", sample.status, sample.body);
    }
    eprintln!(
        "recovery after the service listened again: first 200 after {first_success:?}, every writer after {every_writer:?}, gateway /readyz 200 after {ready_again:?}"
    );
    eprintln!(
        "writes: {} sent, {} acknowledged, {} acknowledged but missing; {} failed, of which {} present (unknown outcome)",
        writes.len(),
        acked.len(),
        lost.len(),
        writes.len() - acked.len(),
        failed_but_present
    );

    assert!(
        lost.is_empty(),
        "every write answered 200 before the kill is kept: {lost:#?}"
    );
    assert!(!down.is_empty());
    // A write in flight may have been answered just before the service died.
    for write in in_flight.iter().filter(|w| w.status != 200).chain(&down) {
        assert_eq!(write.status, 503, "the gateway answers 503: {write:?}");
        assert!(
            write.body.starts_with("\"The music service is unavailable"),
            "a JSON string that says so: {write:?}"
        );
    }
    let slowest = max(down.iter().map(|w| w.took()));
    assert!(
        slowest < AT_ONCE,
        "every call while the service is down is answered within {AT_ONCE:?}: slowest {slowest:?}"
    );
    assert!(not_ready.is_some(), "the gateway's /readyz turns 503");
    assert!(
        first_success.is_some() && every_writer.is_some(),
        "the gateway reconnects by itself, for every writer: first {first_success:?}, all {every_writer:?}\n{}",
        gateway.log_text()
    );
    assert!(
        ready_again.is_some(),
        "the gateway's /readyz turns 200 again"
    );
}
