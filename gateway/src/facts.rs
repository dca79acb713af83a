//! What the layers and handlers tell the access log about a request, carried
//! as response extensions (the access log wraps them all and reads them once
//! the answer is known): the edge's verdict (the caller's source IP, its API
//! key id, the refusal) and the integration's latency and status.

use std::{net::IpAddr, sync::Arc, time::Duration};

/// Why the edge refused a request: the `reason` label of
/// `music_edge_refusals_total` and the access log's `refusal` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The resource policy denied the call (explicitly or by having no Allow).
    Policy { explicit: bool },
    /// A key-required method was called without `x-api-key`.
    ApiKeyMissing,
    /// The `x-api-key` is no key of the usage plans.
    ApiKeyUnknown,
    /// The key exists but is disabled.
    ApiKeyDisabled,
    /// Over a throttle's rate (the stage's, a method's, or a key's plan).
    Throttled,
    /// The key's quota for the period is spent.
    QuotaExceeded,
}

impl Refusal {
    /// The metric label and log value (a fixed set).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Policy { explicit: true } => "policy_explicit_deny",
            Self::Policy { explicit: false } => "policy_no_allow",
            Self::ApiKeyMissing => "api_key_missing",
            Self::ApiKeyUnknown => "api_key_unknown",
            Self::ApiKeyDisabled => "api_key_disabled",
            Self::Throttled => "throttled",
            Self::QuotaExceeded => "quota_exceeded",
        }
    }

    /// API Gateway's gateway-response type (`$context.error.responseType`).
    pub fn response_type(self) -> &'static str {
        match self {
            Self::Policy { .. } => "ACCESS_DENIED",
            Self::ApiKeyMissing | Self::ApiKeyUnknown | Self::ApiKeyDisabled => "INVALID_API_KEY",
            Self::Throttled => "THROTTLED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
        }
    }
}

/// The edge's verdict on a request.
#[derive(Debug, Clone, Default)]
pub struct EdgeFacts {
    /// The caller's address as the policy saw it (`X-Forwarded-For` only
    /// behind a trusted proxy).
    pub source_ip: Option<IpAddr>,
    /// The id (never the value) of the API key the request carried, when a
    /// key-required method was called with a known key.
    pub api_key_id: Option<Arc<str>>,
    /// The VPC endpoint id of the source address, when one is configured.
    pub vpce_id: Option<Arc<str>>,
    pub refusal: Option<Refusal>,
    /// The refusal's message (`$context.error.message`).
    pub error_message: Option<Arc<str>>,
}

/// How long the integration (the call to the service) took, and the status
/// it answered before any mapping of the integration's answer.
#[derive(Debug, Clone, Copy)]
pub struct IntegrationFacts {
    pub latency: Duration,
    pub status: u16,
}
