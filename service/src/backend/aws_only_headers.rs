//! For the embedded store only: the SDK's per-call headers that only AWS reads
//! are left out. These are `User-Agent` and `x-amz-user-agent`,
//! `amz-sdk-invocation-id` and `amz-sdk-request` (attempt and retry
//! telemetry), and the clock-skew estimate that SigV4 and `amz-sdk-request`
//! use. dynoxide reads none of them. The static auth scheme
//! (`static_auth.rs`) signs nothing, so the skew has no use either. Building
//! the user agent alone was 5 % of the service's instructions per GetItem
//! under callgrind (BENCHMARKS.md).
//!
//! What stays the same on every backend: the calls, their serialisation,
//! retries and timeouts (the orchestrator's, not interceptors), and the
//! interceptors the SDK registers as permanent (its metrics, the retry token
//! bucket, connection poisoning), which cannot be turned off.
//!
//! Hand-written because the SDK has no setting for it. Its documented way to
//! turn off one of its interceptors is a `DisableInterceptor<T>` in the call's
//! config bag, and an interceptor of our own is how a client puts one there.
//! The generated client keeps its runtime plugins crate-private.

use aws_runtime::{
    invocation_id::InvocationIdInterceptor, request_info::RequestInfoInterceptor,
    service_clock_skew::ServiceClockSkewInterceptor, user_agent::UserAgentInterceptor,
};
use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::interceptors::{
        Intercept, context::BeforeSerializationInterceptorContextRef, disable_interceptor,
    },
};
use aws_smithy_types::config_bag::ConfigBag;

const CAUSE: &str = "the embedded store reads no AWS-only header";

/// Turns the AWS-only interceptors off, once per call, before any of them runs.
#[derive(Debug)]
pub(super) struct SkipAwsOnlyHeaders;

impl Intercept for SkipAwsOnlyHeaders {
    fn name(&self) -> &'static str {
        "SkipAwsOnlyHeaders"
    }

    // The first hook of a call. None of the four does anything in it; their
    // work starts at `read_after_serialization` (the user agent) and later.
    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let state = cfg.interceptor_state();
        state.store_put(disable_interceptor::<UserAgentInterceptor>(CAUSE));
        state.store_put(disable_interceptor::<InvocationIdInterceptor>(CAUSE));
        state.store_put(disable_interceptor::<RequestInfoInterceptor>(CAUSE));
        state.store_put(disable_interceptor::<ServiceClockSkewInterceptor>(CAUSE));
        Ok(())
    }
}
