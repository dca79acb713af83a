//! The embedded store's auth scheme: fixed `Authorization` and `X-Amz-Date`
//! headers in SigV4's shape, without computing a signature. dynoxide checks
//! that the headers are there and never verifies a signature, and SigV4 —
//! a canonical request, two SHA-256 passes and four HMACs a call — was a
//! tenth of the service's CPU per GetItem on this backend (BENCHMARKS.md).
//! DynamoDB and DynamoDB Local keep the SDK's SigV4; the calls, their
//! serialisation, retries and timeouts stay the SDK's for every backend.
//!
//! Hand-written because the SDK's only other scheme, `allow_no_auth`, sends
//! no `Authorization` at all, which dynoxide refuses.

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        auth::{
            AuthScheme, AuthSchemeEndpointConfig, AuthSchemeId, AuthSchemeOption,
            AuthSchemeOptionsFuture, Sign,
        },
        identity::{Identity, SharedIdentityResolver},
        orchestrator::HttpRequest,
        runtime_components::{GetIdentityResolver, RuntimeComponents},
    },
};
use aws_smithy_types::config_bag::ConfigBag;

/// The scheme's id, which the resolver below names for every operation.
const SCHEME: AuthSchemeId = AuthSchemeId::new("music-embedded-static");

/// What dynoxide requires of an `Authorization` header: SigV4's algorithm and
/// its `Credential`, `SignedHeaders` and `Signature` parts.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=embedded/20260101/us-east-1/dynamodb/aws4_request, \
     SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";
/// And a date header beside it.
const X_AMZ_DATE: &str = "20260101T000000Z";

/// The scheme: a fixed identity and the fixed headers.
#[derive(Debug)]
pub(super) struct StaticAuth {
    identity: SharedIdentityResolver,
}

impl StaticAuth {
    pub(super) fn new() -> Self {
        Self {
            identity: SharedIdentityResolver::new(Identity::new((), None)),
        }
    }
}

impl AuthScheme for StaticAuth {
    fn scheme_id(&self) -> AuthSchemeId {
        SCHEME
    }

    fn identity_resolver(&self, _: &dyn GetIdentityResolver) -> Option<SharedIdentityResolver> {
        Some(self.identity.clone())
    }

    fn signer(&self) -> &dyn Sign {
        self
    }
}

impl Sign for StaticAuth {
    fn sign_http_request(
        &self,
        request: &mut HttpRequest,
        _: &Identity,
        _: AuthSchemeEndpointConfig<'_>,
        _: &RuntimeComponents,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = request.headers_mut();
        headers.insert("authorization", AUTHORIZATION);
        headers.insert("x-amz-date", X_AMZ_DATE);
        Ok(())
    }
}

/// Picks [`StaticAuth`] for every operation.
#[derive(Debug)]
pub(super) struct StaticAuthResolver;

impl aws_sdk_dynamodb::config::auth::ResolveAuthScheme for StaticAuthResolver {
    fn resolve_auth_scheme<'a>(
        &'a self,
        _: &'a aws_sdk_dynamodb::config::auth::Params,
        _: &'a ConfigBag,
        _: &'a RuntimeComponents,
    ) -> AuthSchemeOptionsFuture<'a> {
        AuthSchemeOptionsFuture::ready(Ok(vec![AuthSchemeOption::from(SCHEME)]))
    }
}
