//! `music.v1.UsageService`: the usage counters of music-gateway's usage plans,
//! added to atomically in the usage table (`store::usage`).

use std::collections::HashSet;

use music_api::pb::{self, usage_service_server::UsageService};
use tonic::{Request, Response, Status};

use super::answer;
use crate::{
    domain::Violation,
    error::ServiceError,
    store::{
        Operation,
        usage::{Increment, UsageStore},
    },
};

/// Increments in one call at most: a gateway flushes each of its active keys
/// once a second, and 1,000 keys fit in one call.
pub const MAX_INCREMENTS: usize = 1000;
/// Longest counter name accepted (DynamoDB's key limit is 2048 bytes).
const MAX_COUNTER_BYTES: usize = 1024;

/// `UsageService` over the usage table.
#[derive(Debug, Clone)]
pub struct UsageApi {
    usage: UsageStore,
}

impl UsageApi {
    pub fn new(usage: UsageStore) -> Self {
        Self { usage }
    }
}

/// The request's increments, checked: 1 to [`MAX_INCREMENTS`], names of 1 to
/// [`MAX_COUNTER_BYTES`] bytes, each once, counts not negative.
fn increments(request: pb::AddUsageRequest) -> Result<Vec<Increment>, Violation> {
    let count = request.increments.len();
    if count == 0 || count > MAX_INCREMENTS {
        return Err(Violation::new(
            "increments",
            format!("1 to {MAX_INCREMENTS} increments are needed, not {count}"),
        ));
    }
    let mut seen = HashSet::with_capacity(count);
    request
        .increments
        .into_iter()
        .map(|increment| {
            if increment.counter.is_empty() || increment.counter.len() > MAX_COUNTER_BYTES {
                return Err(Violation::new(
                    "increments.counter",
                    format!("a counter name has 1 to {MAX_COUNTER_BYTES} bytes"),
                ));
            }
            if increment.count < 0 {
                return Err(Violation::new(
                    "increments.count",
                    "an increment is 0 or more",
                ));
            }
            if !seen.insert(increment.counter.clone()) {
                return Err(Violation::new(
                    "increments.counter",
                    "each counter may be incremented once per call",
                ));
            }
            Ok(Increment {
                counter: increment.counter,
                count: increment.count,
            })
        })
        .collect()
}

#[tonic::async_trait]
impl UsageService for UsageApi {
    async fn add_usage(
        &self,
        request: Request<pb::AddUsageRequest>,
    ) -> Result<Response<pb::AddUsageResponse>, Status> {
        answer(
            async {
                let increments = increments(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::UpdateItem))?;
                let totals = self.usage.add(&increments).await?;
                Ok(pb::AddUsageResponse {
                    totals: increments
                        .into_iter()
                        .zip(totals)
                        .map(|(increment, total)| pb::UsageTotal {
                            counter: increment.counter,
                            total,
                        })
                        .collect(),
                })
            }
            .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, i64)]) -> pb::AddUsageRequest {
        pb::AddUsageRequest {
            increments: pairs
                .iter()
                .map(|(counter, count)| pb::UsageIncrement {
                    counter: (*counter).to_owned(),
                    count: *count,
                })
                .collect(),
        }
    }

    #[test]
    fn increments_are_checked() {
        assert_eq!(
            increments(request(&[("a", 1), ("b", 0)])).map(|i| i.len()),
            Ok(2)
        );
        for bad in [
            request(&[]),
            request(&[("", 1)]),
            request(&[("a", -1)]),
            request(&[("a", 1), ("a", 2)]),
        ] {
            assert!(increments(bad).is_err());
        }
    }
}
