//! Logging and tracing: `tracing` to stderr, filtered by `RUST_LOG` (default
//! `info`), human-readable or JSON; with the `otlp` feature and
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP/gRPC,
//! and W3C trace context links them across the gateway and the service.
//!
//! Lines are formatted by the threads that log them and written by a thread
//! of its own ([`crate::log_writer`]): at the default level every request
//! logs a line.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::log_writer::{LogWriter, LogWriterGuard};

/// `info`, but dynoxide's per-request warnings (it logs every 400 it answers,
/// which for this service are ordinary answers such as "no such table") are off.
pub const DEFAULT_FILTER: &str = "info,dynoxide=error";

/// Log targets capped below `trace` because their trace events carry
/// credentials (signed canonical requests, `x-amz-security-token`).
const SECRET_BEARING_TARGETS: [&str; 2] = ["aws_sigv4=debug", "aws_smithy_runtime=debug"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log line format on stderr. The level comes from RUST_LOG (default `info`).
    #[arg(long, env = "MUSIC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// OTLP/gRPC collector to export spans to (e.g. `http://localhost:4317`);
    /// unset, spans are not exported (unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set).
    #[cfg(feature = "otlp")]
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// Keeps the tracing pipeline alive; when dropped, writes the log lines still
/// queued and flushes exported spans.
#[derive(Debug)]
pub struct TelemetryGuard {
    _writer: LogWriterGuard,
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("OTLP span export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber for the program `service_name`. Call once,
/// from `main`, and keep the guard until the program ends.
pub fn init(settings: &LogSettings, service_name: &'static str) -> TelemetryGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // At trace level the AWS SDK logs whole signed requests, session token
    // included; credentials never belong in logs, whatever RUST_LOG says. A
    // directive sets a target's level (it would also *enable* debug under a
    // quieter filter), so the caps are added only when tracing is on at all.
    let filter = if filter.max_level_hint() == Some(LevelFilter::TRACE) {
        SECRET_BEARING_TARGETS
            .iter()
            .fold(filter, |filter, directive| {
                filter.add_directive(directive.parse().expect("a valid directive"))
            })
    } else {
        filter
    };
    let (stderr, writer) = LogWriter::stderr();
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match settings.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(stderr)
            .json()
            .flatten_event(true)
            .boxed(),
    };
    #[cfg(feature = "otlp")]
    let (spans, provider) = otlp::layer(settings.otlp_endpoint.as_deref(), service_name);
    #[cfg(feature = "otlp")]
    let layers: Vec<_> = std::iter::once(logs).chain(spans).collect();
    #[cfg(not(feature = "otlp"))]
    let (layers, _) = (vec![logs], service_name);
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .init();
    TelemetryGuard {
        _writer: writer,
        #[cfg(feature = "otlp")]
        provider,
    }
}

/// Makes `span` continue the caller's trace (`traceparent`), so exported
/// spans link up. Without the `otlp` feature there is nothing to link.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    #[cfg(feature = "otlp")]
    otlp::set_parent(span, traceparent);
    #[cfg(not(feature = "otlp"))]
    let _ = (span, traceparent);
}

/// The `traceparent` that names `span` as the parent of a downstream call,
/// when spans are exported (`None` otherwise: callers make their own).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    #[cfg(feature = "otlp")]
    return otlp::traceparent(span);
    #[cfg(not(feature = "otlp"))]
    {
        let _ = span;
        None
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use std::{collections::HashMap, time::Duration};

    use opentelemetry::{
        KeyValue,
        propagation::TextMapPropagator,
        trace::{TraceContextExt, TracerProvider as _},
    };
    use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
    use opentelemetry_sdk::{
        Resource,
        error::OTelSdkResult,
        propagation::TraceContextPropagator,
        trace::{SdkTracerProvider, SpanData, SpanExporter},
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::{Layer, Registry};

    type SpanLayer = Box<dyn Layer<Registry> + Send + Sync>;

    /// The OTLP layer when an endpoint is configured: `endpoint` (the
    /// `--otlp-endpoint` flag or OTEL_EXPORTER_OTLP_ENDPOINT), or
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, which the exporter reads itself
    /// (with the other standard OTEL_* variables) and which takes precedence.
    pub(super) fn layer(
        endpoint: Option<&str>,
        service_name: &'static str,
    ) -> (Option<SpanLayer>, Option<SdkTracerProvider>) {
        let traces_endpoint =
            std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some_and(|v| !v.is_empty());
        let endpoint = endpoint.filter(|e| !e.is_empty() && !traces_endpoint);
        if endpoint.is_none() && !traces_endpoint {
            return (None, None);
        }
        let exporter = match OwnRuntime::new(|| {
            let builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            match endpoint {
                Some(endpoint) => builder.with_endpoint(endpoint).build(),
                None => builder.build(),
            }
        }) {
            Ok(exporter) => exporter,
            Err(error) => {
                eprintln!("OTLP span export is off: {error}");
                return (None, None);
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_attribute(KeyValue::new("service.name", service_name))
                    .build(),
            )
            .build();
        let tracer = provider.tracer(service_name);
        let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
        (Some(layer), Some(provider))
    }

    /// The OTLP exporter, on a Tokio runtime of its own.
    ///
    /// The SDK's `BatchSpanProcessor` exports from a plain OS thread of its
    /// own, through `futures_executor::block_on`, but the tonic exporter needs
    /// Tokio: building it spawns its channel's tasks on the current runtime,
    /// and exports only progress while that runtime runs them. On the
    /// program's runtime that meant a panic ("there is no reactor running")
    /// when `init` ran outside one, and lost spans when it could not run them:
    /// a current-thread runtime blocked in `TelemetryGuard::drop` waiting for
    /// the final flush (which then timed out), or a runtime already gone. So
    /// the exporter is built inside, and owns, a current-thread runtime that
    /// the processor's thread drives itself (`block_on`) for each call; it is
    /// dropped on that thread too, outside any async context.
    #[derive(Debug)]
    struct OwnRuntime {
        runtime: tokio::runtime::Runtime,
        inner: opentelemetry_otlp::SpanExporter,
    }

    impl OwnRuntime {
        fn new(
            build: impl FnOnce() -> Result<opentelemetry_otlp::SpanExporter, ExporterBuildError>,
        ) -> Result<Self, String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            let built = {
                let _context = runtime.enter();
                build()
            };
            match built {
                Ok(inner) => Ok(Self { runtime, inner }),
                Err(error) => {
                    // `init` may run in an async context, where dropping a
                    // runtime (which blocks) panics.
                    runtime.shutdown_background();
                    Err(error.to_string())
                }
            }
        }
    }

    /// Only for the batch processor's thread, which is outside any runtime:
    /// `block_on` panics on a thread that is already running one.
    impl SpanExporter for OwnRuntime {
        fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
            std::future::ready(self.runtime.block_on(self.inner.export(batch)))
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            let _context = self.runtime.enter();
            self.inner.shutdown_with_timeout(timeout)
        }

        fn force_flush(&self) -> OTelSdkResult {
            let _context = self.runtime.enter();
            self.inner.force_flush()
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource);
        }
    }

    pub(super) fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
        let Some(traceparent) = traceparent else {
            return;
        };
        let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        let context = TraceContextPropagator::new().extract(&carrier);
        if context.span().span_context().is_valid() {
            let _ = span.set_parent(context);
        }
    }

    pub(super) fn traceparent(span: &tracing::Span) -> Option<String> {
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.remove("traceparent")
    }
}
