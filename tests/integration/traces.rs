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

use futures_util::StreamExt as _;

use crate::support::{Binary, eventually, unique};
use crate::upstream::Upstream;

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
    let access = binary.wait_for_logs(Duration::from_secs(5), 1, |entry| {
        entry["target"] == "karman::access"
    });
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
    // The access line is written after the response, and read from stderr by another thread.
    let access = binary.wait_for_logs(Duration::from_secs(5), 1, |entry| {
        entry["target"] == "karman::access"
    });
    assert_eq!(access.len(), 1);
    assert!(access[0]["fields"].get("trace_id").is_none(), "{access:#?}");
    assert!(
        access[0].get("span").is_none(),
        "no span in the log: {access:#?}"
    );
}

/// Starts the binary serving `yaml`, exporting to `receiver`.
async fn traced(yaml: String, receiver: &Receiver) -> Binary {
    let endpoint = receiver.address.clone();
    tokio::task::spawn_blocking(move || {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ];
        Binary::serve_with(&yaml, "info", &env)
    })
    .await
    .unwrap()
}

/// The span named `name` once it has arrived.
async fn span_named(receiver: &Receiver, name: &str) -> Span {
    eventually(
        format!("the span `{name}`"),
        Duration::from_secs(20),
        || async {
            receiver
                .spans()
                .into_iter()
                .map(|(_, span)| span)
                .find(|span| span.name == name)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_goes_on_to_outbound_requests_and_through_messages() {
    let receiver = Receiver::start().await;
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let prefix = unique("karman_test_traces");
    let yaml = format!(
        r#"
identifier: {prefix}
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:4222" }} }}
components:
  - {{ name: caller, source: guest(http-user), capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }} }}
  - {{ name: wasi-caller, source: guest(wasi-http-user), capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }} }}
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: request, method: GET, resource: /call, steps: [ {{ fn: caller }} ] }}
  - {{ type: request, method: GET, resource: /wasi, steps: [ {{ fn: wasi-caller }} ] }}
  - {{ type: stream, source: nats, resource: {prefix}.in, respondTo: {prefix}.out, steps: [ {{ fn: echo }} ] }}
"#
    );
    let binary = traced(yaml, &receiver).await;
    let client = reqwest::Client::new();
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    for route in ["call", "wasi"] {
        let answer = client
            .get(binary.url(&format!("/{route}?url={}", upstream.url("/hello"))))
            .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    }
    // Each outbound request carries the trace: through `karman:runnable/http`, the call's span
    // (a child of the step's) is the parent; through `wasi:http`, the step's span.
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let caller = span_named(&receiver, "caller").await;
    let call = span_named(&receiver, "http.send").await;
    assert_eq!(call.parent_span_id, caller.span_id);
    assert_eq!(call.kind, SpanKind::Client as i32);
    let wasi_caller = span_named(&receiver, "wasi-caller").await;
    for (request, parent) in seen.iter().zip([&call, &wasi_caller]) {
        let traceparent = request.header("traceparent").expect("a traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts[1], trace_id, "{traceparent}");
        assert_eq!(parts[2], hex_of(&parent.span_id), "{traceparent}");
    }

    // A message's traceparent is continued, and passed on to its result.
    let nats = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let mut results = nats.subscribe(format!("{prefix}.out")).await.unwrap();
    nats.flush().await.unwrap();
    let message_trace = "5c0b6ab1f1a04b9d8e4e0b4b0e4f3a21";
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{message_trace}-a1b2c3d4e5f60718-01").as_str(),
    );
    // The handler may not have subscribed the instant the binary listens: publish until a
    // result comes.
    let result = crate::support::within("the message's result", Duration::from_secs(20), async {
        loop {
            nats.publish_with_headers(format!("{prefix}.in"), headers.clone(), "hi".into())
                .await
                .unwrap();
            if let Ok(Some(result)) =
                tokio::time::timeout(Duration::from_millis(500), results.next()).await
            {
                break result;
            }
        }
    })
    .await;
    let traceparent = result
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .map(|v| v.as_str().to_string())
        .expect("the result carries the trace");
    assert!(
        traceparent.starts_with(&format!("00-{message_trace}-")),
        "{traceparent}"
    );
    let message = span_named(&receiver, &format!("nats {prefix}.in")).await;
    assert_eq!(hex_of(&message.trace_id), message_trace);
    assert_eq!(hex_of(&message.parent_span_id), "a1b2c3d4e5f60718");
    assert_eq!(message.kind, SpanKind::Consumer as i32);
    assert!(
        traceparent.contains(&hex_of(&message.span_id)),
        "the result's parent is the message's span"
    );
    let echo = span_named(&receiver, "echo").await;
    assert_eq!(echo.parent_span_id, message.span_id);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
