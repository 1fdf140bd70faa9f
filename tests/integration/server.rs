//! The HTTP server and the `karman` binary: health, request ids, body cap, routing errors,
//! logs, graceful shutdown.

use std::time::Duration;

use karman::ServerConfig;

use crate::support::{Binary, TestServer, client};

const APP: &str = r#"
identifier: test.server
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: echo, source: guest(echo) }
  - { name: slow, source: guest(slow) }
  - { name: logger, source: guest(logger) }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
  - { type: request, method: POST, resource: /echo, steps: [ { fn: echo } ] }
  - { type: request, method: PUT, resource: /echo, steps: [ { fn: echo } ] }
  - { type: request, method: GET, resource: /slow, steps: [ { fn: slow } ] }
  - { type: request, method: GET, resource: /log, steps: [ { fn: logger } ] }
  - { type: request, method: GET, resource: /files/*path, steps: [ { fn: echo } ] }
"#;

#[tokio::test]
async fn health_answers_ok() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/health").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start(APP).await;
    let first = server.get("/hello/a").await;
    let second = server.get("/nowhere").await;
    let (a, b) = (
        first.header("x-request-id").unwrap(),
        second.header("x-request-id").unwrap(),
    );
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    assert_eq!(second.json()["requestId"], b);

    // A well-formed id from the client (e.g. a load balancer's) is kept; others are replaced.
    let kept = server
        .client
        .get(server.url("/hello/a"))
        .header("x-request-id", "lb-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-7f3a");
    let replaced = server
        .client
        .get(server.url("/hello/a"))
        .header("x-request-id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let server = TestServer::start(APP).await;
    assert_eq!(server.get("/nowhere").await.status, 404);
    let reply = server.get("/echo").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST, PUT"));
    let reply = server
        .client
        .delete(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);
}

#[tokio::test]
async fn head_is_answered_by_the_get_handler_without_a_body() {
    let server = TestServer::start(APP).await;
    let reply = server
        .client
        .head(server.url("/hello/h"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-length"], "9"); // "Hello, h!"
    assert_eq!(reply.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn a_wildcard_captures_the_rest_of_the_path() {
    let server = TestServer::start(APP).await;
    assert_eq!(server.get("/files/a/b/c.txt").await.status, 200);
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_with_413() {
    let config = ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(APP, config).await;
    assert_eq!(server.post("/echo", vec![b'x'; 1024]).await.status, 200);
    let reply = server.post("/echo", vec![b'x'; 1025]).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], 413);

    // Without a content-length (chunked), the cap holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b'y'; 800]), Ok(vec![b'y'; 800])];
    let body = reqwest::Body::wrap_stream(futures_stream(chunks));
    let reply = server
        .client
        .post(server.url("/echo"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Chunks(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let mut server = TestServer::start(APP).await;
    let in_flight = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow?ms=700"));
        async move {
            let reply = client.get(url).send().await.unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = server.signal_shutdown();
    assert_eq!(in_flight.await.unwrap(), (200, "done".to_string()));
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let refused = client().get(server.url("/hello/late")).send().await;
    assert!(refused.is_err(), "a request after shutdown was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_then_exits_cleanly() {
    let mut binary = Binary::serve(APP);
    let in_flight = tokio::spawn({
        let url = binary.url("/slow?ms=800");
        async move {
            let reply = client().get(url).send().await.unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    binary.terminate();
    assert_eq!(in_flight.await.unwrap(), (200, "done".to_string()));
    let status = binary.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "karman exited with {status}");
    assert!(
        !binary
            .logs_matching(|e| e["fields"]["message"] == "received SIGTERM")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_logs_and_stdio_reach_the_host_log_tagged_and_rate_limited() {
    let binary = Binary::serve(APP);
    let reply = client()
        .get(binary.url("/log?n=3"))
        .header("x-request-id", "log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.text().await.unwrap(), "logged 3");
    let flood = client()
        .get(binary.url("/log?n=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(flood.status(), 200);
    // Let the bucket refill a little: the next line gets through and reports the drop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let next = client().get(binary.url("/log?n=1")).send().await.unwrap();
    assert_eq!(next.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let tagged = |source: &'static str| {
        move |e: &serde_json::Value| {
            e["target"] == "karman::guest"
                && e["fields"]["component"] == "logger"
                && e["fields"]["request_id"] == "log-test-1"
                && e["fields"]["source"] == source
        }
    };
    let lines: Vec<_> = binary.logs_matching(tagged("log"));
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|e| e["fields"]["message"].as_str())
        .collect();
    assert_eq!(messages, ["log line 0", "log line 1", "log line 2"]);
    let stdout = binary.logs_matching(tagged("stdout"));
    assert_eq!(stdout[0]["fields"]["message"], "a line on stdout");
    assert_eq!(stdout[0]["level"], "INFO");
    let stderr = binary.logs_matching(tagged("stderr"));
    assert_eq!(stderr[0]["fields"]["message"], "a line on stderr");
    assert_eq!(stderr[0]["level"], "WARN");

    // The flood of 1000 lines was cut by the rate limit, and the cut was reported.
    let flood_lines = binary.logs_matching(|e| {
        e["fields"]["source"] == "log" && e["fields"]["request_id"] != "log-test-1"
    });
    assert!(
        flood_lines.len() < 400,
        "{} lines got through",
        flood_lines.len()
    );
    assert!(
        !binary
            .logs_matching(|e| e["fields"]["dropped"].as_u64().is_some_and(|d| d > 0))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_credential_never_reaches_the_log_even_at_debug() {
    const SECRET: &str = "log-probe-secret-9f2c";
    let upstream = crate::upstream::Upstream::start().await;
    let yaml = format!(
        r#"
identifier: test.secrets
appVersion: v1
components:
  - name: fetcher
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /fetch, steps: [ {{ fn: fetcher }} ] }}
authentication:
  domains:
    127.0.0.1: {{ headerType: "header:X-Api-Key", value: env(KARMAN_TEST_API_KEY) }}
"#,
        port = upstream.port
    );
    let binary = Binary::serve_with(&yaml, "debug", &[("KARMAN_TEST_API_KEY", SECRET)]);
    let target = |path: &str| -> String {
        form_urlencoded::byte_serialize(upstream.url(path).as_bytes()).collect()
    };
    for path in ["/hello", "/redirect?to=/hello", "/no-such-path"] {
        let reply = client()
            .get(binary.url(&format!("/fetch?url={}", target(path))))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        assert!(!reply.text().await.unwrap().contains(SECRET));
    }
    // A refused one too (another port).
    let refused = client()
        .get(binary.url("/fetch?url=http%3A%2F%2F127.0.0.1%3A1%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let seen = upstream.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|s| s.header("x-api-key") == Some(SECRET)));
    let logs = binary.logs_matching(|_| true);
    assert!(logs.len() > 10, "debug logging is on: {logs:?}");
    let text = serde_json::Value::from(logs).to_string();
    assert!(!text.contains(SECRET), "the secret is in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_message_in_flight_finish_and_publish_its_result() {
    let prefix = format!("karman-test.{}", uuid::Uuid::new_v4().simple());
    let mut binary = Binary::serve(&format!(
        r#"
identifier: test.binary.streams
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:4222" }} }}
components:
  - {{ name: slow, source: guest(slow) }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.work, respondTo: {prefix}.done, steps: [ {{ fn: slow }} ] }}
schedules:
  - {{ name: idle, every: {{ hours: 1 }}, steps: [ {{ fn: slow }} ] }}
"#
    ));
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let mut done = client.subscribe(format!("{prefix}.done")).await.unwrap();
    client.flush().await.unwrap();
    // The binary subscribes before it reports its address; give the subscription a moment to
    // reach the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    client
        .publish(format!("{prefix}.work"), "job".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    binary.terminate();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::StreamExt::next(&mut done),
    )
    .await
    .expect("the message in flight finishes")
    .unwrap();
    assert_eq!(result.payload, "done");
    let status = binary.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "karman exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_messages_survive_a_killed_process() {
    let prefix = format!("karman-test.{}", uuid::Uuid::new_v4().simple());
    let stream = format!("KARMAN-TEST-{}", prefix.trim_start_matches("karman-test."));
    let yaml = format!(
        r#"
identifier: test.binary.jetstream
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:4222" }} }}
components:
  - {{ name: slow, source: guest(slow), limits: {{ timeout: 2s }} }}
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.jobs
    stream: {stream}
    respondTo: {prefix}.done
    maxInFlight: 2
    steps: [ {{ fn: slow }}, {{ fn: echo }} ]
"#
    );
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let mut done = client.subscribe(format!("{prefix}.done")).await.unwrap();
    client.flush().await.unwrap();
    let jetstream = async_nats::jetstream::new(client.clone());
    // A JetStream handler's results go to a stream (it acks a message once its result is stored).
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: format!("{stream}-DONE"),
            subjects: vec![format!("{prefix}.done")],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut first = Binary::serve(&yaml);
    const MESSAGES: usize = 8;
    for n in 0..MESSAGES {
        jetstream
            .publish(format!("{prefix}.jobs"), format!("job-{n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut processed = std::collections::HashSet::new();
    processed.insert(next_payload(&mut done).await);
    // SIGKILL with messages in flight: no graceful anything.
    first.kill();

    let _second = Binary::serve(&yaml);
    while processed.len() < MESSAGES {
        processed.insert(next_payload(&mut done).await);
    }
    let expected: std::collections::HashSet<String> =
        (0..MESSAGES).map(|n| format!("job-{n}")).collect();
    assert_eq!(processed, expected);
    let _ = jetstream.delete_stream(&stream).await;
    let _ = jetstream.delete_stream(format!("{stream}-DONE")).await;
}

async fn next_payload(subscriber: &mut async_nats::Subscriber) -> String {
    let message = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::StreamExt::next(subscriber),
    )
    .await
    .expect("results keep arriving")
    .unwrap();
    String::from_utf8(message.payload.to_vec()).unwrap()
}
