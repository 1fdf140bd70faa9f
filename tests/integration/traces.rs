//! OpenTelemetry traces: the `karman` binary, configured by the standard `OTEL_*` variables,
//! exports its spans over OTLP/HTTP to a receiver in the test, which decodes them with the
//! official protobuf definitions (`opentelemetry-proto`).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

use crate::support::{Binary, eventually};

/// An OTLP/HTTP receiver on 127.0.0.1: every span it was sent, with its service's name.
struct Receiver {
    address: String,
    spans: Arc<Mutex<Vec<(String, Span)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let spans: Arc<Mutex<Vec<(String, Span)>>> = Arc::default();
        let sink = spans.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            assert_eq!(request.uri().path(), "/v1/traces");
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut spans = sink.lock().unwrap();
                            for resource in export.resource_spans {
                                let service = resource
                                    .resource
                                    .as_ref()
                                    .and_then(|r| string_attribute(&r.attributes, "service.name"))
                                    .unwrap_or_default();
                                for scope in resource.scope_spans {
                                    for span in scope.spans {
                                        spans.push((service.clone(), span));
                                    }
                                }
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            spans,
            task,
        }
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(n) => n.to_string(),
            other => format!("{other:?}"),
        })
}

const APP: &str = r#"
identifier: test.traces
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: echo, source: guest(echo) }
handlers:
  - { type: request, method: GET, resource: /hello/:name, response: a, steps: [ { fn: hello }, { group: [ { fn: echo, as: a }, { fn: echo, as: b } ] } ] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_receiver_with_their_links_and_continue_an_incoming_traceparent() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.address.clone();
    let binary = tokio::task::spawn_blocking(move || {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "karman-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ];
        Binary::serve_with(APP, "info", &env)
    })
    .await
    .unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let client = reqwest::Client::new();
    let answer = client
        .get(binary.url("/hello/ada"))
        .header("traceparent", format!("00-{trace_id}-{parent}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let fresh = client.get(binary.url("/hello/bob")).send().await.unwrap();
    assert_eq!(fresh.status(), 200);

    // Two requests, each with three steps.
    let spans = eventually(
        "the spans are exported",
        Duration::from_secs(20),
        || async {
            let spans = receiver.spans();
            (spans.len() >= 8).then_some(spans)
        },
    )
    .await;
    let hex = hex_of;
    let requests: Vec<&Span> = spans
        .iter()
        .map(|(_, span)| span)
        .filter(|span| span.name == "GET /hello/:name")
        .collect();
    assert_eq!(requests.len(), 2, "{spans:#?}");
    assert!(spans.iter().all(|(service, _)| service == "karman-test"));
    let continued = requests
        .iter()
        .find(|span| hex(&span.trace_id) == trace_id)
        .expect("the incoming traceparent's trace is continued");
    assert_eq!(hex(&continued.parent_span_id), parent);
    assert_eq!(continued.kind, SpanKind::Server as i32);
    assert_eq!(
        string_attribute(&continued.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    let new = requests
        .iter()
        .find(|span| hex(&span.trace_id) != trace_id)
        .unwrap();
    assert!(
        new.parent_span_id.is_empty(),
        "a request without traceparent starts a trace"
    );

    // The steps are children of their request's span (the group's two as well).
    for request in [continued, new] {
        let steps: Vec<&Span> = spans
            .iter()
            .map(|(_, span)| span)
            .filter(|span| span.parent_span_id == request.span_id)
            .collect();
        let mut names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "b", "hello"], "{spans:#?}");
        assert!(steps.iter().all(|s| s.trace_id == request.trace_id));
        let hello = steps.iter().find(|s| s.name == "hello").unwrap();
        assert_eq!(
            string_attribute(&hello.attributes, "karman.component").as_deref(),
            Some("hello")
        );
        assert_eq!(
            string_attribute(&hello.attributes, "karman.outcome").as_deref(),
            Some("ok")
        );
    }

    // The access log names the trace.
    let access = binary.logs_matching(|entry| entry["target"] == "karman::access");
    assert_eq!(access[0]["fields"]["trace_id"], trace_id, "{access:#?}");
}

#[test]
fn without_an_otlp_endpoint_the_access_log_has_no_trace_id() {
    let binary = Binary::serve(APP);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::get(binary.url("/hello/ada"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let access = binary.logs_matching(|entry| entry["target"] == "karman::access");
    assert_eq!(access.len(), 1);
    assert!(access[0]["fields"].get("trace_id").is_none(), "{access:#?}");
    assert!(
        access[0].get("span").is_none(),
        "no span in the log: {access:#?}"
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
