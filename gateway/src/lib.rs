//! music-gateway: the tutorial's header-based REST calls, transcoded to
//! music.v1 gRPC calls on music-service.
//!
//! A request travels `app` (request id, access log, routing via `routes`) →
//! `params` (header › query › JSON body) → `legacy` (the call, through
//! `upstream`) → the tutorial's JSON answer; gRPC failures become HTTP in one
//! place, `errors`.

pub mod access;
pub mod app;
pub mod errors;
pub mod legacy;
pub mod metrics;
pub mod params;
pub mod pyjson;
pub mod routes;
pub mod run;
pub mod settings;
pub mod tls;

pub mod upstream;

pub use app::{Gateway, router};
pub use settings::GatewaySettings;
