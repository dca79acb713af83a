//! The DynamoDB client for the chosen backend: the standard AWS configuration
//! (environment, profiles, `AWS_ENDPOINT_URL_DYNAMODB`) with the service's
//! timeouts and retries, pointed at the embedded engine when that is the
//! backend. Every backend gets the same `aws_sdk_dynamodb::Client`: one
//! storage code path.

use std::{sync::Arc, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_runtime_api::client::{
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
        http_client_fn,
    },
    orchestrator::HttpRequest,
};
use aws_smithy_types::body::SdkBody;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod static_auth;

use crate::{
    embedded::{EmbeddedError, EmbeddedStore},
    settings::{Backend, StoreSettings},
};

/// Region used when the AWS configuration names none (the embedded store and
/// DynamoDB Local accept any).
const FALLBACK_REGION: &str = "us-east-1";

/// Calls to the embedded store in flight at once. It runs every operation on
/// one thread, so more would only queue there, each on a connection (and two
/// file descriptors) of its own: a burst of 2,000 requests once left ~1,500
/// pooled connections behind.
const EMBEDDED_MAX_CALLS: usize = 16;

/// How long an idle pooled connection to the embedded store is kept.
const EMBEDDED_POOL_IDLE: Duration = Duration::from_secs(30);

/// The client for `settings`, and the embedded store when it is the backend.
pub async fn dynamodb_client(
    settings: &StoreSettings,
) -> Result<(aws_sdk_dynamodb::Client, Option<EmbeddedStore>), EmbeddedError> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(settings.dynamodb_timeout)
        .operation_attempt_timeout(settings.dynamodb_attempt_timeout)
        .build();
    let retry = RetryConfig::standard().with_max_attempts(settings.dynamodb_max_attempts.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retry);

    let embedded = match settings.backend {
        Backend::Embedded => {
            let dir = (!settings.in_memory).then_some(settings.data_dir.as_path());
            let store = EmbeddedStore::start(dir).await?;
            tracing::info!(
                backend = "embedded",
                data = %dir.map_or_else(|| ":memory:".to_owned(), |d| d.join(crate::embedded::DATA_FILE).display().to_string()),
                "store ready"
            );
            // dynoxide accepts any signature; fixed credentials keep the AWS
            // credential chain (and its network lookups) out of the way.
            loader = loader
                .region(Region::new(FALLBACK_REGION))
                .credentials_provider(Credentials::new(
                    "embedded",
                    "embedded",
                    None,
                    None,
                    "music-service-embedded",
                ))
                .endpoint_url(store.endpoint())
                .http_client(bounded_http_client(EMBEDDED_MAX_CALLS, EMBEDDED_POOL_IDLE));
            Some(store)
        }
        Backend::Dynamodb => {
            if let Some(endpoint) = &settings.dynamodb_endpoint {
                loader = loader.endpoint_url(endpoint);
            }
            if let Some(fixed) = &settings.static_credentials {
                loader = loader.credentials_provider(Credentials::new(
                    fixed.access_key_id.clone(),
                    fixed.secret_access_key.clone(),
                    None,
                    None,
                    "music-service-static",
                ));
            }
            None
        }
    };
    let sdk_config = loader.load().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk_config);
    if sdk_config.region().is_none() {
        config = config.region(Region::new(FALLBACK_REGION));
    }
    // Stalled-stream protection watches the throughput of every body with an
    // interceptor and a throughput check per call (in every SDK stack of the
    // profile, BENCHMARKS.md); our bodies are a few hundred bytes and the
    // attempt timeout already bounds a stalled answer.
    config = config.stalled_stream_protection(
        aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled(),
    );
    if settings.backend == Backend::Embedded {
        config = config
            .push_auth_scheme(static_auth::StaticAuth::new())
            .auth_scheme_resolver(static_auth::StaticAuthResolver);
    }
    if settings.backend == Backend::Dynamodb {
        tracing::info!(
            backend = "dynamodb",
            endpoint = settings
                .dynamodb_endpoint
                .as_deref()
                .unwrap_or("(AWS configuration)"),
            "store ready"
        );
    }
    Ok((
        aws_sdk_dynamodb::Client::from_conf(config.build()),
        embedded,
    ))
}

/// A plain-HTTP client (the embedded store is on loopback) whose pool closes
/// idle connections after `idle` and which has at most `max_calls` calls in
/// flight, so at most about that many connections. The SDK's own client
/// exposes the idle timeout but no bound on connections per host.
fn bounded_http_client(max_calls: usize, idle: Duration) -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new()
        .pool_idle_timeout(idle)
        .build_http();
    let permits = Arc::new(Semaphore::new(max_calls));
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Bounded {
            inner: inner.http_connector(settings, components),
            permits: Arc::clone(&permits),
        })
    })
}

/// A connector that waits for one of a fixed number of permits per call and
/// holds it until the answer's body has been read (its connection is busy
/// until then, so this bounds the connections, not just the calls).
#[derive(Debug)]
struct Bounded {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for Bounded {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, permits) = (self.inner.clone(), Arc::clone(&self.permits));
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed.
            let permit = permits.acquire_owned().await.ok();
            let mut response = inner.call(request).await?;
            let body = response.take_body();
            *response.body_mut() = SdkBody::from_body_1_x(Permitted {
                inner: body,
                _permit: permit,
            });
            Ok(response)
        })
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that holds its call's permit until it is read or dropped.
    struct Permitted {
        #[pin]
        inner: SdkBody,
        _permit: Option<OwnedSemaphorePermit>,
    }
}

impl http_body::Body for Permitted {
    type Data = bytes::Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}
