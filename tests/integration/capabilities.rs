//! The capability API as guests see it: `req`, `resp`, `cache` grants, and the sandbox.

use std::time::Duration;

use crate::support::{PrivateRedis, TestServer, Watched, eventually, free_port, unique};

const APP: &str = r#"
identifier: test.capabilities
appVersion: v1
components:
  - { name: inspect, source: guest(inspect) }
  - { name: set-response, source: guest(set-response) }
  - { name: no-grant, source: guest(cache-user) }
  - { name: shared, source: guest(cache-user), capabilities: { cache: true } }
  - { name: users-a, source: guest(cache-user), capabilities: { cache: { prefix: "users:" } } }
  - { name: users-b, source: guest(cache-user), capabilities: { cache: { prefix: "users:" } } }
  - { name: orders, source: guest(cache-user), capabilities: { cache: { prefix: "orders:" } } }
  - { name: sandbox-probe, source: guest(sandbox-probe) }
handlers:
  - { type: request, method: POST, resource: /inspect/:name, steps: [ { fn: inspect } ] }
  - { type: request, method: GET, resource: /respond, steps: [ { fn: set-response } ] }
  - { type: request, method: GET, resource: /cache/no-grant, steps: [ { fn: no-grant } ] }
  - { type: request, method: GET, resource: /cache/shared, steps: [ { fn: shared } ] }
  - { type: request, method: GET, resource: /cache/users-a, steps: [ { fn: users-a } ] }
  - { type: request, method: GET, resource: /cache/users-b, steps: [ { fn: users-b } ] }
  - { type: request, method: GET, resource: /cache/orders, steps: [ { fn: orders } ] }
  - { type: request, method: GET, resource: /probe, steps: [ { fn: sandbox-probe } ] }
"#;

#[tokio::test]
async fn req_exposes_method_url_params_query_headers_and_body() {
    let server = TestServer::start(APP).await;
    let reply = server
        .client
        .post(server.url("/inspect/J%C3%BCrgen?q=a%20b&q=second"))
        .header("x-test", "present")
        .header("x-request-id", "client-id-1")
        .body("payload")
        .send()
        .await
        .unwrap();
    let seen: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["url"], "/inspect/J%C3%BCrgen?q=a%20b&q=second");
    assert_eq!(seen["id"], "client-id-1");
    assert_eq!(seen["param"], "Jürgen");
    assert_eq!(seen["query"], "a b");
    assert_eq!(seen["header"], "present");
    assert_eq!(seen["body"], "payload");
    assert_eq!(seen["state"], serde_json::json!({}));
}

#[tokio::test]
async fn resp_sets_status_and_headers_but_not_host_headers() {
    let server = TestServer::start(APP).await;
    let reply = server
        .get("/respond?status=201&header=x-custom&value=yes")
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.header("x-custom"), Some("yes"));
    assert_eq!(reply.body, "response set");

    let reply = server
        .get("/respond?header=x-request-id&value=forged")
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_ne!(reply.header("x-request-id"), Some("forged"));

    let reply = server.get("/respond?header=bad%20name&value=x").await;
    assert_eq!(reply.status, 400);
    let reply = server.get("/respond?status=999").await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn cache_calls_without_a_grant_are_denied() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/cache/no-grant?op=get&key=k").await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["message"],
        "cache: this component is not granted the cache capability"
    );
}

/// The cache backends every cache behaviour is checked on.
const MEMORY: &str = "";
const REDIS: &str = "connections: { redis: { serverAddress: 127.0.0.1:6379 } }\n";

async fn cache_server(connections: &str) -> TestServer {
    TestServer::start(&format!("{APP}{connections}")).await
}

async fn values_are_stored_read_and_deleted(connections: &str) {
    let server = cache_server(connections).await;
    let key = unique("color");
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=set&key={key}&value=teal"))
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .body,
        "teal"
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=delete&key={key}"))
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .status,
        404
    );
}

async fn values_expire_after_their_ttl(connections: &str) {
    let server = cache_server(connections).await;
    let key = unique("short");
    let reply = server
        .get(&format!(
            "/cache/shared?op=set&key={key}&value=lived&ttl=200"
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .body,
        "lived"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .status,
        404
    );
}

async fn a_prefix_confines_a_component_to_its_own_keys(connections: &str) {
    let server = cache_server(connections).await;
    let key = unique("42");
    server
        .get(&format!("/cache/users-a?op=set&key={key}&value=ada"))
        .await;
    // The same prefix shares the keys.
    assert_eq!(
        server
            .get(&format!("/cache/users-b?op=get&key={key}"))
            .await
            .body,
        "ada"
    );
    // Another prefix, or none, cannot reach them, even by spelling the prefix out.
    assert_eq!(
        server
            .get(&format!("/cache/orders?op=get&key={key}"))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key=users:{key}"))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key=users:%00{key}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn in_memory_cache_values_are_stored_read_and_deleted() {
    values_are_stored_read_and_deleted(MEMORY).await;
}

#[tokio::test]
async fn redis_cache_values_are_stored_read_and_deleted() {
    values_are_stored_read_and_deleted(REDIS).await;
}

#[tokio::test]
async fn in_memory_cache_values_expire_after_their_ttl() {
    values_expire_after_their_ttl(MEMORY).await;
}

#[tokio::test]
async fn redis_cache_values_expire_after_their_ttl() {
    values_expire_after_their_ttl(REDIS).await;
}

#[tokio::test]
async fn in_memory_cache_prefixes_confine_components_to_their_own_keys() {
    a_prefix_confines_a_component_to_its_own_keys(MEMORY).await;
}

#[tokio::test]
async fn redis_cache_prefixes_confine_components_to_their_own_keys() {
    a_prefix_confines_a_component_to_its_own_keys(REDIS).await;
}

#[tokio::test]
async fn a_redis_that_cannot_be_reached_fails_at_start_up_naming_it() {
    let yaml = format!(
        "{APP}connections:\n  redis: {{ serverAddress: 127.0.0.1:1, password: hunter2 }}\n"
    );
    let line = yaml
        .lines()
        .position(|l| l.starts_with("  redis:"))
        .unwrap()
        + 1;
    let app = crate::support::app(&yaml);
    let error = karman_runtime::CacheBackend::for_connections(&app.connections)
        .await
        .unwrap_err()
        .to_string();
    let expected = format!("test.yaml:{line}:12: cannot connect to Redis at redis://127.0.0.1:1");
    assert!(error.starts_with(&expected), "{error}");
    assert!(!error.contains("hunter2"), "the password leaked: {error}");
}

#[tokio::test]
async fn a_component_sees_no_environment_files_or_sockets() {
    // A real listener the probe will try to reach.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The host has environment variables; the guest must see none of them.
    assert!(std::env::vars().count() > 0);

    let server = TestServer::start(APP).await;
    let seen = server.get(&format!("/probe?port={port}")).await.json();
    assert_eq!(seen["env"], 0);
    assert_eq!(seen["args"], 0);
    assert_eq!(seen["root"], "unreachable");
    assert_eq!(seen["passwd"], "unreachable");
    assert_eq!(seen["cwd"], "unreachable");
    assert_eq!(seen["tcp"], "unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_recovers_when_redis_restarts() {
    let port = free_port();
    let redis = PrivateRedis::start(port);
    let server = cache_server(&format!(
        "connections: {{ redis: {{ serverAddress: 127.0.0.1:{port} }} }}\n"
    ))
    .await;
    assert_eq!(
        server
            .get("/cache/shared?op=set&key=k&value=before")
            .await
            .status,
        200
    );

    drop(redis);
    let reply = server.get("/cache/shared?op=get&key=k").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(
        reply.json()["message"],
        "cache: the cache backend is unavailable"
    );

    let _redis = PrivateRedis::start(port);
    eventually("the cache to recover", Duration::from_secs(15), || async {
        let reply = server.get("/cache/shared?op=set&key=k&value=after").await;
        (reply.status == 200).then_some(())
    })
    .await;
    assert_eq!(server.get("/cache/shared?op=get&key=k").await.body, "after");
}

/// Why the cache backend of [`APP`] with `connections` (a `connections:` line) cannot connect.
async fn cache_connect_error(connections: &str) -> String {
    let app = crate::support::app(&format!("{APP}{connections}"));
    karman_runtime::CacheBackend::for_connections(&app.connections)
        .await
        .unwrap_err()
        .to_string()
}

/// A private `redis-server` that speaks only TLS, with a certificate made here (trusted
/// through `caFile`) and an ACL user `alice` whose password is `secret-pw-4711`.
struct TlsRedis {
    /// Declared first: killed before its directory is removed.
    _process: Watched,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsRedis {
    fn start() -> Self {
        Self::start_with(false)
    }

    /// With `verify_clients`, it takes only clients with the certificate `client.pem` (whose
    /// key is `client-key.pem`, both in its directory).
    fn start_with(verify_clients: bool) -> Self {
        let dir = std::env::temp_dir().join(unique("karman-redis-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        let client = rcgen::generate_simple_self_signed(vec!["karman-client".into()]).unwrap();
        std::fs::write(dir.join("client.pem"), client.cert.pem()).unwrap();
        std::fs::write(
            dir.join("client-key.pem"),
            client.signing_key.serialize_pem(),
        )
        .unwrap();
        let (client_ca, auth_clients) = if verify_clients {
            ("client.pem", "yes")
        } else {
            ("cert.pem", "no")
        };
        let port = free_port();
        let file = |name: &str| dir.join(name).display().to_string();
        let args: Vec<String> = [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            &file("cert.pem"),
            "--tls-key-file",
            &file("key.pem"),
            "--tls-ca-cert-file",
            &file(client_ca),
            "--tls-auth-clients",
            auth_clients,
            "--user",
            "alice",
            "on",
            ">secret-pw-4711",
            "~*",
            "+@all",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let process = Watched::start("redis-server (TLS)", "redis-server", &args, port);
        Self {
            _process: process,
            port,
            dir,
        }
    }

    fn connections(&self, password: &str) -> String {
        format!(
            "connections: {{ redis: {{ serverAddress: \"rediss://127.0.0.1:{}\", username: alice, password: \"{password}\", caFile: \"{}\" }} }}\n",
            self.port,
            self.dir.join("cert.pem").display()
        )
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn the_cache_works_through_rediss_with_an_acl_user_and_a_private_ca() {
    let redis = TlsRedis::start();
    let server = cache_server(&redis.connections("secret-pw-4711")).await;
    let key = unique("tls");
    let reply = server
        .get(&format!("/cache/shared?op=set&key={key}&value=over-tls"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .body,
        "over-tls"
    );
}

#[tokio::test]
async fn the_cache_works_through_rediss_with_a_client_certificate() {
    let redis = TlsRedis::start_with(true);
    let file = |name: &str| redis.dir.join(name).display().to_string();
    let connections = |client: &str| {
        format!(
            "connections: {{ redis: {{ serverAddress: \"rediss://127.0.0.1:{}\", username: alice, password: secret-pw-4711, caFile: \"{}\"{client} }} }}\n",
            redis.port,
            file("cert.pem"),
        )
    };
    let with_certificate = connections(&format!(
        ", certFile: \"{}\", keyFile: \"{}\"",
        file("client.pem"),
        file("client-key.pem")
    ));
    let server = cache_server(&with_certificate).await;
    let key = unique("mtls");
    let reply = server
        .get(&format!("/cache/shared?op=set&key={key}&value=mutual"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        server
            .get(&format!("/cache/shared?op=get&key={key}"))
            .await
            .body,
        "mutual"
    );
    // Without it, the server ends the handshake.
    let error = cache_connect_error(&connections("")).await;
    assert!(
        error.contains(&format!(
            "cannot connect to Redis at rediss://127.0.0.1:{}",
            redis.port
        )),
        "{error}"
    );
    // A key file that holds no key is named.
    let swapped = connections(&format!(
        ", certFile: \"{}\", keyFile: \"{}\"",
        file("client.pem"),
        file("client.pem")
    ));
    let error = cache_connect_error(&swapped).await;
    assert!(
        error.contains(&format!(
            "the Redis client key {} holds no PEM private key",
            file("client.pem")
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_redis_password_fails_at_start_up_without_showing_it() {
    let redis = TlsRedis::start();
    let error = cache_connect_error(&redis.connections("wrong-pw-0815")).await;
    assert!(
        error.contains(&format!(
            "cannot connect to Redis at rediss://127.0.0.1:{}",
            redis.port
        )),
        "{error}"
    );
    // Redis refused the password (the TLS handshake itself succeeded).
    assert!(error.contains("Password authentication failed"), "{error}");
    assert!(
        !error.contains("wrong-pw-0815"),
        "the password leaked: {error}"
    );
    assert!(!error.contains("secret-pw-4711"), "{error}");
}

#[tokio::test]
async fn a_redis_ca_file_that_cannot_be_read_is_named_in_the_error() {
    let error = cache_connect_error(
        "connections: { redis: { serverAddress: \"rediss://127.0.0.1:1\", caFile: /nonexistent/redis-ca.pem } }\n",
    )
    .await;
    assert!(
        error.contains("cannot read the Redis CA file /nonexistent/redis-ca.pem"),
        "{error}"
    );
}
