//! What every route family's handlers share: the way to the service and the
//! integration timeout each request is given.

use std::time::Duration;

use crate::upstream::Upstream;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub upstream: Upstream,
    /// Integration timeout of one call, as API Gateway's (29 s by default),
    /// counted from the request's arrival and sent on as `grpc-timeout`.
    pub timeout: Duration,
}
