//! music-gateway: the tutorial's header-based REST calls, transcoded to
//! music.v1 gRPC calls on music-service.
//!
//! A request travels `server` (the router: request ids, Host check) →
//! `access` (the access log and metrics, in today's fields or an API Gateway
//! `$context` template; ids and trace context from `request`, the template
//! named by `resource`) → `edge` (resource policy, API keys, throttles and
//! quotas, CORS; its verdict told to the access log through `facts`) →
//! `tutorial` (the route table, the parameters from header › query › JSON
//! body read by `body`, the call through `upstream` with the shared `state`,
//! each step in `execution`'s log) → the tutorial's JSON answer, or `rest`
//! (the `/v1` routes built from the `google.api.http` annotations, proto3
//! JSON, NDJSON streams, `/openapi.json`) → a proto3 JSON answer or a
//! `google.rpc.Status`; every refusal is one `error::ApiError`, and gRPC
//! failures become HTTP in that one place.

pub mod access;
pub mod body;
pub mod edge;
pub mod error;
pub mod execution;
pub mod facts;
pub mod metrics;
pub mod pyjson;
pub mod request;
pub mod resource;
pub mod rest;
pub mod server;
pub mod settings;
pub mod state;
pub mod tutorial;
pub mod upstream;

pub use server::{Listeners, StartError, router, run};
pub use settings::GatewaySettings;
pub use state::Gateway;
