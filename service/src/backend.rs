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

mod aws_only_headers;
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
        config = for_embedded_store(config);
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

/// What the client does differently on the embedded store, and only there:
/// fixed auth headers instead of SigV4 (`static_auth`), and none of the
/// headers that only AWS reads (`aws_only_headers`). The calls themselves are
/// the same on every backend.
fn for_embedded_store(
    config: aws_sdk_dynamodb::config::Builder,
) -> aws_sdk_dynamodb::config::Builder {
    config
        .push_auth_scheme(static_auth::StaticAuth::new())
        .auth_scheme_resolver(static_auth::StaticAuthResolver)
        .interceptor(aws_only_headers::SkipAwsOnlyHeaders)
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aws_sdk_dynamodb::{Client, config::Builder};
    use aws_smithy_runtime_api::http::Response;

    use super::*;

    /// A connector that keeps the request it is sent and answers an empty 200.
    /// (aws-smithy-http-client's `capture_request` does this too, behind a
    /// feature that brings 18 more crates into the build.)
    #[derive(Debug, Default)]
    struct Capture(Mutex<Option<HttpRequest>>);

    impl HttpConnector for &'static Capture {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            *self.0.lock().unwrap() = Some(request);
            HttpConnectorFuture::ready(Ok(Response::new(200.try_into().unwrap(), SdkBody::empty())))
        }
    }

    /// The one request a GetItem sends, with or without the embedded store's
    /// settings.
    async fn get_item_request(embedded: bool) -> HttpRequest {
        let capture: &'static Capture = Box::leak(Box::default());
        let mut config = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(FALLBACK_REGION))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url("http://127.0.0.1:1")
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(capture)
            }));
        if embedded {
            config = for_embedded_store(config);
        }
        // The empty answer does not parse: only the request matters here.
        let _ = Client::from_conf(config.build())
            .get_item()
            .table_name("Music")
            .send()
            .await;
        capture
            .0
            .lock()
            .unwrap()
            .take()
            .expect("a request was sent")
    }

    const AWS_ONLY: [&str; 4] = [
        "user-agent",
        "x-amz-user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
    ];

    #[tokio::test]
    async fn the_embedded_store_gets_fixed_auth_and_no_aws_only_headers() {
        let request = get_item_request(true).await;
        let headers = request.headers();
        assert_eq!(
            headers.get("x-amz-target"),
            Some("DynamoDB_20120810.GetItem")
        );
        let authorization = headers.get("authorization").unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=embedded/")
                && authorization.ends_with(&"0".repeat(64)),
            "{authorization}"
        );
        for name in AWS_ONLY {
            assert_eq!(headers.get(name), None, "{name}");
        }
        let body = std::str::from_utf8(request.body().bytes().unwrap()).unwrap();
        assert!(body.contains(r#""TableName":"Music""#), "{body}");
    }

    #[tokio::test]
    async fn dynamodb_keeps_sigv4_and_every_sdk_header() {
        let request = get_item_request(false).await;
        let headers = request.headers();
        let authorization = headers.get("authorization").unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKID/")
                && !authorization.ends_with(&"0".repeat(64)),
            "{authorization}"
        );
        for name in AWS_ONLY {
            assert!(headers.get(name).is_some(), "{name} missing");
        }
    }
}
