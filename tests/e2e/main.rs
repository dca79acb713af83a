//! End-to-end tests of the whole stack as real processes on real sockets:
//! `music-service` and `music-gateway --upstream` (as deployed), and
//! `music-gateway` alone (the one-command mode), driven by the real curl.

#[path = "../support/common.rs"]
mod common;
mod seed_curl;
mod stack;
mod upstream_down;
