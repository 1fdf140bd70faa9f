//! Backends that are down at start-up: a clear error by default; with a background connect,
//! Karman starts, reports them on `/health` (503) and fails their calls with `unavailable`
//! until they answer.

use std::time::Duration;

use karman::{Connect, Launch};
use karman_runtime::Backends;

use crate::support::{PrivateRedis, TestServer, app, eventually, free_port, runtime_config};

async fn serve_in_background(yaml: &str) -> TestServer {
    let launch = Launch {
        runtime: runtime_config(),
        connect: Connect::InBackground,
        ..Launch::default()
    };
    TestServer::launch(app(yaml), launch).await
}

fn cache_app(port: u16) -> String {
    format!(
        r#"
identifier: test.background
appVersion: v1
components:
  - {{ name: cache-user, source: guest(cache-user), capabilities: {{ cache: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /cache, steps: [ {{ fn: cache-user }} ] }}
connections:
  redis: {{ serverAddress: "127.0.0.1:{port}" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_at_start_up_is_retried_in_the_background() {
    let port = free_port();
    let yaml = cache_app(port);

    // By default, start-up fails, naming the connection and the address.
    let error = Backends::connect(&app(&yaml))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("test.yaml:9:"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");

    let server = serve_in_background(&yaml).await;
    let public = server.get("/health").await;
    assert_eq!(public.status, 503, "{}", public.body);
    assert_eq!(
        public.json(),
        serde_json::json!({ "status": "connecting" }),
        "the main listener names no backend and no address"
    );
    assert_eq!(server.get("/readyz").await.status, 503);
    assert_eq!(server.get("/livez").await.status, 200);
    let health = server.admin_get("/health").await;
    assert_eq!(health.status, 503, "{}", health.body);
    let body = health.json();
    assert_eq!(body["status"], "connecting");
    assert_eq!(body["backends"]["cache"]["state"], "connecting");
    assert!(
        body["backends"]["cache"]["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("127.0.0.1:{port}"))),
        "{body}"
    );
    let call = server.get("/cache?op=set&key=k&value=v").await;
    assert_eq!(call.status, 503, "{}", call.body);

    // Redis comes up: the next attempt connects, /health turns 200, calls work.
    let _redis = PrivateRedis::start(port);
    eventually("/health to turn 200", Duration::from_secs(30), || async {
        Some(server.get("/health").await).filter(|health| health.status == 200)
    })
    .await;
    assert_eq!(
        server.admin_get("/health").await.json()["backends"]["cache"]["state"],
        "ready"
    );
    assert_eq!(server.get("/cache?op=set&key=k&value=v").await.status, 200);
    let read = server.get("/cache?op=get&key=k").await;
    assert_eq!((read.status, read.body.as_str()), (200, "v"));
}

#[tokio::test]
async fn a_database_down_at_start_up_is_reported_and_its_calls_fail() {
    let port = free_port();
    let yaml = format!(
        r#"
identifier: test.background
appVersion: v1
components:
  - {{ name: sql-user, source: guest(sql-user), capabilities: {{ sql: {{ raw: true }} }} }}
handlers:
  - {{ type: request, method: POST, resource: /sql, steps: [ {{ fn: sql-user }} ] }}
connections:
  database:
    connectionString: "postgres://karman:secret-pw@127.0.0.1:{port}/test"
"#
    );
    let error = Backends::connect(&app(&yaml))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("test.yaml:10:"), "{error}");
    assert!(!error.contains("secret-pw"), "{error}");

    let server = serve_in_background(&yaml).await;
    let health = server.admin_get("/health").await;
    assert_eq!(health.status, 503, "{}", health.body);
    let state = &health.json()["backends"]["sql"];
    assert_eq!(state["state"], "connecting", "{state}");
    let message = state["error"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("secret-pw"), "{message}");

    let call = server.post("/sql?op=query-raw&sql=SELECT%201", "").await;
    assert_eq!(call.status, 503, "{}", call.body);
}
