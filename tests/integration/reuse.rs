//! Opt-in instance reuse: warm instances keep their memory between steps, within `maxUses`,
//! and are never reused after a fault. Without it, each step's instance starts from a memory
//! reset to its initial contents.

use crate::support::{Binary, TestServer, client};

const APP: &str = r#"
identifier: test.reuse
appVersion: v1
components:
  - { name: fresh, source: guest(counter) }
  - name: warm
    source: guest(counter)
    reuse: { maxUses: 3, poolSize: 1 }
    limits: { timeout: 500ms }
handlers:
  - { type: request, method: GET, resource: /fresh, steps: [ { fn: fresh } ] }
  - { type: request, method: GET, resource: /warm, steps: [ { fn: warm } ] }
  - type: request
    method: GET
    resource: /warm-twice
    steps: [ { fn: warm }, { fn: warm, as: again } ]
"#;

async fn counts(server: &TestServer, path: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(server.get(path).await.body);
    }
    out
}

#[tokio::test]
async fn a_fresh_instance_per_step_shares_nothing() {
    let server = TestServer::start(APP).await;
    assert_eq!(counts(&server, "/fresh", 3).await, ["1", "1", "1"]);
}

/// Whether the kernel has `PAGEMAP_SCAN` (Linux 6.7), with which the host resets only the
/// pages an instance dirtied and keeps them resident.
fn kernel_has_pagemap_scan() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    matches!((numbers.next(), numbers.next()), (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= (6, 7))
}

#[tokio::test]
async fn a_fresh_instance_finds_its_memory_reset_and_its_pages_still_resident() {
    // page-scatter dirties 300 separate pages, more runs than one scan of a memory reports:
    // each must be reset for the next instance, and (with PAGEMAP_SCAN) reset in place, so
    // that the next instance does not fault them in again.
    let server = Binary::serve(
        r#"
identifier: test.reset
appVersion: v1
components:
  - { name: scatter, source: guest(page-scatter) }
handlers:
  - { type: request, method: GET, resource: /scatter, steps: [ { fn: scatter } ] }
"#,
    );
    let client = client();
    let scatter = async || {
        let response = client.get(server.url("/scatter")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    for _ in 0..5 {
        assert_eq!(scatter().await, "clean 300");
    }
    const RUNS: u64 = 20;
    let before = server.minor_faults();
    for _ in 0..RUNS {
        assert_eq!(
            scatter().await,
            "clean 300",
            "an instance saw an earlier one's writes"
        );
    }
    let per_run = (server.minor_faults() - before) / RUNS;
    if kernel_has_pagemap_scan() {
        assert!(
            per_run < 50,
            "{per_run} page faults per run: the pages an instance dirtied were decommitted \
             instead of reset in place"
        );
    }
}

#[tokio::test]
async fn a_warm_instance_is_reused_up_to_max_uses() {
    let server = TestServer::start(APP).await;
    assert_eq!(
        counts(&server, "/warm", 7).await,
        ["1", "2", "3", "1", "2", "3", "1"]
    );
}

#[tokio::test]
async fn the_steps_of_one_request_can_share_a_warm_instance() {
    let server = TestServer::start(APP).await;
    // The first step returns its instance to the pool before the second takes one.
    assert_eq!(server.get("/warm-twice").await.body, "2");
}

#[tokio::test]
async fn an_instance_that_trapped_is_not_reused() {
    let server = TestServer::start(APP).await;
    assert_eq!(server.get("/warm").await.body, "1");
    assert_eq!(server.get("/warm?trap=1").await.status, 500);
    assert_eq!(
        server.get("/warm").await.body,
        "1",
        "a new instance replaced the one that trapped"
    );
}

#[tokio::test]
async fn an_instance_that_timed_out_is_not_reused() {
    let server = TestServer::start(APP).await;
    assert_eq!(server.get("/warm").await.body, "1");
    assert_eq!(server.get("/warm?sleep=2000").await.status, 504);
    assert_eq!(
        server.get("/warm").await.body,
        "1",
        "a new instance replaced the one that timed out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_warm_instance_gives_its_pool_slot_back_after_its_idle_timeout() {
    // One instance slot: while the warm instance idles in its pool, nothing else can run.
    let mut config = crate::support::runtime_config();
    config.engine.max_instances = 1;
    let server = TestServer::start_with_runtime(
        r#"
identifier: test.reuse.idle
appVersion: v1
components:
  - { name: fresh, source: guest(counter) }
  - { name: warm, source: guest(counter), reuse: { maxUses: 100, poolSize: 1, idleTimeout: 300ms } }
handlers:
  - { type: request, method: GET, resource: /fresh, steps: [ { fn: fresh } ] }
  - { type: request, method: GET, resource: /warm, steps: [ { fn: warm } ] }
"#,
        config,
        karman::ServerConfig::default(),
    )
    .await;
    assert_eq!(server.get("/warm").await.body, "1");
    assert_eq!(
        server.get("/fresh").await.status,
        503,
        "the idle warm instance holds the only slot"
    );
    // No request touches the warm pool: the sweeper alone drops the idle instance.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let fresh = server.get("/fresh").await;
    assert_eq!((fresh.status, fresh.body.as_str()), (200, "1"));
}
