//! The standard interfaces under Karman's grants: `wasi:keyvalue` on the cache (same grant,
//! same prefix, same values as `karman:runnable/cache`, in memory and on Redis),
//! `wasi:config/store` from the Directive's `config:`, `wasi:logging` through the `log` grant,
//! and `karman serve x.wasm -S …` as `wasmtime serve` takes it. The components
//! (`components/kv-portable`, `components/wasi-logger`) import no Karman interface.

use crate::support::{Binary, TestServer, client, guest, unique};

/// `portable` and `other-prefix` are the same standard component with different grants;
/// `same-prefix` is a Runnable on `karman:runnable/cache` with `portable`'s prefix.
fn app(prefix: &str, connections: &str) -> String {
    format!(
        r#"
identifier: test.standard
appVersion: v1
components:
  - name: portable
    source: guest(kv-portable)
    capabilities: {{ cache: {{ prefix: "{prefix}" }} }}
    config: {{ greeting: Hello, retries: 3, enabled: true, empty: "" }}
  - {{ name: other-prefix, source: guest(kv-portable), capabilities: {{ cache: {{ prefix: "{prefix}other" }} }} }}
  - {{ name: no-grant, source: guest(kv-portable) }}
  - {{ name: same-prefix, source: guest(cache-user), capabilities: {{ cache: {{ prefix: "{prefix}" }} }} }}
handlers:
  - {{ type: request, method: GET, resource: /cache, steps: [ {{ fn: same-prefix }} ] }}
routes:
  - plugin: portable
    component: portable
    endpoints:
      - {{ method: GET, path: "/kv/:op", auth: public }}
      - {{ method: GET, path: /config, auth: public }}
      - {{ method: GET, path: /config/get, auth: public }}
  - {{ plugin: other, component: other-prefix, endpoints: [ {{ method: GET, path: "/kv/:op", auth: public }}, {{ method: GET, path: /config, auth: public }} ] }}
  - {{ plugin: denied, component: no-grant, endpoints: [ {{ method: GET, path: "/kv/:op", auth: public }} ] }}
{connections}"#
    )
}

const REDIS: &str = "connections: { redis: { serverAddress: 127.0.0.1:6379 } }\n";

/// GET `path`: the status and the body.
async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let reply = server.get(path).await;
    (reply.status, reply.body)
}

async fn keyvalue_is_the_cache_under_the_same_grant(connections: &str) {
    // A prefix of its own: Redis is shared with other tests and runs.
    let prefix = format!("{}:", unique("kv"));
    let server = TestServer::start(&app(&prefix, connections)).await;
    let kv = |op: &str| format!("/ext/portable/kv/{op}");

    assert_eq!(get(&server, &kv("get?key=a")).await, (404, "absent".into()));
    assert_eq!(
        get(&server, &kv("set?key=a&value=1")).await,
        (200, "stored".into())
    );
    assert_eq!(get(&server, &kv("get?key=a")).await, (200, "1".into()));
    assert_eq!(
        get(&server, &kv("exists?key=a")).await,
        (200, "true".into())
    );
    assert_eq!(
        get(&server, &kv("exists?key=zz")).await,
        (200, "false".into())
    );

    // The same key space as karman:runnable/cache with the same prefix, both ways.
    assert_eq!(get(&server, "/cache?op=get&key=a").await, (200, "1".into()));
    assert_eq!(get(&server, "/cache?op=set&key=b&value=2").await.0, 200);
    assert_eq!(get(&server, &kv("get?key=b")).await, (200, "2".into()));
    // Another prefix cannot reach it.
    assert_eq!(
        get(&server, "/ext/other/kv/get?key=a").await,
        (404, "absent".into())
    );

    // Atomics: counting from zero, stored as digits the cache interface reads.
    assert_eq!(
        get(&server, &kv("incr?key=n&by=5")).await,
        (200, "5".into())
    );
    assert_eq!(
        get(&server, &kv("incr?key=n&by=2")).await,
        (200, "7".into())
    );
    assert_eq!(get(&server, "/cache?op=get&key=n").await, (200, "7".into()));
    assert_eq!(get(&server, &kv("set?key=s&value=abc")).await.0, 200);
    let (status, body) = get(&server, &kv("incr?key=s&by=1")).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("other: "), "{body}");

    // Batches.
    assert_eq!(get(&server, &kv("set-many?pairs=x:1,y:2")).await.0, 200);
    assert_eq!(
        get(&server, &kv("get-many?keys=x,y,zz")).await,
        (200, "x=1\ny=2\nzz absent".into())
    );
    assert_eq!(get(&server, &kv("delete-many?keys=x,y,s")).await.0, 200);
    assert_eq!(
        get(&server, &kv("exists?key=x")).await,
        (200, "false".into())
    );

    // Listing shows this space's keys only, without the prefix.
    assert_eq!(get(&server, &kv("keys")).await, (200, "a\nb\nn".into()));
    assert_eq!(
        get(&server, "/ext/other/kv/keys").await,
        (200, String::new())
    );
    assert_eq!(get(&server, &kv("delete?key=a")).await.0, 200);
    assert_eq!(get(&server, &kv("get?key=a")).await.0, 404);

    // Buckets: "" and "default" are the component's space; no other exists.
    assert_eq!(
        get(&server, &kv("open?name=default")).await,
        (200, "opened".into())
    );
    assert_eq!(
        get(&server, &kv("open?name=elsewhere")).await,
        (404, "no-such-store".into())
    );
    // No cache grant: open is refused, whatever the bucket.
    assert_eq!(
        get(&server, "/ext/denied/kv/get?key=a").await,
        (403, "access-denied".into())
    );
    assert_eq!(
        get(&server, "/ext/denied/kv/open?name=default").await,
        (403, "access-denied".into())
    );
}

#[tokio::test]
async fn in_memory_keyvalue_is_the_cache_under_the_same_grant() {
    keyvalue_is_the_cache_under_the_same_grant("").await;
}

#[tokio::test]
async fn redis_keyvalue_is_the_cache_under_the_same_grant() {
    keyvalue_is_the_cache_under_the_same_grant(REDIS).await;
}

/// 2,500 keys, more than a page: `list-keys` pages through them all, once each.
async fn listing_pages_through_every_key_once(connections: &str) {
    let prefix = format!("{}:", unique("pages"));
    let server = TestServer::start(&app(&prefix, connections)).await;
    let expected: Vec<String> = (0..2500).map(|i| format!("k{i:05}")).collect();
    for batch in expected.chunks(500) {
        let pairs: Vec<String> = batch.iter().map(|key| format!("{key}:v")).collect();
        let (status, body) = get(
            &server,
            &format!("/ext/portable/kv/set-many?pairs={}", pairs.join(",")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(expected.len(), 2500);
    let (status, body) = get(&server, "/ext/portable/kv/keys").await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = body.lines().collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn in_memory_listing_pages_through_every_key_once() {
    listing_pages_through_every_key_once("").await;
}

#[tokio::test]
async fn redis_listing_pages_through_every_key_once() {
    listing_pages_through_every_key_once(REDIS).await;
}

#[tokio::test]
async fn a_batch_larger_than_the_limit_is_refused_whole() {
    let prefix = format!("{}:", unique("batch"));
    let server = TestServer::start(&app(&prefix, "")).await;
    let pairs: Vec<String> = (0..1001).map(|i| format!("k{i}:v")).collect();
    let (status, body) = get(
        &server,
        &format!("/ext/portable/kv/set-many?pairs={}", pairs.join(",")),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body, "other: a batch of 1001 keys is larger than 1000");
    assert_eq!(
        get(&server, "/ext/portable/kv/keys").await,
        (200, String::new())
    );
}

#[tokio::test]
async fn config_answers_what_the_directive_declares_for_the_component_and_nothing_else() {
    let server = TestServer::start(&app("config:", "")).await;
    assert_eq!(
        get(&server, "/ext/portable/config").await,
        (
            200,
            "greeting=Hello\nretries=3\nenabled=true\nempty=".into()
        )
    );
    assert_eq!(
        get(&server, "/ext/portable/config/get?key=retries").await,
        (200, "3".into())
    );
    // Never the host's environment.
    for key in ["HOME", "PATH", "KARMAN_LOG"] {
        assert_eq!(
            get(&server, &format!("/ext/portable/config/get?key={key}")).await,
            (404, "unset".into())
        );
    }
    // Another component has its own configuration: none here.
    assert_eq!(
        get(&server, "/ext/other/config").await,
        (200, String::new())
    );
}

#[tokio::test]
async fn wasi_logging_reaches_the_host_log_under_the_log_grant() {
    let yaml = r#"
identifier: test.logging
appVersion: v1
components:
  - { name: wasi-logger, source: guest(wasi-logger) }
  - { name: quiet, source: guest(wasi-logger), capabilities: { log: false } }
routes:
  - { plugin: loud, component: wasi-logger, endpoints: [ { method: GET, path: /, auth: public } ] }
  - { plugin: quiet, component: quiet, endpoints: [ { method: GET, path: /, auth: public } ] }
"#;
    let binary = Binary::serve_with(yaml, "info", &[]);
    for (query, id) in [
        ("?n=2&level=warn&context=billing", "wasi-log-1"),
        ("?n=1&level=critical", "wasi-log-2"),
        ("?n=1&level=debug", "wasi-log-3"),
    ] {
        let reply = client()
            .get(binary.url(&format!("/ext/loud/{query}")))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    let quiet = client()
        .get(binary.url("/ext/quiet/?n=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(quiet.text().await.unwrap(), "logged 3");
    let lines = binary.wait_for_logs(std::time::Duration::from_secs(5), 3, |e| {
        e["target"] == "karman::guest" && e["fields"]["source"] == "wasi:logging"
    });
    let seen: Vec<(String, String, String)> = lines
        .iter()
        .map(|e| {
            (
                e["fields"]["request_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["level"].as_str().unwrap_or_default().to_string(),
                e["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let expected = [
        ("wasi-log-1", "WARN", "billing: line 0"),
        ("wasi-log-1", "WARN", "billing: line 1"),
        // `critical` is an error; `debug` is below the `info` filter.
        ("wasi-log-2", "ERROR", "line 0"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, expected, "only the loud component's lines, tagged");
    assert!(
        lines
            .iter()
            .all(|e| e["fields"]["component"] == "wasi-logger")
    );
}

#[tokio::test]
async fn serving_a_component_takes_wasmtime_serve_s_options() {
    let component = guest("kv-portable");
    let options = [crate::wasmtime_serve::STANDARD_OPTIONS, &["-S", "cli"]].concat();
    let binary = Binary::serve_file(&component, "info", &[], &options);
    let body = |path: &str| {
        let url = binary.url(path);
        async move {
            let reply = client().get(url).send().await.unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    };
    assert_eq!(
        body("/kv/roundtrip?key=k&value=v").await,
        (
            200,
            "read v\nincremented to 2\nexists true\nafter delete false".into()
        )
    );
    assert_eq!(body("/kv/set?key=kept&value=1").await.0, 200);
    assert_eq!(body("/kv/get?key=kept").await, (200, "1".into()));
    assert_eq!(body("/config").await, (200, "greeting=hi".into()));
    drop(binary);

    // Without -S keyvalue the component has no cache: open is refused.
    let bare = Binary::serve_file(&component, "info", &[], &[]);
    let reply = client()
        .get(bare.url("/kv/get?key=kept"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    assert_eq!(reply.text().await.unwrap(), "access-denied");
}

#[test]
fn an_unknown_s_option_or_one_given_with_a_directive_is_refused() {
    let karman = env!("CARGO_BIN_EXE_karman");
    let component = guest("kv-portable");
    let output = std::process::Command::new(karman)
        .args(["serve", "-S", "tcp"])
        .arg(&component)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown -S option `tcp`") && stderr.contains("-S keyvalue"),
        "{stderr}"
    );

    let output = std::process::Command::new(karman)
        .args(["serve", "-S", "keyvalue"])
        .arg(crate::support::repo_root().join("examples/hello/Directive.yaml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-S does nothing when serving a Directive"),
        "{stderr}"
    );
}
