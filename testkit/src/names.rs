//! Names no other test uses: tables on a store that several tests (and
//! earlier runs, on a DynamoDB Local that outlives them) share.
//!
//! Owns: [`unique_table`].

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// `PREFIX-PID-NANOS-N`: a valid DynamoDB table name (for a prefix of
/// `[A-Za-z0-9_.-]`) that no other test, process or run uses.
pub fn unique_table(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
