//! The code under fuzzing, compiled from the workspace's own source files so
//! that the targets exercise exactly what ships, without building the two
//! programs' network and AWS dependencies:
//!
//! - `gateway::params` and `gateway::routes`: music-gateway's
//!   `gateway/src/tutorial/params.rs` and `gateway/src/tutorial/routes.rs`, whole;
//! - `gateway::template`: the `/v1` path templates and matcher,
//!   `gateway/src/rest/template.rs`, whole;
//! - `service::domain`: music-service's `service/src/domain.rs`, whole;
//! - `api::wire`: music-api's `proto/wire.rs` (metadata keys and readers,
//!   `grpc_timeout` among them), whole;
//! - `runtime::traceparent`: music-runtime's `runtime/src/traceparent.rs`, whole.
//!
//! The paths are the crates' module paths (`music_gateway::params::Params`
//! is `music_fuzz::gateway::params::Params`).

// Declared at the top (a `#[path]` inside an inline module would be resolved
// from src/<module>/, a folder that does not exist) and re-exported below.
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../gateway/src/tutorial/params.rs"]
pub mod gateway_params;
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../gateway/src/tutorial/routes.rs"]
pub mod gateway_routes;
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../gateway/src/rest/template.rs"]
pub mod gateway_template;
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../service/src/domain.rs"]
pub mod service_domain;
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../proto/wire.rs"]
pub mod api_wire;
#[doc(hidden)]
#[allow(dead_code)]
#[path = "../../runtime/src/traceparent.rs"]
pub mod runtime_traceparent;

/// music-api's modules.
pub mod api {
    pub use super::api_wire as wire;
}

/// music-runtime's modules.
pub mod runtime {
    pub use super::runtime_traceparent as traceparent;
}

/// music-gateway's modules.
pub mod gateway {
    pub use super::{
        gateway_params as params, gateway_routes as routes, gateway_template as template,
    };
}

/// music-service's modules.
pub mod service {
    pub use super::service_domain as domain;
}
