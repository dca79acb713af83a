//! music-gateway: the tutorial's header-based REST calls, transcoded to
//! music.v1 gRPC calls on music-service.
//!
//! A request travels `server` (the router: request ids, Host check) →
//! `access` (the access log and metrics; ids and trace context from
//! `request`) → `tutorial` (the route table, the parameters from header ›
//! query › JSON body read by `body`, the call through `upstream` with the
//! shared `state`) → the tutorial's JSON answer; every refusal is one
//! `error::ApiError`, and gRPC failures become HTTP in that one place.

pub mod access;
pub mod body;
pub mod error;
pub mod metrics;
pub mod pyjson;
pub mod request;
pub mod server;
pub mod settings;
pub mod state;
pub mod tutorial;
pub mod upstream;

pub use server::{Listeners, StartError, router, run};
pub use settings::GatewaySettings;
pub use state::Gateway;
