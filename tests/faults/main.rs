//! Reliability under faults: the stack as real processes (the built
//! `music-service` and `music-gateway` binaries) on real sockets (port 0
//! only), real curl and tonic clients, with faults injected on purpose.
//!
//! - DynamoDB Local killed in the middle of a write load and started again
//!   with its data (when `MUSIC_TEST_DYNAMODB_LOCAL_DIR` names its jar folder);
//! - music-service killed behind a two-process gateway, under load;
//! - a slow store (a fault proxy adding latency beyond the budget);
//! - throttling replies from the store (canned by the fault proxy);
//! - answers lost after the store did the work (connections dropped);
//! - many writers on one item, and on distinct items;
//! - AWS credentials never in either program's log, at debug level.
//!
//! Each test prints what was injected and what was seen (errors, recovery
//! time, writes acknowledged vs found). The binaries must be built first:
//! `cargo build --workspace`.

#[path = "../support/common.rs"]
mod common;
#[path = "../support/dynamodb_local.rs"]
mod dynamodb_local;
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
mod load;
mod lost_answers;
mod many_writers;
#[path = "../support/process.rs"]
mod process;
mod secrets;
mod service_killed;
mod slow_store;
mod store_restart;
#[path = "../support/support.rs"]
mod support;
mod table;
mod throttling;
