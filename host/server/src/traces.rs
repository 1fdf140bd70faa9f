//! OpenTelemetry traces over OTLP (HTTP/protobuf), on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_TRACES_EXPORTER` is not `none`), and
//! configured by the other standard variables (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_SCHEDULE_DELAY`, …).
//!
//! Karman's spans are `tracing` spans of the target [`TARGET`] — a request (or a message, a
//! scheduled run), each step inside it — turned into OpenTelemetry spans by
//! `tracing-opentelemetry`. They are off for the log (the log filter turns [`TARGET`] off), so
//! they cost nothing when traces are off. An incoming W3C `traceparent` is continued.
//!
//! The exporter sends from the SDK's batch thread through [`ReqwestClient`], which runs the
//! workspace's reqwest on a small runtime of its own.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithHttpConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The `tracing` target of the spans that become OpenTelemetry spans.
pub const TARGET: &str = karman_runtime::TRACE_TARGET;

/// The exporter's time to send a batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the environment asks for traces.
pub fn requested() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    let exporter = std::env::var("OTEL_TRACES_EXPORTER").unwrap_or_default();
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && exporter != "none"
}

/// The tracer provider: flush it at exit with [`Traces::shutdown`].
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The provider the `OTEL_*` variables describe, and its tracer.
    pub fn from_env() -> anyhow::Result<(Self, SdkTracer)> {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(ReqwestClient::new()?)
            .build()?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("karman");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("karman");
        Ok((Self { provider }, tracer))
    }

    /// Sends the spans not sent yet, then stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("warning: traces: the last spans could not be sent: {error}");
        }
    }
}

/// The exporter's HTTP client: reqwest (rustls), driven by a current-thread runtime of its own,
/// since the SDK's batch thread runs no async runtime.
#[derive(Debug)]
struct ReqwestClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl ReqwestClient {
    fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build()?;
        Ok(Self { client, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ReqwestClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        self.runtime.block_on(async {
            let response = self.client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok(answer.body(body)?)
        })
    }
}
