//! TLS end to end, with real processes and certificates made at run time
//! (rcgen): music-service serving gRPC over TLS and mTLS, music-gateway
//! reaching it over mTLS and serving HTTPS itself, and bad TLS settings
//! refused at start with a message that names the file; and music-service
//! reaching its DynamoDB store over HTTPS.
//!
//! Clients: tonic (rustls) for gRPC, the real `curl` for HTTPS.
//!
//! The scaffolding they share with the other suites (programs as processes,
//! the store proxy, DynamoDB Local, curl, gRPC clients) is music-testkit's.

mod bad_config;
mod certs;
mod gateway;
mod service;
mod store;
mod support;
