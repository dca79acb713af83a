//! Throttling: the accuracy of the stage's token bucket under a load three
//! times its rate.

use std::time::Duration;

use music_testkit::load::Load;

use crate::support::{NO_UPSTREAM, TABLE, gateway};

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
