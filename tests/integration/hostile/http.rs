//! Hostile guests and clients of the HTTP server: response headers, outputs and state past
//! their caps, JWTs missing a configured claim, HTTP/2 custom routes, abandoned custom-route
//! requests, slow clients, idle connections and the connection cap. Every test checks the
//! exact status and that the server still serves afterwards.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use karman::{Launch, ServerConfig, Serving};
use karman_directive::{App, Limits};
use karman_runtime::RunLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestServer, client, eventually, expand, runtime_config, within};

const FLOOD: &str = r#"
identifier: test.flood
appVersion: v1
components:
  - { name: flood, source: guest(flood) }
  - { name: slow, source: guest(slow), limits: { timeout: 10s } }
  - { name: echo, source: guest(echo) }
handlers:
  - { type: request, method: GET, resource: /flood, steps: [ { fn: flood } ] }
  - type: request
    method: GET
    resource: /twice
    steps: [ { fn: flood, as: first }, { fn: flood, as: second } ]
    response: second
  - { type: request, method: GET, resource: /slow, steps: [ { fn: slow } ] }
  - { type: request, method: POST, resource: /echo, steps: [ { fn: echo } ] }
"#;

/// The message of a JSON error reply.
fn message(reply: &crate::support::Reply) -> String {
    reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// response headers

#[tokio::test]
async fn a_runnable_past_the_response_header_caps_fails_with_500_and_the_server_stays_up() {
    let server = TestServer::start(FLOOD).await;

    let too_many = server.get("/flood?headers=101").await;
    assert_eq!(too_many.status, 500, "{}", too_many.body);
    assert!(
        message(&too_many).contains("at most 100 headers"),
        "{}",
        too_many.body
    );

    // 10 headers of 8000 bytes: 80 000 bytes, past 64 KiB.
    let too_large = server.get("/flood?headers=10&size=8000").await;
    assert_eq!(too_large.status, 500, "{}", too_large.body);
    assert!(message(&too_large).contains("64 KiB"), "{}", too_large.body);

    // What used to make the connection task panic inside `http::HeaderMap`.
    let flood = server.get("/flood?headers=30000").await;
    assert_eq!(flood.status, 500, "{}", flood.body);

    // 95 and the host's own (content-type, content-length, date, x-request-id): within what
    // clients such as hyper read (100 header lines).
    let within_caps = server.get("/flood?headers=95").await;
    assert_eq!(within_caps.status, 200, "{}", within_caps.body);
    assert_eq!(within_caps.header("x-flood-94"), Some("aaaaaaaa"));
    assert_eq!(server.get("/flood").await.body, "flooded");
}

/// A `wasi:http` component (`guest(<crate>)`) served on every path, as `karman serve x.wasm`
/// does.
async fn serve_component(component: &str, server: ServerConfig) -> TestServer {
    let limits = Limits {
        timeout: Duration::from_secs(10),
        memory: 64 << 20,
    };
    let app = App::serving_component(Path::new(&expand(component)), limits).unwrap();
    let launch = Launch {
        runtime: runtime_config(),
        server,
        serving: Serving::Component,
        ..Launch::default()
    };
    TestServer::launch(app, launch).await
}

#[tokio::test]
async fn a_wasi_http_component_cannot_answer_past_the_response_header_caps() {
    let server = serve_component("guest(http-flood)", ServerConfig::default()).await;

    let too_many = server.get("/?headers=101").await;
    assert_eq!(too_many.status, 500, "{}", too_many.body);
    assert!(
        message(&too_many).contains("at most 100"),
        "{}",
        too_many.body
    );

    // 10 headers of 8000 bytes: past 64 KiB (within wasmtime's own default of 128 KiB). Its
    // `fields` trap.
    let too_large = server.get("/?headers=10&size=8000").await;
    assert_eq!(too_large.status, 500, "{}", too_large.body);
    assert!(
        message(&too_large).contains("at most 64 KiB"),
        "{}",
        too_large.body
    );

    let flood = server.get("/?headers=30000").await;
    assert_eq!(flood.status, 500, "{}", flood.body);

    let within_caps = server.get("/?headers=95").await;
    assert_eq!(within_caps.status, 200, "{}", within_caps.body);
    assert_eq!(within_caps.header("x-flood-94"), Some("aaaaaaaa"));
}

#[tokio::test]
async fn an_instance_holds_a_bounded_number_of_resources() {
    let server = serve_component("guest(http-flood)", ServerConfig::default()).await;
    let past = server
        .get(&format!("/?fields={}", karman_runtime::MAX_GUEST_RESOURCES))
        .await;
    assert_eq!(past.status, 500, "{}", past.body);
    assert!(message(&past).contains("trapped"), "{}", past.body);
    assert_eq!(server.get("/?fields=9000").await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// step output and state

#[tokio::test]
async fn outputs_and_states_past_their_caps_fail_with_500() {
    let mut runtime = runtime_config();
    runtime.run_limits = RunLimits {
        max_step_output: 1 << 20,
        max_state: 3 << 19,
    };
    let server = TestServer::start_with_runtime(FLOOD, runtime, ServerConfig::default()).await;

    let big = server.get(&format!("/flood?output={}", 2 << 20)).await;
    assert_eq!(big.status, 500, "{}", big.body);
    assert!(
        message(&big).contains("step `flood` returned 2097152 bytes"),
        "{}",
        big.body
    );
    assert!(message(&big).contains("--max-step-output"), "{}", big.body);

    // Two outputs of 1 MiB each: both within the step cap, together past 1.5 MiB.
    let state = server.get(&format!("/twice?output={}", 1 << 20)).await;
    assert_eq!(state.status, 500, "{}", state.body);
    assert!(message(&state).contains("step `second`"), "{}", state.body);
    assert!(message(&state).contains("--max-state"), "{}", state.body);

    let within_caps = server.get(&format!("/twice?output={}", 1 << 19)).await;
    assert_eq!(within_caps.status, 200);
    assert_eq!(within_caps.body.len(), 1 << 19);
}

// ---------------------------------------------------------------------------------------------
// custom routes: JWT claims, HTTP/2, abandoned requests

const SECRET: &str = "a-test-secret-of-enough-length-000";

fn echo_routes(endpoint_timeout: &str) -> String {
    format!(
        r#"
identifier: test.hostile-routes
appVersion: v1
components:
  - {{ name: echo, source: guest(http-echo), limits: {{ timeout: 30s }} }}
authentication:
  jwt: {{ algorithm: HS256, secret: "{SECRET}", issuer: "https://issuer.test", audience: echo }}
routes:
  - plugin: echo
    component: echo
    endpoints:
      - {{ method: GET, path: /hello, auth: authenticated }}
      - {{ method: GET, path: /inspect, auth: public }}
      - {{ method: GET, path: /sleep, auth: public, timeout: {endpoint_timeout} }}
"#
    )
}

fn token(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_token_without_the_configured_issuer_or_audience_is_refused() {
    let server = TestServer::start(&echo_routes("30s")).await;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let call = |token: String| {
        let request = server
            .client
            .get(server.url("/ext/echo/hello"))
            .bearer_auth(token);
        async move { crate::support::Reply::from(request.send().await.unwrap()).await }
    };

    let no_issuer = call(token(
        serde_json::json!({ "sub": "ada", "aud": "echo", "exp": exp }),
    ))
    .await;
    assert_eq!(no_issuer.status, 401, "{}", no_issuer.body);
    assert!(message(&no_issuer).contains("`iss`"), "{}", no_issuer.body);

    let no_audience = call(token(
        serde_json::json!({ "sub": "ada", "iss": "https://issuer.test", "exp": exp }),
    ))
    .await;
    assert_eq!(no_audience.status, 401, "{}", no_audience.body);
    assert!(
        message(&no_audience).contains("`aud`"),
        "{}",
        no_audience.body
    );

    let both = call(token(serde_json::json!({
        "sub": "ada", "iss": "https://issuer.test", "aud": "echo", "exp": exp
    })))
    .await;
    assert_eq!(both.status, 200, "{}", both.body);
}

#[tokio::test]
async fn http2_requests_reach_custom_routes() {
    let server = TestServer::start(&echo_routes("30s")).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    for _ in 0..2 {
        let request = http::Request::get(format!("http://{address}/ext/echo/inspect?x=1"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = within(
            "an HTTP/2 answer",
            Duration::from_secs(10),
            sender.send_request(request),
        )
        .await
        .unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("path: /inspect?x=1"), "{body}");
        assert!(body.contains(&format!("authority: {address}")), "{body}");
    }
    assert_eq!(
        server.get("/ext/echo/inspect").await.status,
        200,
        "HTTP/1.1 still works"
    );
}

#[tokio::test]
async fn abandoned_custom_route_requests_free_their_instances() {
    let mut runtime = runtime_config();
    runtime.engine.max_instances = 2;
    let server =
        TestServer::start_with_runtime(&echo_routes("30s"), runtime, ServerConfig::default()).await;
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    for _ in 0..4 {
        let abandoned = impatient
            .get(server.url("/ext/echo/sleep?ms=25000"))
            .send()
            .await;
        assert!(abandoned.unwrap_err().is_timeout());
    }
    // Had the sleeping instances kept their slots, every request would get 503 for 25 s.
    eventually(
        "an instance for a new request",
        Duration::from_secs(10),
        || async {
            let reply = server.get("/ext/echo/inspect").await;
            (reply.status == 200).then_some(())
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// slow clients, idle connections, the connection cap

fn short_timeouts() -> ServerConfig {
    ServerConfig {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(120),
        ..ServerConfig::default()
    }
}

/// Everything the server writes until it closes the connection (at most 20 s).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    within(
        "the server to close the connection",
        Duration::from_secs(20),
        async {
            // A reset after the answer counts as closed too.
            let _ = stream.read_to_end(&mut answer).await;
        },
    )
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client that sends a head announcing 10 MiB, then trickles its body.
async fn slowloris(server: &TestServer) -> TcpStream {
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: karman\r\ncontent-length: 10485760\r\n\r\nx")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let server = TestServer::start_with(FLOOD, short_timeouts()).await;

    let mut body = slowloris(&server).await;
    let answer = read_until_closed(&mut body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("was not received within 1s"), "{answer}");

    let mut head = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    head.write_all(b"GET /flood HTTP/1.1\r\nhost: kar")
        .await
        .unwrap();
    let answer = read_until_closed(&mut head).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // Connected, and silent: closed once idle.
    let mut silent = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");

    let reply = server.post("/echo", "still here").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "still here"));
}

/// The header-read timeout runs from a head's first byte; between requests a keep-alive
/// connection has the idle timeout.
#[tokio::test]
async fn a_keep_alive_connection_has_the_idle_timeout_and_a_head_the_header_timeout() {
    let config = ServerConfig {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(FLOOD, config).await;
    let address = server.base.trim_start_matches("http://").to_string();

    let mut kept = TcpStream::connect(&address).await.unwrap();
    kept.write_all(b"GET /flood HTTP/1.1\r\nhost: karman\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0; 12];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let answered = std::time::Instant::now();
    read_until_closed(&mut kept).await;
    let kept_for = answered.elapsed();
    assert!(
        kept_for >= Duration::from_secs(4),
        "an idle keep-alive connection was closed after {kept_for:?}, before its idle timeout"
    );

    let mut slow = TcpStream::connect(&address).await.unwrap();
    // A second later (so that the head does not start with the connection), half a head.
    tokio::time::sleep(Duration::from_secs(1)).await;
    slow.write_all(b"GET /flood HTTP/1.1\r\nho").await.unwrap();
    let sent = std::time::Instant::now();
    assert_eq!(read_until_closed(&mut slow).await, "");
    let cut_after = sent.elapsed();
    assert!(
        cut_after < Duration::from_secs(4),
        "half a head held the connection for {cut_after:?}: the idle timeout, not the header-read timeout"
    );
    assert_eq!(server.get("/flood").await.status, 200);
}

#[tokio::test]
async fn a_request_not_answered_in_time_gets_504() {
    let config = ServerConfig {
        total_request_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(FLOOD, config).await;
    let late = server.get("/slow?ms=5000").await;
    assert_eq!(late.status, 504, "{}", late.body);
    assert!(
        message(&late).contains("not answered within 1s"),
        "{}",
        late.body
    );
    assert_eq!(server.get("/slow?ms=1").await.status, 200);
}

#[tokio::test]
async fn a_slowloris_cannot_hold_shutdown_for_the_grace_period() {
    let mut server = TestServer::start_with(FLOOD, short_timeouts()).await;
    let mut trickle = slowloris(&server).await;
    // Keep trickling: a byte every 200 ms, until the server hangs up.
    let trickler = tokio::spawn(async move {
        while trickle.write_all(b"x").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(server.get("/flood").await.status, 200);
    let stopped = server.signal_shutdown();
    // The grace period is 120 s; the body-read timeout ends the request in about 1 s.
    within("the server to stop", Duration::from_secs(30), stopped)
        .await
        .unwrap()
        .unwrap();
    within(
        "the slowloris to be cut off",
        Duration::from_secs(30),
        trickler,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(FLOOD, config).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();

    let mut third = tokio::spawn({
        let url = server.url("/flood");
        async move { client().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut third)
            .await
            .is_err(),
        "a third connection is not served while two are open"
    );
    drop(first);
    let status = within("the third request", Duration::from_secs(10), third)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------------------------
// rate limits per caller

#[tokio::test]
async fn rate_limits_per_caller_are_taken_after_authentication() {
    let yaml = format!(
        r#"
identifier: test.caller-limits
appVersion: v1
components:
  - {{ name: echo, source: guest(http-echo) }}
  - {{ name: flood, source: guest(flood) }}
authentication:
  jwt: {{ algorithm: HS256, secret: "{SECRET}" }}
routes:
  - plugin: echo
    component: echo
    endpoints:
      - {{ method: GET, path: /hello, auth: authenticated, rateLimit: {{ endpoint: 100/h, caller: 2/h }} }}
      - {{ method: GET, path: /inspect, auth: public, rateLimit: {{ caller: 2/h }} }}
handlers:
  - {{ type: request, method: GET, resource: /flood, steps: [ {{ fn: flood }} ], rateLimit: {{ caller: 1/h }} }}
"#
    );
    let server = TestServer::start(&yaml).await;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let bearer = |sub: &str| token(serde_json::json!({ "sub": sub, "exp": exp }));
    let (ada, grace) = (bearer("ada"), bearer("grace"));
    let call = |path: &str, token: Option<&String>| {
        let mut request = server.client.get(server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { crate::support::Reply::from(request.send().await.unwrap()).await }
    };

    // Refused calls take no one's place.
    for _ in 0..5 {
        assert_eq!(call("/ext/echo/hello", None).await.status, 401);
    }
    for _ in 0..2 {
        assert_eq!(call("/ext/echo/hello", Some(&ada)).await.status, 200);
    }
    let limited = call("/ext/echo/hello", Some(&ada)).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.json()["code"], 429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&retry), "one place per 30 min: {retry}");
    assert_eq!(call("/ext/echo/hello", Some(&grace)).await.status, 200);

    // Anonymous callers (by address) use up their own places, not a caller's with a token.
    for _ in 0..2 {
        assert_eq!(call("/ext/echo/inspect", None).await.status, 200);
    }
    assert_eq!(call("/ext/echo/inspect", None).await.status, 429);
    assert_eq!(call("/ext/echo/inspect", Some(&ada)).await.status, 200);

    // Request handlers: per client address.
    assert_eq!(call("/flood", None).await.status, 200);
    let limited = call("/flood", None).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        call("/ext/echo/hello", Some(&grace)).await.status,
        200,
        "still serving"
    );
}
