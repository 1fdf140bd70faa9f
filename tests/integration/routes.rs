//! `wasi:http` components: served whole (`karman serve component.wasm`, as `wasmtime serve`
//! does), and as custom routes at `/ext/<plugin>/…` with JWT auth, rate limits, body caps,
//! timeouts and SQL transactions (the `billing` plugin) on SQLite, PostgreSQL and MariaDB.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use karman::{Launch, ServerConfig, Serving};
use karman_directive::{App, Limits};
use karman_runtime::Runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Db, sqlite_file, unique};
use crate::support::{TestServer, client, guest, repo_root, runtime_config};

// ---------------------------------------------------------------------------------------------
// serving a component, as `wasmtime serve` does

pub(crate) async fn serve_component(
    crate_name: &str,
    timeout: Duration,
    max_body: u64,
) -> TestServer {
    serve_component_with(crate_name, timeout, max_body, runtime_config()).await
}

async fn serve_component_with(
    crate_name: &str,
    timeout: Duration,
    max_body: u64,
    runtime_config: karman_runtime::RuntimeConfig,
) -> TestServer {
    let limits = Limits {
        timeout,
        memory: 64 << 20,
    };
    let app = App::serving_component(&guest(crate_name), limits).unwrap();
    let launch = Launch {
        runtime: runtime_config,
        server: ServerConfig {
            max_body_bytes: max_body,
            ..ServerConfig::default()
        },
        serving: Serving::Component,
        ..Launch::default()
    };
    TestServer::launch(app, launch).await
}

/// A raw HTTP/1.1 exchange: what the server wrote, byte for byte (to see chunks and trailers).
async fn raw_exchange(server: &TestServer, request: &str) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_wasi_http_component_answers_every_path_itself() {
    let server = serve_component("http-echo", Duration::from_secs(2), 1024).await;

    let hello = server.get("/hello").await;
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "hello from wasi:http")
    );
    assert_eq!(hello.header("x-served-by"), Some("http-echo"));
    assert!(hello.header("x-request-id").is_some());

    let echoed = client()
        .post(server.url("/echo"))
        .header("content-type", "application/x-test")
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(echoed.headers()["content-type"], "application/x-test");
    assert_eq!(echoed.text().await.unwrap(), "ping");

    let seen = client()
        .get(server.url("/inspect?x=1"))
        .header("x-custom", "yes")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        seen.contains("method: GET\npath: /inspect?x=1\nscheme: http\n"),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "authority: {}",
            server.base.trim_start_matches("http://")
        )),
        "{seen}"
    );
    assert!(seen.contains("header x-custom: yes"), "{seen}");

    assert_eq!(server.get("/status/418").await.status, 418);
    let missing = server.get("/nowhere").await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, "not found: /nowhere")
    );
    assert_eq!(
        server.get("/health").await.status,
        404,
        "every path is the component's"
    );
}

#[tokio::test]
async fn a_streamed_response_arrives_chunk_by_chunk_with_its_trailers() {
    let server = serve_component("http-echo", Duration::from_secs(2), 1024).await;
    let answer = raw_exchange(
        &server,
        "GET /stream?chunks=3 HTTP/1.1\r\nHost: karman.test\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    for i in 0..3 {
        assert!(body.contains(&format!("chunk {i}\n")), "{body}");
    }
    assert!(
        body.ends_with("0\r\nx-chunks: 3\r\n\r\n"),
        "trailers after the last chunk: {body:?}"
    );
}

#[tokio::test]
async fn traps_error_codes_timeouts_and_oversize_bodies_are_errors_never_200() {
    let server = serve_component("http-echo", Duration::from_millis(500), 1024).await;

    let trapped = server.get("/trap").await;
    assert_eq!(trapped.status, 500, "{}", trapped.body);
    assert_eq!(trapped.json()["message"], "component `http_echo` trapped");

    let refused = server.get("/error").await;
    assert_eq!(refused.status, 500, "{}", refused.body);

    let started = std::time::Instant::now();
    let slow = server.get("/sleep?ms=5000").await;
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout ends the request"
    );

    let large = server.post("/echo", vec![b'x'; 2048]).await;
    assert_eq!(large.status, 413, "{}", large.body);
    let small = server.post("/echo", vec![b'x'; 1024]).await;
    assert_eq!(small.status, 200, "the cap itself is allowed");

    // The server is unharmed.
    assert_eq!(server.get("/hello").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_instance_limit_get_503_and_in_flight_ones_finish_on_shutdown() {
    let mut config = runtime_config();
    config.engine.max_instances = 1;
    let mut server = serve_component_with("http-echo", Duration::from_secs(5), 1024, config).await;
    let slow = tokio::spawn(client().get(server.url("/sleep?ms=1500")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let busy = server.get("/hello").await;
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));

    // A graceful shutdown lets the request in flight finish.
    let stopped = server.signal_shutdown();
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), "slept");
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_runnable_cannot_be_served_as_a_wasi_http_component_nor_the_reverse() {
    let limits = Limits {
        timeout: Duration::from_secs(1),
        memory: 64 << 20,
    };
    let app = App::serving_component(&guest("hello"), limits).unwrap();
    let runtime = Runtime::load(app, runtime_config()).unwrap();
    assert!(!runtime.reports()[0].serves_http);

    let app = crate::support::app(
        r#"
identifier: test.roles
appVersion: v1
components:
  - { name: echo, source: guest(http-echo) }
handlers:
  - { type: request, method: GET, resource: /x, steps: [ { fn: echo } ] }
"#,
    );
    let error = Runtime::load(app, runtime_config())
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("test.yaml:7:60: component `echo`: this step runs a wasi:http component"),
        "{error}"
    );

    let app = crate::support::app(
        r#"
identifier: test.roles
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
routes:
  - { plugin: hi, component: hello, endpoints: [ { method: GET, path: /, auth: public } ] }
"#,
    );
    let error = Runtime::load(app, runtime_config())
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("component `hello`: plugin `hi` needs a component that exports `wasi:http/incoming-handler`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// custom routes: the billing plugin

const SECRET: &str = "billing-test-secret-of-at-least-32-bytes";
const ISSUER: &str = "https://id.karman.test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims for `sub` with `roles`, valid for a minute.
fn claims(sub: &str, roles: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "sub": sub,
        "roles": roles,
        "iss": ISSUER,
        "aud": "billing",
        "exp": now() + 60,
        "iat": now(),
    })
}

fn hs256(claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures/jwt").join(name)).unwrap()
}

struct Billing {
    db: Db,
    file: String,
    accounts: String,
    ledger: String,
    server: TestServer,
}

/// The billing plugin over a fresh `accounts` (account 1 holds `balance`) and `ledger`.
async fn billing(db: Db, balance: i64, jwt: &str) -> Billing {
    let file = sqlite_file();
    let (accounts, ledger) = (unique("accounts"), unique("ledger"));
    db.setup(
        &file,
        &[
            format!("CREATE TABLE {accounts} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)"),
            format!("CREATE TABLE {ledger} (idem VARCHAR(64) PRIMARY KEY, account BIGINT NOT NULL, amount BIGINT NOT NULL)"),
            format!("INSERT INTO {accounts} (id, balance) VALUES (1, {balance})"),
        ],
    )
    .await;
    let p = |n| db.p(n);
    let (p1, p2, p3) = (p(1), p(2), p(3));
    let yaml = format!(
        r#"
identifier: test.billing
appVersion: v1
{connection}queries:
  - {{ name: read-balance, query: "SELECT balance FROM {accounts} WHERE id = {p1}" }}
  - {{ name: find-debit, query: "SELECT amount FROM {ledger} WHERE idem = {p1}" }}
  - {{ name: insert-debit, query: "INSERT INTO {ledger} (idem, account, amount) VALUES ({p1}, {p2}, {p3})" }}
  - {{ name: debit-balance, query: "UPDATE {accounts} SET balance = balance - {p1} WHERE id = {p2} AND balance >= {p3}" }}
  - {{ name: insert-credit, query: "INSERT INTO {ledger} (idem, account, amount) VALUES ({p1}, {p2}, -{p3})" }}
  - {{ name: raise-balance, query: "UPDATE {accounts} SET balance = balance + {p1} WHERE id = {p2}" }}
components:
  - name: billing
    source: guest(billing)
    capabilities:
      sql: {{ queries: [read-balance, find-debit, insert-debit, debit-balance, insert-credit, raise-balance] }}
    limits: {{ timeout: 5s }}
authentication:
  jwt: {jwt}
routes:
  - plugin: billing
    component: billing
    endpoints:
      - {{ method: POST, path: /debit, auth: authenticated, maxBody: 256B, timeout: 1s }}
      - {{ method: POST, path: /credit, auth: "role:teller" }}
      - {{ method: GET, path: /balance/:account, auth: "role:reader", rateLimit: 3/m }}
      - {{ method: GET, path: /whoami, auth: public }}
"#,
        connection = db.connection(&file),
    );
    let mut runtime = runtime_config();
    // The concurrency tests run 220 requests at once.
    runtime.engine.max_instances = 256;
    let server = TestServer::start_with_runtime(&yaml, runtime, ServerConfig::default()).await;
    Billing {
        db,
        file,
        accounts,
        ledger,
        server,
    }
}

fn hs256_config() -> String {
    format!("{{ algorithm: HS256, secret: \"{SECRET}\", issuer: \"{ISSUER}\", audience: billing }}")
}

impl Billing {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.server.client.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}")),
        )
    }

    async fn debit(&self, token: &str, amount: i64, key: &str) -> (u16, serde_json::Value) {
        self.call(
            reqwest::Method::POST,
            "/ext/billing/debit",
            Some(token),
            Some(serde_json::json!({ "account": 1, "amount": amount, "key": key })),
        )
        .await
    }

    async fn balance(&self) -> i64 {
        self.db
            .scalar(
                &self.file,
                &format!("SELECT balance FROM {} WHERE id = 1", self.accounts),
            )
            .await
    }

    async fn ledger_rows(&self) -> i64 {
        self.db
            .scalar(&self.file, &format!("SELECT COUNT(*) FROM {}", self.ledger))
            .await
    }
}

#[tokio::test]
async fn a_debit_runs_in_a_transaction_for_the_verified_caller() {
    let bank = billing(Db::Sqlite, 100, &hs256_config()).await;
    let ada = hs256(&claims("ada", &["reader"]));

    let (status, body) = bank.debit(&ada, 30, "order-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["balance"], 70);
    assert_eq!(
        body["by"], "ada",
        "the principal interface gives the subject"
    );

    let (status, body) = bank.debit(&ada, 30, "order-1").await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, true.into()),
        "idempotent"
    );
    let (status, body) = bank.debit(&ada, 500, "order-2").await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["balance"], 70);
    assert_eq!((bank.balance().await, bank.ledger_rows().await), (70, 1));

    let (status, body) = bank
        .call(
            reqwest::Method::GET,
            "/ext/billing/balance/1",
            Some(&ada),
            None,
        )
        .await;
    assert_eq!((status, body["balance"].clone()), (200, 70.into()));

    // The batch form: all or nothing, naming the statement that failed.
    let teller = hs256(&claims("tom", &["teller"]));
    let (status, body) = bank
        .call(
            reqwest::Method::POST,
            "/ext/billing/credit",
            Some(&teller),
            Some(serde_json::json!({ "account": 1, "amount": 5, "key": "credit-1" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = bank
        .call(
            reqwest::Method::POST,
            "/ext/billing/credit",
            Some(&teller),
            Some(serde_json::json!({ "account": 9, "amount": 5, "key": "credit-2" })),
        )
        .await;
    assert_eq!(
        (status, body["statement"].clone()),
        (404, 1.into()),
        "{body}"
    );
    assert_eq!(
        (bank.balance().await, bank.ledger_rows().await),
        (75, 2),
        "the failed batch left nothing behind"
    );
}

#[tokio::test]
async fn callers_without_a_valid_token_or_role_are_refused_before_the_plugin_runs() {
    let bank = billing(Db::Sqlite, 100, &hs256_config()).await;
    let post = |token: Option<String>| {
        let bank = &bank;
        async move {
            bank.call(
                reqwest::Method::POST,
                "/ext/billing/debit",
                token.as_deref(),
                Some(serde_json::json!({ "account": 1, "amount": 1, "key": unique("k") })),
            )
            .await
        }
    };
    let refused = |(status, body): (u16, serde_json::Value), expected: u16, why: &str| {
        assert_eq!(status, expected, "{why}: {body}");
        assert_eq!(body["code"], expected, "a JSON error body: {body}");
    };

    refused(post(None).await, 401, "no token");
    let valid = hs256(&claims("ada", &[]));
    let (_, claims_part) = valid.split_once('.').unwrap();
    let (payload, _) = claims_part.split_once('.').unwrap();
    // {"alg":"none","typ":"JWT"}
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    refused(post(Some(unsigned)).await, 401, "alg none");
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("ada", &[]),
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!").unwrap(),
    )
    .unwrap();
    refused(post(Some(wrong_key)).await, 401, "signed with another key");
    let mut expired = claims("ada", &[]);
    expired["exp"] = (now() - 600).into();
    refused(post(Some(hs256(&expired))).await, 401, "expired");
    let mut foreign = claims("ada", &[]);
    foreign["iss"] = "https://evil.example".into();
    refused(post(Some(hs256(&foreign))).await, 401, "another issuer");
    let mut elsewhere = claims("ada", &[]);
    elsewhere["aud"] = "shop".into();
    refused(post(Some(hs256(&elsewhere))).await, 401, "another audience");
    let rs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims("ada", &[]),
        &EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).unwrap(),
    )
    .unwrap();
    refused(post(Some(rs256)).await, 401, "another algorithm");
    let (status, body) = bank
        .call(
            reqwest::Method::GET,
            "/ext/billing/balance/1",
            Some(&valid),
            None,
        )
        .await;
    assert_eq!(status, 403, "no `reader` role: {body}");
    assert_eq!(
        (bank.balance().await, bank.ledger_rows().await),
        (100, 0),
        "no refused call ran"
    );
    assert_eq!(post(Some(valid)).await.0, 200, "the valid token passes");
}

#[tokio::test]
async fn the_principal_cannot_be_forged_and_the_token_is_not_passed_on() {
    let bank = billing(Db::Sqlite, 100, &hs256_config()).await;
    let forged = bank
        .server
        .client
        .get(bank.server.url("/ext/billing/whoami"))
        .header("karman-principal-subject", "admin")
        .header("karman-principal-roles", "root")
        .send()
        .await
        .unwrap();
    let seen: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(seen["subject"], serde_json::Value::Null, "{seen}");
    assert_eq!(
        seen["headers"]["subject"],
        serde_json::Value::Null,
        "{seen}"
    );
    assert_eq!(seen["headers"]["roles"], serde_json::Value::Null, "{seen}");

    let token = hs256(&claims("ada", &["reader", "teller"]));
    let signed = bank
        .server
        .client
        .get(bank.server.url("/ext/billing/whoami"))
        .bearer_auth(&token)
        .header("karman-principal-subject", "admin")
        .send()
        .await
        .unwrap();
    let seen: serde_json::Value = signed.json().await.unwrap();
    assert_eq!(seen["subject"], "ada");
    assert_eq!(seen["roles"], serde_json::json!(["reader", "teller"]));
    assert_eq!(seen["claimSub"], "ada");
    assert_eq!(seen["headers"]["subject"], "ada");
    assert_eq!(seen["headers"]["roles"], "reader,teller");
    assert_eq!(seen["headers"]["authorization"], serde_json::Value::Null);
}

#[tokio::test]
async fn rate_limits_body_caps_timeouts_and_unknown_routes() {
    let bank = billing(Db::Sqlite, 100, &hs256_config()).await;
    let reader = hs256(&claims("ada", &["reader"]));
    for _ in 0..3 {
        let (status, _) = bank
            .call(
                reqwest::Method::GET,
                "/ext/billing/balance/1",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    let limited = bank
        .server
        .client
        .get(bank.server.url("/ext/billing/balance/1"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "one token per 20 s: {retry}");

    let oversize = bank
        .server
        .client
        .post(bank.server.url("/ext/billing/debit"))
        .bearer_auth(&reader)
        .body(vec![b' '; 300])
        .send()
        .await
        .unwrap();
    assert_eq!(oversize.status(), 413, "maxBody: 256B");

    // The handler sleeps past the endpoint's 1 s with its transaction open: 504, rolled back.
    let (status, body) = bank
        .call(
            reqwest::Method::POST,
            "/ext/billing/debit?sleep=3000",
            Some(&reader),
            Some(serde_json::json!({ "account": 1, "amount": 10, "key": "slow" })),
        )
        .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!((bank.balance().await, bank.ledger_rows().await), (100, 0));
    let (status, _) = bank.debit(&reader, 10, "after").await;
    assert_eq!(status, 200, "the account is not left locked");

    let unknown = bank.server.get("/ext/billing/nowhere").await;
    assert_eq!(unknown.status, 404);
    let wrong_method = bank.server.get("/ext/billing/debit").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_eq!(bank.server.get("/ext/other/debit").await.status, 404);
}

async fn asymmetric_keys_verify(
    jwt: String,
    algorithm: Algorithm,
    private: &str,
    kid: Option<&str>,
) {
    let bank = billing(Db::Sqlite, 100, &jwt).await;
    let sign = |pem: &str| {
        let pem = fixture(pem);
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
            _ => EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, &claims("ada", &[]), &key).unwrap()
    };
    let (status, body) = bank.debit(&sign(private), 1, "signed").await;
    assert_eq!(status, 200, "{body}");
    if algorithm == Algorithm::RS256 {
        let (status, _) = bank
            .debit(&sign("other-rsa-private.pem"), 1, "forged")
            .await;
        assert_eq!(status, 401, "a key the server does not trust");
    }
    assert_eq!(bank.ledger_rows().await, 1);
}

#[tokio::test]
async fn rs256_tokens_verify_with_a_public_key_file() {
    let key = repo_root().join("tests/fixtures/jwt/rsa-public.pem");
    asymmetric_keys_verify(
        format!(
            "{{ algorithm: RS256, publicKey: \"{}\", issuer: \"{ISSUER}\" }}",
            key.display()
        ),
        Algorithm::RS256,
        "rsa-private.pem",
        None,
    )
    .await;
}

#[tokio::test]
async fn es256_tokens_verify_with_a_jwks_file_by_key_id() {
    let jwks = repo_root().join("tests/fixtures/jwt/jwks.json");
    asymmetric_keys_verify(
        format!(
            "{{ algorithm: ES256, jwks: \"{}\", audience: billing }}",
            jwks.display()
        ),
        Algorithm::ES256,
        "ec-private.pem",
        Some("ec-1"),
    )
    .await;
}

/// 200 concurrent debits of 7 (plus replays of 20 of their keys) against a balance of 500:
/// exactly 71 succeed, the balance ends at 3, and every key is recorded once.
async fn concurrent_debits_never_overdraw(db: Db) {
    let bank = Arc::new(billing(db, 500, &hs256_config()).await);
    let token = Arc::new(hs256(&claims("ada", &[])));
    let mut calls = Vec::new();
    for n in 0..220 {
        let (bank, token) = (bank.clone(), token.clone());
        calls.push(tokio::spawn(async move {
            let key = format!("debit-{}", n % 200);
            bank.debit(&token, 7, &key).await
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert!(matches!(status, 200 | 402), "{status}: {body}");
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(bank.balance().await, 500 - 71 * 7, "{statuses:?}");
    assert_eq!(bank.ledger_rows().await, 71, "each key recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_debits_through_a_route_never_overdraw() {
    concurrent_debits_never_overdraw(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_concurrent_debits_through_a_route_never_overdraw() {
    concurrent_debits_never_overdraw(Db::MySql).await;
}
