//! End-to-end tests of the whole stack as real processes on real sockets:
//! `music-service` and `music-gateway --upstream` (as deployed), and
//! `music-gateway` alone (the one-command mode), driven by the real curl.
//!
//! The scaffolding they share with the other suites (programs as processes,
//! the store proxy, DynamoDB Local, curl, gRPC clients) is music-testkit's.

mod seed_curl;
mod stack;
mod upstream_down;
