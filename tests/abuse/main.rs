//! Abuse from one client must not hurt the others (issue 9): the built
//! `music-service` and `music-gateway` binaries as real processes on real
//! sockets (port 0 only), attacked the way an attacker would, with raw TCP
//! sockets, hand-made HTTP/2 frames, the `h2` crate, tonic and the real curl.
//!
//! Each test states the bound it proves and prints what it observed (RSS in
//! MiB before, at its peak and after; descriptor counts; connection
//! lifetimes; answers by status), so `--nocapture` shows the figures:
//!
//! - `memory`: 145 half-sent 4 MiB PutItem streams on one h2 connection cost
//!   the service (and the in-process gateway) at most the connection's body
//!   budget, are refused RESOURCE_EXHAUSTED, and the memory comes back; an
//!   innocent client is served throughout.
//! - `body_timeout`: a request body that stops arriving is refused after
//!   `--body-read-timeout` (gRPC DEADLINE_EXCEEDED, HTTP 408).
//! - `request_ids`: request ids beyond 128 visible ASCII bytes are replaced,
//!   never echoed, forwarded or logged, and cannot break the gateway's shared
//!   upstream connection for other clients; a valid one travels as before.
//! - `connections`: connections that never complete a request start, and
//!   connections left idle, are closed within the configured times.
//! - `keepalive`: an h2 peer that stops answering PINGs is disconnected.
//! - `descriptors`: a burst of 2,000 streams leaves no pile of descriptors.
//! - `exposure`: `/metrics` only on the admin listener, 404 bodies name a
//!   bounded prefix of the path, encoded request bodies are 415.
//!
//! The binaries must be built first: `cargo build --workspace`.
//!
//! The scaffolding they share with the other suites (programs as processes,
//! the store proxy, DynamoDB Local, curl, gRPC clients) is music-testkit's.

mod gauge;
mod stacks;
mod wire;

mod body_timeout;
mod connections;
mod descriptors;
mod exposure;
mod keepalive;
mod memory;
mod request_ids;
