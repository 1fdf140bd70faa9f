//! The conformance suite (`conformance/README.md`): one Directive, run against the conformance
//! Runnable of each guest language (Rust, JavaScript, Python); every case must answer the same
//! status, body and headers in every language.

use std::fmt::Write as _;

use crate::support::{Db, sqlite_file, unique};
use crate::support::{TestServer, repo_root};
use crate::upstream::Upstream;

const SECRET: &str = "conformance-secret";

/// The app around one language's component: `full` has every grant, `bare` none.
fn directive(component: &str, database: &str, upstream_port: u16) -> String {
    format!(
        r#"
identifier: test.conformance
appVersion: v1
static: conformance/static
connections: {{ database: {{ type: sqlite, connectionString: {database} }} }}
queries:
  - {{ name: insert-item, query: "INSERT INTO items (id, n) VALUES ($1, $2)" }}
  - {{ name: count-items, query: "SELECT COUNT(*) FROM items WHERE id = $1" }}
  - {{ name: select-item, query: "SELECT n FROM items WHERE id = $1" }}
authentication:
  domains: {{ "127.0.0.1": {{ headerType: bearer, value: {SECRET} }} }}
components:
  - name: full
    source: {component}
    capabilities:
      cache: {{ prefix: "conformance:" }}
      sql: {{ queries: [insert-item, count-items, select-item] }}
      http: {{ allow: ["127.0.0.1:{upstream_port}"], allowPrivate: true }}
      graphql: {{ allow: ["127.0.0.1:{upstream_port}"], allowPrivate: true }}
      files: {{ path: "public/" }}
    limits: {{ memory: 256MiB, timeout: 10s }}
  - name: bare
    source: {component}
    capabilities: {{ log: false }}
    limits: {{ memory: 256MiB, timeout: 10s }}
handlers:
  - {{ type: request, method: POST, resource: /run, steps: [ {{ fn: full }} ] }}
  - {{ type: request, method: GET, resource: /params/:id, steps: [ {{ fn: full }} ] }}
  - {{ type: request, method: POST, resource: /bare, steps: [ {{ fn: bare }} ] }}
  - type: request
    method: POST
    resource: /state
    steps: [ {{ fn: full, as: first }}, {{ fn: full, as: second }} ]
"#
    )
}

/// Runs every case against `server`; returns what came back, one block per case.
async fn run_cases(server: &TestServer, upstream: &Upstream, key: &str) -> String {
    let hello = upstream.url("/hello");
    let graphql = upstream.url("/graphql");
    let body_field = |field: &str, body: String| {
        server
            .client
            .post(server.url(&format!("/run?case=body-field&field={field}")))
            .body(body)
    };
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "echo",
            server
                .client
                .post(server.url("/run?case=echo"))
                .body(vec![0u8, 159, 146, 150, b'x']),
        ),
        (
            "params",
            server
                .client
                .get(server.url("/params/a%20b?case=params&q=x%2By")),
        ),
        (
            "params absent",
            server.client.get(server.url("/params/7?case=params")),
        ),
        (
            "headers",
            server
                .client
                .post(server.url("/run?case=headers"))
                .header("x-test", "hello"),
        ),
        (
            "headers absent",
            server.client.post(server.url("/run?case=headers")),
        ),
        ("state", server.client.post(server.url("/state?case=state"))),
        ("cache", server.client.post(server.url("/run?case=cache"))),
        (
            "sql",
            server
                .client
                .post(server.url(&format!("/run?case=sql&key={key}"))),
        ),
        (
            "http",
            server
                .client
                .post(server.url("/run?case=http"))
                .query(&[("url", hello.as_str())]),
        ),
        (
            "graphql",
            server
                .client
                .post(server.url("/run?case=graphql"))
                .query(&[("endpoint", graphql.as_str())])
                .body("{ greeting }"),
        ),
        (
            "log",
            server.client.post(server.url("/run?case=log")).body("line"),
        ),
        ("error", server.client.post(server.url("/run?case=error"))),
        (
            "file",
            server
                .client
                .post(server.url("/run?case=file&name=public/hello.txt")),
        ),
        (
            "file outside the grant",
            server
                .client
                .post(server.url("/run?case=file&name=private/secret.txt")),
        ),
        (
            "file escaping",
            server
                .client
                .post(server.url("/run?case=file&name=../Cargo.toml")),
        ),
        (
            "file missing",
            server
                .client
                .post(server.url("/run?case=file&name=public/missing.txt")),
        ),
        (
            "file denied",
            server
                .client
                .post(server.url("/bare?case=file&name=public/hello.txt")),
        ),
        (
            "body field",
            server
                .client
                .post(server.url("/run?case=body-field&field=name"))
                .body(r#"{"name": "Ada \"L\"", "n": 42.50}"#),
        ),
        (
            "body field json",
            server
                .client
                .post(server.url("/run?case=body-field&field=n"))
                .body(r#"{"name": "Ada", "n": 42.50}"#),
        ),
        (
            "body field unicode",
            body_field("%F0%9F%98%80x%C3%A9", r#"{"😀xé": "☕ and é"}"#.into()),
        ),
        // Three bytes of UTF-8 per UTF-16 unit, the most a JavaScript string lowers to.
        (
            "body field of three bytes per unit",
            body_field(
                &"%E2%98%95".repeat(300),
                format!(r#"{{"{}": 3}}"#, "☕".repeat(300)),
            ),
        ),
        // Past the 1,024 units JavaScript lowers in one pass.
        (
            "body field long",
            body_field(
                &"%C3%A9".repeat(1100),
                format!(r#"{{"{}": 2}}"#, "é".repeat(1100)),
            ),
        ),
        (
            "body field absent",
            server
                .client
                .post(server.url("/run?case=body-field&field=x"))
                .body("[1, 2]"),
        ),
        (
            "cache denied",
            server.client.post(server.url("/bare?case=cache-denied")),
        ),
        (
            "sql denied",
            server
                .client
                .post(server.url(&format!("/bare?case=sql-denied&key={key}-bare"))),
        ),
    ];
    let mut out = String::new();
    let mut exchanges: Vec<(String, reqwest::RequestBuilder)> = cases
        .into_iter()
        .map(|(name, request)| (name.to_string(), request))
        .collect();
    // An entry with a 100 ms TTL: there at once, gone 400 ms later.
    let ttl = |case: &str| server.client.post(server.url(&format!("/run?case={case}")));
    exchanges.push(("ttl set".into(), ttl("cache-ttl-set")));
    exchanges.push(("ttl get at once".into(), ttl("cache-ttl-get")));
    exchanges.push(("ttl get after expiry".into(), ttl("cache-ttl-get")));
    for (name, request) in exchanges {
        if name == "ttl get after expiry" {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get("x-conformance")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.bytes().await.unwrap();
        let body = match serde_json::from_slice::<serde_json::Value>(&body) {
            // Error bodies: the request id differs by nature.
            Ok(serde_json::Value::Object(mut error)) if error.contains_key("requestId") => {
                error.remove("requestId");
                serde_json::Value::Object(error).to_string()
            }
            _ => match std::str::from_utf8(&body) {
                Ok(text) => format!("{text:?}"),
                Err(_) => format!("bytes {:?}", body.as_ref()),
            },
        };
        let _ = writeln!(out, "{name}: {status} {body} x-conformance={header:?}");
    }
    out
}

/// What every language must answer, case by case.
const EXPECTED: &str = r#"echo: 200 bytes [0, 159, 146, 150, 120] x-conformance=None
params: 200 "id=a b;q=x+y;method=GET;url=/params/a%20b?case=params&q=x%2By" x-conformance=None
params absent: 200 "id=7;q=-;method=GET;url=/params/7?case=params" x-conformance=None
headers: 201 "x-test=hello" x-conformance=Some("hello")
headers absent: 201 "x-test=-" x-conformance=Some("-")
state: 200 "first=one" x-conformance=None
cache: 200 "set;get=v;delete;get=none" x-conformance=None
sql: 200 "committed=1;rolled-back=0;n=7" x-conformance=None
http: 200 "status=200;body=hello from upstream" x-conformance=None
graphql: 200 "data={\"greeting\":\"hello nobody\"}" x-conformance=None
log: 200 "logged" x-conformance=None
error: 418 {"code":418,"message":"teapot"} x-conformance=None
file: 200 "file=hello static" x-conformance=None
file outside the grant: 403 {"code":403,"message":"file: `private/secret.txt` is outside `public/`, the part of the static files this component is granted"} x-conformance=None
file escaping: 400 {"code":400,"message":"file: `../Cargo.toml` has a `..` segment"} x-conformance=None
file missing: 404 {"code":404,"message":"file: no static file `public/missing.txt`"} x-conformance=None
file denied: 403 {"code":403,"message":"file: this component is not granted the `files` capability"} x-conformance=None
body field: 200 "value=Ada \"L\"" x-conformance=None
body field json: 200 "value=42.5" x-conformance=None
body field unicode: 200 "value=☕ and é" x-conformance=None
body field of three bytes per unit: 200 "value=3" x-conformance=None
body field long: 200 "value=2" x-conformance=None
body field absent: 200 "value=-" x-conformance=None
cache denied: 403 {"code":403,"message":"cache: this component is not granted the cache capability"} x-conformance=None
sql denied: 403 {"code":403,"message":"sql: this component is not granted the sql capability"} x-conformance=None
ttl set: 200 "set" x-conformance=None
ttl get at once: 200 "get=v" x-conformance=None
ttl get after expiry: 200 "get=none" x-conformance=None
"#;

async fn conforms(language: &str) {
    let component = repo_root()
        .join("target/wasm32-wasip2/guest")
        .join(format!("conformance_{language}.wasm"));
    assert!(
        component.exists(),
        "{} is missing: run scripts/build-guests",
        component.display()
    );
    let database = sqlite_file();
    Db::Sqlite
        .setup(
            &database,
            &["CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)".to_string()],
        )
        .await;
    let upstream = Upstream::start().await;
    let yaml = directive(
        &component.display().to_string(),
        &repo_root().join(&database).display().to_string(),
        upstream.port,
    );
    let server = TestServer::start(&yaml).await;
    let key = unique("item");
    let seen = run_cases(&server, &upstream, &key).await;
    assert_eq!(
        seen, EXPECTED,
        "{language} does not conform (left: what it answered)"
    );
    let calls = upstream.seen();
    assert!(
        calls
            .iter()
            .all(|call| call.header("authorization") == Some(&format!("Bearer {SECRET}"))),
        "the host adds the credential to every {language} call: {calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_runnable_conforms() {
    conforms("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_runnable_conforms() {
    conforms("js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_runnable_conforms() {
    conforms("python").await;
}
