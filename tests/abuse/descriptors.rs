//! A burst of streams leaves no pile of file descriptors behind (issue 9,
//! point 4: after 2,000 concurrent streams the service held ~3,000, its
//! pooled connections to its own embedded store, for minutes). The
//! service's pool to the store is bounded and its idle connections are
//! closed: during a burst of 2,000 concurrent GetItem calls over 20
//! connections the descriptor count stays within a few hundred of its
//! baseline, and 5 s after the burst it is back near the baseline.

use std::time::{Duration, Instant};

use music_api::pb::item_service_client::ItemServiceClient;
use tokio::task::JoinSet;
use tonic::Code;

use crate::gauge::{Peak, bounded, fd_count, fds};
use music_testkit::{
    Program,
    grpc::{channel, create_table, get_request, items, put_request},
};

/// Client connections, and concurrent calls on each (the default
/// `--max-concurrent-streams` of 100 each): 2,000 calls in flight.
const CONNECTIONS: usize = 20;
const CALLS_PER_CONNECTION: usize = 100;
/// Descriptors over the baseline the burst may take at its peak: the 20
/// client connections, and a pool to the store of at most a few dozen (two
/// descriptors a pooled connection, as the store serves in the same process),
/// with room to spare; not the ~3,000 of an unbounded pool.
const PEAK_CEILING: usize = 300;
/// … and 5 s after it: the store pool's idle connections closed, whatever
/// it keeps ready.
const AFTER_CEILING: usize = 80;
const SETTLE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_two_thousand_calls_leaves_no_pile_of_descriptors() {
    bounded(async {
        let service = Program::service(&["--in-memory"]).await;
        let (grpc, pid) = (service.addr("grpc"), service.pid());
        create_table(grpc, "Music").await;
        items(grpc)
            .await
            .put_item(put_request("Music", "Descriptors", "Burst", "Counted"))
            .await
            .expect("the item is stored");
        let baseline = fd_count(pid);

        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            clients.push(ItemServiceClient::new(channel(grpc).await));
        }
        let peak = Peak::start(pid, fds);
        let started = Instant::now();
        let mut calls = JoinSet::new();
        for client in &clients {
            for _ in 0..CALLS_PER_CONNECTION {
                let mut client = client.clone();
                calls.spawn(async move {
                    client
                        .get_item(get_request("Music", "Descriptors", "Burst"))
                        .await
                        .map(|_| ())
                        .map_err(|status| status.code())
                });
            }
        }
        let (mut served, mut shed, mut other) = (0, 0, Vec::new());
        while let Some(done) = calls.join_next().await {
            match done.expect("a call task") {
                Ok(()) => served += 1,
                // Beyond --max-concurrent-requests (1024) calls are shed: expected.
                Err(Code::ResourceExhausted) => shed += 1,
                Err(code) => other.push(code),
            }
        }
        let burst = started.elapsed();
        let peak = peak.stop().await;
        // The clients go: what stays open on the server is its own doing.
        drop(clients);
        tokio::time::sleep(SETTLE).await;
        let after = fd_count(pid);

        eprintln!(
            "{} GetItem calls over {CONNECTIONS} connections in {burst:?}: {served} served, \
             {shed} shed, other {other:?}; service descriptors: baseline {baseline}, peak {peak}, \
             {SETTLE:?} after {after}",
            CONNECTIONS * CALLS_PER_CONNECTION,
        );
        // Which calls a burst this size serves is the concurrency limit's
        // business (tests/ops/limits.rs); this test is about descriptors.
        assert!(served > 0, "the burst is served");
        assert!(
            peak < (baseline + PEAK_CEILING) as f64,
            "descriptors peaked at {peak}, over baseline {baseline} + {PEAK_CEILING}"
        );
        assert!(
            after < baseline + AFTER_CEILING,
            "{after} descriptors {SETTLE:?} after the burst, over baseline {baseline} + {AFTER_CEILING}"
        );
    })
    .await;
}
