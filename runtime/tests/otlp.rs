//! OTLP export, end to end: `telemetry::init` with an endpoint exports spans
//! over gRPC to a fake collector served here, and `continue_trace` /
//! `traceparent_of` link them into the caller's W3C trace. One test, because
//! `init` installs the process-wide subscriber.
#![cfg(feature = "otlp")]

use music_runtime::telemetry::{self, LogFormat, LogSettings};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::Span,
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// Hands every export request it receives to the test.
struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let _ = self.0.send(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn spans_are_exported_over_otlp_and_continue_the_callers_trace() {
    // The collector runs on a runtime of its own, like a real one.
    let collector = tokio::runtime::Runtime::new().unwrap();
    let listener = collector
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (sent, mut received) = mpsc::unbounded_channel();
    collector.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(sent)))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );

    // The program: `init` from inside its runtime, as in `main`, and the guard
    // dropped (spans flushed) on that runtime's thread. A current-thread
    // runtime is the hard case: it cannot run anything while the drop waits.
    let program = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (outer_parent, inner_parent) = program.block_on(async {
        let settings = LogSettings {
            log_format: LogFormat::Text,
            otlp_endpoint: Some(endpoint),
        };
        let guard = telemetry::init(&settings, "otlp-test");
        let caller = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01");
        let outer = tracing::info_span!("outer");
        telemetry::continue_trace(&outer, Some(&caller));
        let outer_parent = telemetry::traceparent_of(&outer).expect("outer is exported");
        let inner_parent = outer.in_scope(|| {
            let inner = tracing::info_span!("inner");
            let _entered = inner.enter();
            tracing::info!("inside");
            telemetry::traceparent_of(&inner).expect("inner is exported")
        });
        drop(outer);
        drop(guard);
        (outer_parent, inner_parent)
    });

    // Same trace, with a new span of ours as the parent of downstream calls.
    let parts: Vec<&str> = outer_parent.split('-').collect();
    assert_eq!(parts.len(), 4, "{outer_parent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"));
    assert_ne!(parts[2], CALLER_SPAN_ID);
    let outer_span_id = parts[2];
    assert!(inner_parent.starts_with(&format!("00-{TRACE_ID}-")));
    assert!(!inner_parent.contains(outer_span_id));

    // The guard is dropped: everything has reached the collector.
    let mut spans: Vec<Span> = Vec::new();
    while let Ok(request) = received.try_recv() {
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.expect("a resource");
            let service_name = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.clone());
            assert_eq!(
                service_name,
                Some(Value::StringValue("otlp-test".to_owned()))
            );
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans);
            }
        }
    }
    let find = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
    };
    let (outer, inner) = (find("outer"), find("inner"));
    assert_eq!(hex(&outer.trace_id), TRACE_ID);
    assert_eq!(hex(&outer.span_id), outer_span_id);
    assert_eq!(hex(&outer.parent_span_id), CALLER_SPAN_ID);
    assert_eq!(hex(&inner.trace_id), TRACE_ID);
    assert_eq!(hex(&inner.parent_span_id), outer_span_id);
    assert_eq!(
        inner_parent,
        format!("00-{TRACE_ID}-{}-01", hex(&inner.span_id))
    );
    assert_eq!(spans.len(), 2, "{spans:?}");
}
