//! Waiting for a condition with a bound, so that a test that never sees it
//! fails instead of hanging.
//!
//! Owns: [`eventually`].

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Polls `check` every `every` until it is true or `within` has passed;
/// the time it took, if it became true.
pub async fn eventually<F, Fut>(within: Duration, every: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return Some(started.elapsed());
        }
        if started.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
