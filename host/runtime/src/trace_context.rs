//! W3C trace context (`traceparent`, `tracestate`) between Karman's spans and the headers of
//! what comes in and goes out: HTTP requests a guest sends, messages a handler takes and
//! publishes. Only when traces are on: a disabled span (traces off) reads and writes nothing.
//!
//! ```
//! let span = tracing::info_span!(target: karman_runtime::TRACE_TARGET, "step");
//! let mut headers = vec![("content-type".to_string(), "text/plain".to_string())];
//! // Traces are off here (no subscriber): nothing is added.
//! karman_runtime::trace_context::inject(&span, &mut headers);
//! assert_eq!(headers.len(), 1);
//! ```

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Makes `span` a child of the trace context in `headers` (lower-case names), if they carry one.
pub fn continue_from(span: &tracing::Span, headers: &[(String, String)]) {
    if span.is_disabled() || !headers.iter().any(|(name, _)| name == "traceparent") {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Pairs(headers))
    });
    let _ = span.set_parent(parent);
}

/// Adds `span`'s trace context to `headers` (replacing one there), if traces are on.
pub fn inject(span: &tracing::Span, headers: &mut Vec<(String, String)>) {
    if let Some(context) = context_of(span) {
        headers.retain(|(name, _)| !is_trace_header(name));
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut PairsMut(headers));
        });
    }
}

/// Adds `span`'s trace context to `headers` unless they carry one (a guest's own tracing wins),
/// if traces are on.
pub(crate) fn inject_unless_set(span: &tracing::Span, headers: &mut HeaderMap) {
    if headers.contains_key("traceparent") {
        return;
    }
    if let Some(context) = context_of(span) {
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut Map(headers));
        });
    }
}

fn context_of(span: &tracing::Span) -> Option<opentelemetry::Context> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    context.span().span_context().is_valid().then_some(context)
}

fn is_trace_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("traceparent") || name.eq_ignore_ascii_case("tracestate")
}

struct Pairs<'a>(&'a [(String, String)]);

impl Extractor for Pairs<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }
}

struct PairsMut<'a>(&'a mut Vec<(String, String)>);

impl Injector for PairsMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

struct Map<'a>(&'a mut HeaderMap);

impl Injector for Map<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
