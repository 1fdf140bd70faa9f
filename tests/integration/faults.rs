//! Faults of a guest: traps, timeouts and memory bombs never answer 200 and never take the
//! host down.

use std::time::{Duration, Instant};

use crate::support::TestServer;

const APP: &str = r#"
identifier: test.faults
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: trap, source: guest(trap) }
  - { name: spin, source: guest(spin), limits: { timeout: 1s } }
  - { name: memory-hog, source: guest(memory-hog), limits: { memory: 32MiB } }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
  - { type: request, method: GET, resource: /trap, steps: [ { fn: trap } ] }
  - { type: request, method: GET, resource: /spin, steps: [ { fn: spin } ] }
  - { type: request, method: GET, resource: /hog, steps: [ { fn: memory-hog } ] }
  - type: request
    method: GET
    resource: /trap-continued
    steps:
      - fn: trap
        onErr: { any: continue }
      - fn: hello
"#;

#[tokio::test]
async fn a_trap_answers_500_with_a_json_error_and_the_server_goes_on() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/trap").await;
    assert_eq!(reply.status, 500);
    let body = reply.json();
    assert_eq!(body["code"], 500);
    assert_eq!(body["message"], "component `trap` trapped");
    assert_eq!(body["requestId"], reply.header("x-request-id").unwrap());
    assert_eq!(server.get("/hello/again").await.status, 200);
}

#[tokio::test]
async fn on_err_does_not_turn_a_trap_into_a_success() {
    let server = TestServer::start(APP).await;
    assert_eq!(server.get("/trap-continued").await.status, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_its_timeout_with_504() {
    let server = TestServer::start(APP).await;
    let started = Instant::now();
    let reply = server.get("/spin").await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["message"], "step `spin` timed out after 1s");
    // The timeout is 1 s: the answer comes after it, and not much later.
    assert!(
        elapsed >= Duration::from_secs(1),
        "answered after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "answered after {elapsed:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_spinning_guest_does_not_hold_the_only_worker_thread() {
    // One worker thread: if the spinning guest never yielded, the hello request could not run
    // until the spin timed out.
    let server = TestServer::start(APP).await;
    let spin = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/spin"));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hello = server.get("/hello/meanwhile").await;
    assert_eq!(hello.status, 200);
    assert!(
        !spin.is_finished(),
        "the spin ended before the hello request was served"
    );
    assert_eq!(spin.await.unwrap(), 504);
}

#[tokio::test]
async fn a_memory_bomb_is_contained_by_its_limit() {
    let server = TestServer::start(APP).await;
    for _ in 0..3 {
        let reply = server.get("/hog").await;
        assert_eq!(reply.status, 500);
        assert_eq!(
            reply.json()["message"],
            "component `memory-hog` exceeded its memory limit of 32 MiB"
        );
    }
    assert_eq!(server.get("/hello/survivor").await.body, "Hello, survivor!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_instance_pool_answers_503_with_retry_after() {
    let yaml = r#"
identifier: test.pool
appVersion: v1
components:
  - { name: slow, source: guest(slow) }
handlers:
  - { type: request, method: GET, resource: /slow, steps: [ { fn: slow } ] }
"#;
    let mut runtime_config = crate::support::runtime_config();
    runtime_config.engine.max_instances = 1;
    let server =
        TestServer::start_with_runtime(yaml, runtime_config, karman::ServerConfig::default()).await;
    let holder = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow?ms=1500"));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refused = server.get("/slow?ms=1").await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let metrics = server.admin_get("/metrics").await.body;
    assert!(
        metrics.contains("\nkarman_instances_in_use 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nkarman_instances_refused_total{reason=\"instances\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(holder.await.unwrap(), 200);
    // Once the instance is back in the pool, requests succeed again.
    assert_eq!(server.get("/slow?ms=1").await.status, 200);
    let metrics = server.admin_get("/metrics").await.body;
    assert!(
        metrics.contains("\nkarman_instances_in_use 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_host_wide_guest_memory_budget_answers_503_and_returns_what_a_step_held() {
    // A 16 MiB budget for every instance at once: the hog (32 MiB limit) runs into the budget
    // before its own limit.
    let mut runtime_config = crate::support::runtime_config();
    runtime_config.engine.max_guest_memory = 16 << 20;
    let server =
        TestServer::start_with_runtime(APP, runtime_config, karman::ServerConfig::default()).await;
    for _ in 0..3 {
        let refused = server.get("/hog").await;
        assert_eq!(refused.status, 503, "{}", refused.body);
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert_eq!(
            refused.json()["message"],
            "the server's guest memory is in use; retry shortly"
        );
        // The hog's memory went back to the budget when its instance ended: a small step
        // fits again (it would not if the 16 MiB were still counted).
        assert_eq!(server.get("/hello/after").await.status, 200);
    }
    let metrics = server.admin_get("/metrics").await.body;
    assert!(
        metrics.contains("\nkarman_instances_refused_total{reason=\"memory\"} 3\n"),
        "{metrics}"
    );
}
