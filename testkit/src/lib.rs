//! music-testkit: the one copy of what the test suites (root `tests/`,
//! `service/tests`, `gateway/tests`) and the bench share. A suite that needs
//! a helper another suite could use adds it here, not a copy of its own.
//!
//! - [`program`]: the programs as processes (spawn with a clean environment,
//!   `listening on` lines, log lines, signals, SIGKILL, exit);
//! - [`dynamodb_local`]: DynamoDB Local as a process the caller owns;
//! - [`store_proxy`]: the proxy in front of the store (latency, refusal,
//!   canned DynamoDB errors, lost answers, a tamper hook), with
//!   [`table_statuses`], the hook that emulates CREATING/DELETING tables, and
//!   [`partial_batches`], the one that leaves part of a batch unprocessed;
//! - [`dynamodb`]: an aws-sdk-dynamodb client straight to a store;
//! - [`curl`]: the real curl, and [`answer`]: the one reader of its answers;
//! - [`http`]: one request with hyper, for readiness probes and DynamoDB
//!   Local's JSON protocol, and [`load`], requests at a set pace;
//! - [`grpc`]: clients of a running service, and [`grpcurl`], the real one;
//! - [`metrics`]: a scraped `/metrics` page;
//! - [`sample`]: RSS, CPU time and descriptors of a process, and peaks;
//! - [`env`]: which stores the environment names, and the CI rule;
//! - [`names`]: table names no other test uses;
//! - [`wait`]: waiting for a condition with a bound.

pub mod answer;
pub mod curl;
pub mod dynamodb;
pub mod dynamodb_local;
pub mod env;
pub mod grpc;
pub mod grpcurl;
pub mod http;
pub mod load;
pub mod metrics;
pub mod names;
pub mod partial_batches;
pub mod program;
pub mod sample;
pub mod store_proxy;
pub mod table_statuses;
pub mod wait;

pub use answer::Answer;
pub use curl::{Curl, CurlRun, curl, http_status, try_curl};
pub use program::Program;
pub use wait::eventually;
