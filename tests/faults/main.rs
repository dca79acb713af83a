//! Reliability under faults: the stack as real processes (the built
//! `music-service` and `music-gateway` binaries) on real sockets (port 0
//! only), real curl and tonic clients, with faults injected on purpose.
//!
//! - DynamoDB Local killed in the middle of a write load and started again
//!   with its data (when `MUSIC_TEST_DYNAMODB_LOCAL_DIR` names its jar folder);
//! - music-service killed behind a two-process gateway, under load;
//! - a slow store (a store proxy adding latency beyond the budget);
//! - throttling replies from the store (canned by the store proxy);
//! - answers lost after the store did the work (connections dropped);
//! - many writers on one item, and on distinct items;
//! - AWS credentials never in either program's log, at debug level.
//!
//! Each test prints what was injected and what was seen (errors, recovery
//! time, writes acknowledged vs found). The binaries must be built first:
//! `cargo build --workspace`.
//!
//! The scaffolding they share with the other suites (programs as processes,
//! the store proxy, DynamoDB Local, curl, gRPC clients) is music-testkit's.

mod load;
mod lost_answers;
mod many_writers;
mod secrets;
mod service_killed;
mod slow_store;
mod store_restart;
mod table;
mod throttling;
