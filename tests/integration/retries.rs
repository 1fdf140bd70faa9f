//! `retry:` on steps (tries, codes, backoff, the request's deadline, groups) and `deadLetter` on
//! the sources that deliver a message once: the bus and core NATS (against the NATS server of
//! this machine). `flaky` counts its tries in the cache and fails the first `?fails=` of them.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use karman::ServerConfig;
use karman_streams::BusMessage;

use crate::support::{TestServer, unique};

const APP: &str = r#"
identifier: test.retries
appVersion: v1
components:
  - { name: flaky, source: guest(flaky), capabilities: { cache: { prefix: "flaky:" } } }
  - { name: slow, source: guest(slow), limits: { timeout: 200ms } }
  - { name: hello, source: guest(hello) }
handlers:
  - type: request
    method: GET
    resource: /three
    steps:
      - { fn: flaky, retry: { attempts: 3, backoff: 10ms } }
  - type: request
    method: GET
    resource: /two
    steps:
      - { fn: flaky, retry: { attempts: 2, backoff: 10ms } }
  - type: request
    method: GET
    resource: /continued
    steps:
      - fn: flaky
        retry: { attempts: 2, backoff: 10ms, on: [409] }
        onErr: { any: continue }
      - fn: hello
    response: flaky
  - type: request
    method: GET
    resource: /group/:name
    steps:
      - group:
          - { fn: flaky, retry: { attempts: 4, backoff: 10ms, on: [500] } }
          - { fn: hello }
    response: flaky
  - type: request
    method: GET
    resource: /slow
    steps:
      - { fn: slow, retry: { attempts: 2, backoff: 10ms } }
  - type: request
    method: GET
    resource: /patient
    steps:
      - { fn: flaky, retry: { attempts: 3, backoff: 5s } }
"#;

#[tokio::test]
async fn a_step_that_fails_twice_succeeds_on_its_third_try() {
    let server = TestServer::start(APP).await;
    let key = unique("twice");
    let reply = server.get(&format!("/three?key={key}&fails=2")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok after 3"));
}

#[tokio::test]
async fn when_the_tries_run_out_the_client_gets_the_last_error() {
    let server = TestServer::start(APP).await;
    let key = unique("out");
    let reply = server.get(&format!("/two?key={key}&fails=2")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.json()["message"], "try 2 failed");
    // The next request is the third try: the step ran exactly twice.
    let reply = server.get(&format!("/two?key={key}&fails=2")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok after 3"));
}

#[tokio::test]
async fn a_code_not_in_on_is_not_retried() {
    let server = TestServer::start(APP).await;
    let key = unique("code");
    // 500 is not in the default `on` (503, 504).
    let reply = server
        .get(&format!("/three?key={key}&fails=1&code=500"))
        .await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.json()["message"], "try 1 failed");
    let reply = server
        .get(&format!("/three?key={key}&fails=1&code=500"))
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok after 2"));
}

#[tokio::test]
async fn on_err_applies_to_the_last_tries_error() {
    let server = TestServer::start(APP).await;
    let key = unique("continued");
    let reply = server
        .get(&format!("/continued?key={key}&fails=5&code=409"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        serde_json::json!({ "code": 409, "message": "try 2 failed" })
    );
}

#[tokio::test]
async fn a_step_of_a_group_retries_on_its_own() {
    let server = TestServer::start(APP).await;
    let key = unique("group");
    let reply = server
        .get(&format!("/group/ada?key={key}&fails=3&code=500"))
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok after 4"));
}

#[tokio::test]
async fn a_timed_out_step_is_retried_as_504() {
    let server = TestServer::start(APP).await;
    let started = Instant::now();
    let reply = server.get("/slow?ms=5000").await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "two tries of 200ms each, not one, not the 5s sleep: {elapsed:?}"
    );
}

#[tokio::test]
async fn no_retry_waits_past_the_requests_deadline() {
    let config = ServerConfig {
        total_request_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(APP, config).await;
    let key = unique("deadline");
    let started = Instant::now();
    // The first wait is 2.5–5 s, past the 2 s the request has: the error comes at once.
    let reply = server.get(&format!("/patient?key={key}&fails=1")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.json()["message"], "try 1 failed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered without waiting: {:?}",
        started.elapsed()
    );
}

/// A bus handler whose `flaky` step fails `fails` times, with `attempts` tries, its result
/// published to `done` and failed messages to `dead`.
fn bus_app(fails: u32, attempts: u32, key: &str) -> String {
    format!(
        r#"
identifier: test.retries.bus
appVersion: v1
components:
  - {{ name: flaky, source: guest(flaky), capabilities: {{ cache: {{ prefix: "flaky:" }} }} }}
handlers:
  - type: stream
    resource: jobs.run
    respondTo: jobs.done
    deadLetter: jobs.dead
    state: {{ key: {key}, fails: "{fails}", code: "503" }}
    steps:
      - {{ fn: flaky, retry: {{ attempts: {attempts}, backoff: 10ms }} }}
"#
    )
}

#[tokio::test]
async fn a_bus_message_whose_step_recovers_is_answered_not_dead_lettered() {
    let server = TestServer::start(&bus_app(2, 3, &unique("bus-ok"))).await;
    let bus = server.streams.bus();
    let mut done = bus.subscribe("jobs.done", 4);
    let mut dead = bus.subscribe("jobs.dead", 4);
    bus.publish(BusMessage::new("jobs.run", "job 1")).await;
    let result = tokio::time::timeout(Duration::from_secs(10), done.recv())
        .await
        .expect("a result")
        .unwrap();
    assert_eq!(result.payload, "ok after 3");
    assert!(dead.try_recv().is_err(), "nothing was dead-lettered");
    assert_eq!(server.streams.handler_stats(0).unwrap().succeeded(), 1);
}

#[tokio::test]
async fn a_bus_message_whose_step_always_fails_is_dead_lettered_with_its_error() {
    let server = TestServer::start(&bus_app(100, 2, &unique("bus-dead"))).await;
    let bus = server.streams.bus();
    let mut dead = bus.subscribe("jobs.dead", 4);
    let mut message = BusMessage::new("jobs.run", "job 2");
    message.headers.push(("x-test".into(), "kept".into()));
    bus.publish(message).await;
    let letter = tokio::time::timeout(Duration::from_secs(10), dead.recv())
        .await
        .expect("a dead letter")
        .unwrap();
    assert_eq!(letter.payload, "job 2");
    assert_eq!(letter.header("karman-error"), Some("503"));
    assert_eq!(letter.header("karman-error-message"), Some("try 2 failed"));
    assert_eq!(letter.header("karman-subject"), Some("jobs.run"));
    assert_eq!(letter.header("karman-deliveries"), Some("1"));
    assert_eq!(server.streams.handler_stats(0).unwrap().failed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_nats_message_whose_step_always_fails_is_dead_lettered_with_its_error() {
    let prefix = format!("karman-test.{}", uuid::Uuid::new_v4().simple());
    let server = TestServer::start(&format!(
        r#"
identifier: test.retries.nats
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:4222" }} }}
components:
  - {{ name: flaky, source: guest(flaky), capabilities: {{ cache: {{ prefix: "flaky:" }} }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.run
    deadLetter: {prefix}.dead
    state: {{ key: {key}, fails: "100", code: "504" }}
    steps:
      - {{ fn: flaky, retry: {{ attempts: 3, backoff: 10ms }} }}
"#,
        key = unique("nats-dead")
    ))
    .await;
    let client = async_nats::connect("127.0.0.1:4222")
        .await
        .expect("NATS runs on 127.0.0.1:4222 (scripts/services)");
    let mut dead = client.subscribe(format!("{prefix}.dead")).await.unwrap();
    client.flush().await.unwrap();
    client
        .publish(format!("{prefix}.run"), "poison".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let letter = tokio::time::timeout(Duration::from_secs(10), dead.next())
        .await
        .expect("a dead letter")
        .unwrap();
    assert_eq!(letter.payload, "poison");
    let headers = letter.headers.expect("dead letters carry why");
    let header = |name: &str| headers.get(name).map(|v| v.as_str().to_string());
    assert_eq!(header("karman-error").as_deref(), Some("504"));
    assert_eq!(
        header("karman-error-message").as_deref(),
        Some("try 3 failed")
    );
    assert_eq!(
        header("karman-subject"),
        Some(format!("{prefix}.run")),
        "where it arrived"
    );
    assert_eq!(server.streams.handler_stats(0).unwrap().failed(), 1);
}
