//! Operations' view of a server: the metrics on the admin listener (checked by the real
//! Prometheus tools from Debian's `prometheus` package, which scripts/tools installs), the
//! probes, and the access log.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Binary, TestServer, eventually, free_port, repo_root, unique};

const APP: &str = r#"
identifier: test.observability
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: slow, source: guest(slow) }
  - { name: fail, source: guest(fail) }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
  - { type: request, method: GET, resource: /slow, steps: [ { fn: slow } ] }
  - { type: request, method: GET, resource: /fail, steps: [ { fn: fail } ] }
"#;

/// The samples of an exposition, by series (`name{labels}`).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = TestServer::start(APP).await;
    for _ in 0..7 {
        assert_eq!(server.get("/hello/ada").await.status, 200);
    }
    for path in ["/nope", "/hello", "/x/y/z"] {
        assert_eq!(server.get(path).await.status, 404);
    }
    for code in [404, 503, 404] {
        assert_eq!(server.get(&format!("/fail?code={code}")).await.status, code);
    }
    server.get("/livez").await;
    let metrics = server.admin_get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let samples = samples(&metrics.body);
    let value = |series: &str| samples.get(series).copied();
    assert_eq!(
        value(r#"karman_http_requests_total{route="GET /hello/:name",status="200"}"#),
        Some(7.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        value(r#"karman_http_requests_total{route="unmatched",status="404"}"#),
        Some(3.0),
        "a raw path is never a label"
    );
    assert_eq!(
        value(r#"karman_http_requests_total{route="probe",status="200"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(r#"karman_http_request_duration_seconds_count{route="GET /hello/:name"}"#),
        Some(7.0)
    );
    assert_eq!(
        value(r#"karman_http_request_duration_seconds_bucket{route="GET /hello/:name",le="+Inf"}"#),
        Some(7.0)
    );
    assert!(!metrics.body.contains("/x/y/z"), "{}", metrics.body);
    assert_eq!(
        value(r#"karman_step_duration_seconds_count{component="hello",outcome="ok"}"#),
        Some(7.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        value(r#"karman_instantiation_duration_seconds_count{component="hello"}"#),
        Some(7.0)
    );
    // A route's statuses and a component's outcomes are series of their own.
    assert_eq!(
        value(r#"karman_http_requests_total{route="GET /fail",status="404"}"#),
        Some(2.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        value(r#"karman_http_requests_total{route="GET /fail",status="503"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(r#"karman_http_requests_total{route="GET /fail",status="200"}"#),
        None
    );
    assert_eq!(
        value(r#"karman_http_request_duration_seconds_count{route="GET /fail"}"#),
        Some(3.0)
    );
    assert_eq!(
        value(r#"karman_step_duration_seconds_count{component="fail",outcome="error"}"#),
        Some(3.0)
    );
    assert_eq!(
        value(r#"karman_step_duration_seconds_count{component="fail",outcome="ok"}"#),
        None
    );
    let build = format!(
        r#"karman_build_info{{version="{}",wit="{}"}}"#,
        env!("CARGO_PKG_VERSION"),
        karman_runtime::wit::PACKAGE
    );
    assert_eq!(value(&build), Some(1.0), "{}", metrics.body);
}

/// An app with every kind of work: capability calls (one denied), a warm instance, bus
/// handlers (one failing into a dead letter) and a schedule.
const WORK: &str = r#"
identifier: test.observability.work
appVersion: v1
components:
  - { name: cache-user, source: guest(cache-user), capabilities: { cache: true } }
  - { name: no-cache, source: guest(cache-user) }
  - { name: counter, source: guest(counter), reuse: { maxUses: 100, poolSize: 1 } }
  - { name: echo, source: guest(echo) }
  - { name: fail, source: guest(fail) }
handlers:
  - { type: request, method: GET, resource: /cache, steps: [ { fn: cache-user } ] }
  - { type: request, method: GET, resource: /denied, steps: [ { fn: no-cache } ] }
  - { type: request, method: GET, resource: /count, steps: [ { fn: counter } ] }
  - { type: stream, resource: work.in, steps: [ { fn: echo } ] }
  - { type: stream, resource: work.bad, deadLetter: work.dead, steps: [ { fn: fail } ] }
schedules:
  - { name: tick, every: { seconds: 0.1 }, steps: [ { fn: echo } ] }
"#;

#[tokio::test]
async fn metrics_count_capability_calls_instances_stream_messages_and_schedules() {
    let server = TestServer::start(WORK).await;
    assert_eq!(server.get("/cache?op=set&key=k&value=v").await.status, 200);
    assert_eq!(server.get("/cache?op=get&key=absent").await.status, 404);
    assert_eq!(server.get("/denied?op=get&key=k").await.status, 403);
    assert_eq!(server.get("/count").await.status, 200);
    let mut dead = server.streams.bus().subscribe("work.dead", 4);
    for body in ["a", "b", "c"] {
        server
            .streams
            .bus()
            .publish(karman_streams::BusMessage::new("work.in", body))
            .await;
    }
    for body in ["x", "y"] {
        server
            .streams
            .bus()
            .publish(karman_streams::BusMessage::new("work.bad", body))
            .await;
    }
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), dead.recv())
            .await
            .expect("the failed message is dead-lettered")
            .unwrap();
    }
    let counted = "the bus messages and a scheduled run are counted";
    let samples = eventually(counted, Duration::from_secs(10), || async {
        let metrics = server.admin_get("/metrics").await;
        let samples = samples(&metrics.body);
        let handled = r#"karman_stream_messages_total{handler="bus work.in",outcome="succeeded"}"#;
        let ticks = r#"karman_schedule_runs_total{schedule="tick"}"#;
        (samples.get(handled) == Some(&3.0) && samples.get(ticks) >= Some(&1.0)).then_some(samples)
    })
    .await;
    let value = |series: &str| samples.get(series).copied();
    let all = format!("{samples:#?}");
    for (series, expected) in [
        (
            r#"karman_capability_calls_total{capability="cache",backend="memory",outcome="ok"}"#,
            2.0,
        ),
        (
            r#"karman_capability_calls_total{capability="cache",backend="none",outcome="denied"}"#,
            1.0,
        ),
        (r#"karman_instances_warm{component="counter"}"#, 1.0),
        (
            r#"karman_stream_messages_received_total{handler="bus work.in"}"#,
            3.0,
        ),
        (
            r#"karman_stream_messages_received_total{handler="bus work.bad"}"#,
            2.0,
        ),
        (
            r#"karman_stream_messages_total{handler="bus work.bad",outcome="failed"}"#,
            2.0,
        ),
        (
            r#"karman_stream_messages_dead_lettered_total{handler="bus work.bad"}"#,
            2.0,
        ),
        (
            r#"karman_stream_messages_retried_total{handler="bus work.bad"}"#,
            0.0,
        ),
        (
            r#"karman_stream_messages_in_flight{handler="bus work.in"}"#,
            0.0,
        ),
        (r#"karman_schedule_failures_total{schedule="tick"}"#, 0.0),
    ] {
        assert_eq!(value(series), Some(expected), "{series} in {all}");
    }
    // The warm instance keeps its pool slot; the others gave theirs back.
    assert!(value("karman_instances_in_use").unwrap() >= 1.0, "{all}");
    assert_eq!(
        value(r#"karman_instances_refused_total{reason="instances"}"#),
        None
    );
}

/// Passes the exposition through `promtool check metrics`, which rejects what breaks the
/// format or the naming conventions.
fn promtool_check(metrics: &crate::support::Reply) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/tools (Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.body.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr),
        metrics.body
    );
}

#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let server = TestServer::start(APP).await;
    server.get("/hello/ada").await;
    server.get("/nope").await;
    promtool_check(&server.admin_get("/metrics").await);
    let server = TestServer::start(WORK).await;
    server.get("/cache?op=set&key=k&value=v").await;
    server.get("/denied?op=get&key=k").await;
    server.get("/count").await;
    server
        .streams
        .bus()
        .publish(karman_streams::BusMessage::new("work.bad", "x"))
        .await;
    let metrics = server.admin_get("/metrics").await;
    assert!(
        metrics.body.contains("karman_stream_messages_total"),
        "{}",
        metrics.body
    );
    promtool_check(&metrics);
}

#[tokio::test]
async fn probes_say_live_ready_and_draining() {
    let mut server = TestServer::start(APP).await;
    for (path, status) in [("/livez", "live"), ("/readyz", "ok"), ("/health", "ok")] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({ "status": status }),
            "{path}"
        );
    }
    let details = server.admin_get("/health").await;
    assert_eq!(
        details.json(),
        serde_json::json!({ "status": "ok", "backends": {} })
    );
    assert_eq!(server.admin_get("/nope").await.status, 404);

    // A slow request is in flight when shutdown begins: the admin listener says `draining`.
    let slow = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow?ms=1500"));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = server.signal_shutdown();
    let draining = eventually(
        "/readyz to say draining",
        Duration::from_secs(5),
        || async { Some(server.admin_get("/readyz").await).filter(|r| r.status == 503) },
    )
    .await;
    assert_eq!(draining.json()["status"], "draining");
    assert_eq!(server.admin_get("/livez").await.status, 200);
    assert_eq!(slow.await.unwrap(), 200, "the request in flight finishes");
    stopped.await.unwrap().unwrap();
}

/// A Prometheus server from Debian's package, scraping `target` every second, its data in a
/// scratch directory; stopped (killed) when dropped.
struct Prometheus {
    child: Child,
    api: String,
    _dir: std::path::PathBuf,
}

impl Prometheus {
    fn start(target: &str) -> Self {
        let dir = repo_root()
            .join("target/karman-test-tmp")
            .join(unique("prometheus"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global: {{ scrape_interval: 1s, scrape_timeout: 1s }}\n\
             scrape_configs:\n  - job_name: karman\n    static_configs: [ {{ targets: ['{target}'] }} ]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed by scripts/tools (Debian's prometheus package)");
        Self {
            child,
            api: format!("http://127.0.0.1:{port}/api/v1"),
            _dir: dir,
        }
    }

    /// The value of an instant query's single result, if it has one.
    async fn query(&self, client: &reqwest::Client, query: &str) -> Option<f64> {
        let response = client
            .get(format!("{}/query", self.api))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = response.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_server_scraping_during_load_counts_what_was_sent() {
    let server = TestServer::start(APP).await;
    let target = server.admin_base.trim_start_matches("http://").to_string();
    let prometheus = Prometheus::start(&target);
    // A bounded load: 8 clients, 300 requests in all, 10 of them to an unknown path.
    let mut clients = Vec::new();
    for client in 0..8 {
        let (http, base) = (server.client.clone(), server.base.clone());
        clients.push(tokio::spawn(async move {
            for n in 0..38 {
                let path = if n % 4 == 0 && client < 2 && n < 20 {
                    "/unknown".to_string()
                } else {
                    format!("/hello/c{client}")
                };
                let reply = http.get(format!("{base}{path}")).send().await.unwrap();
                assert!(reply.status().as_u16() == 200 || path == "/unknown");
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let sent_ok = 8 * 38 - 10;
    let client = reqwest::Client::new();
    let query = r#"sum(karman_http_requests_total{route="GET /hello/:name",status="200"})"#;
    let counted = eventually(
        "Prometheus to scrape every request",
        Duration::from_secs(60),
        || {
            let (prometheus, client) = (&prometheus, &client);
            async move {
                prometheus
                    .query(client, query)
                    .await
                    .filter(|value| *value == f64::from(sent_ok))
            }
        },
    )
    .await;
    assert_eq!(counted, f64::from(sent_ok));
    let unknown = prometheus
        .query(
            &client,
            r#"karman_http_requests_total{route="unmatched",status="404"}"#,
        )
        .await;
    assert_eq!(unknown, Some(10.0));
    let up = prometheus.query(&client, r#"up{job="karman"}"#).await;
    assert_eq!(up, Some(1.0), "the target is healthy");
}

#[test]
fn the_binary_serves_the_admin_listener_keeps_counting_across_a_reload_and_logs_each_request() {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    let admin_port = free_port();
    let admin = format!("127.0.0.1:{admin_port}");
    let binary = Binary::serve_file(&directive, "info", &[], &["--admin-listen", &admin]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = || {
        runtime.block_on(async {
            reqwest::get(format!("http://{admin}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let get = |path: &str| {
        runtime.block_on(async { reqwest::get(binary.url(path)).await.unwrap().status() })
    };
    assert_eq!(get("/hello/ada?x=secret"), 200);
    let text = metrics();
    let hellos = |n: u32| {
        format!(r#"karman_http_requests_total{{route="GET /hello/:name",status="200"}} {n}"#)
    };
    assert!(text.contains(&hellos(1)), "{text}");
    assert!(text.contains("karman_build_info{"), "{text}");

    // A reload (SIGHUP) keeps the counters.
    binary.hangup();
    binary.wait_for_log(Duration::from_secs(60), |entry| {
        entry["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("reloaded"))
    });
    assert_eq!(get("/hello/bob"), 200);
    let text = metrics();
    assert!(text.contains(&hellos(2)), "{text}");
    let access = binary.wait_for_logs(Duration::from_secs(5), 2, |entry| {
        entry["target"] == "karman::access"
    });
    assert_eq!(access.len(), 2, "one access-log line per request");
    let fields = &access[0]["fields"];
    assert_eq!(fields["method"], "GET");
    assert_eq!(fields["route"], "GET /hello/:name");
    assert_eq!(fields["status"], 200);
    assert!(fields["duration_ms"].as_f64().is_some(), "{fields}");
    assert_eq!(fields["request_id"].as_str().map(str::len), Some(32));
    assert!(
        !access[0].to_string().contains("secret"),
        "the query string is not logged"
    );
}
