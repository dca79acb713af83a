//! TLS end to end, with real processes and certificates made at run time
//! (rcgen): music-service serving gRPC over TLS and mTLS, music-gateway
//! reaching it over mTLS and serving HTTPS itself, and bad TLS settings
//! refused at start with a message that names the file.
//!
//! Clients: tonic (rustls) for gRPC, the real `curl` for HTTPS.

mod bad_config;
mod certs;
#[path = "../support/common.rs"]
mod common;
mod gateway;
mod service;
#[path = "../e2e/stack.rs"]
#[allow(dead_code)]
mod stack;
mod support;
