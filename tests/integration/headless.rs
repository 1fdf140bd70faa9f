//! Headless mode: every Runnable at `POST /_run/<name>`, run as a one-step handler; off by
//! default; grants unchanged; guarded by the app's JWT verification.

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::support::{Binary, Reply, TestServer, app, client};

const SECRET: &str = "headless-test-secret-of-at-least-32-bytes";

/// Runnables of every kind the tests need, and a route component (not a Runnable).
fn directive(headless: &str, authentication: &str) -> String {
    format!(
        r#"
identifier: test.headless
appVersion: v1
{headless}
{authentication}
components:
  - name: echo
    source: guest(echo)
  - name: inspect
    source: guest(inspect)
  - name: fail
    source: guest(fail)
  - name: set-response
    source: guest(set-response)
  - name: cache-denied
    source: guest(cache-user)
  - name: billing
    source: guest(billing)
handlers:
  - type: request
    method: POST
    resource: /echo
    steps: [ {{ fn: echo }} ]
routes:
  - plugin: billing
    component: billing
    endpoints:
      - {{ method: POST, path: /debit, auth: public }}
"#
    )
}

async fn post(server: &TestServer, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client().post(server.url(path)).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().await.unwrap()).await
}

fn token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({ "sub": "ada", "exp": now + 60 }),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn run_paths_are_not_found_when_headless_mode_is_off() {
    let server = TestServer::start(&directive("", "")).await;
    let reply = post(&server, "/_run/echo", "hi", &[]).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    // The handler still answers.
    assert_eq!(post(&server, "/echo", "hi", &[]).await.body, "hi");
}

#[tokio::test]
async fn a_runnable_answers_by_name_as_a_one_step_handler() {
    let server = TestServer::start(&directive("headless: true", "")).await;
    let reply = post(&server, "/_run/echo", "hello", &[]).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));

    // Status and headers set by the Runnable, as for a one-step handler.
    let reply = post(
        &server,
        "/_run/set-response?status=201&header=x-made&value=yes",
        "",
        &[],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("x-made"), Some("yes"));

    // A run error's code is the status.
    let reply = post(&server, "/_run/fail?code=418&message=teapot", "", &[]).await;
    assert_eq!(reply.status, 418, "{}", reply.body);
    assert!(reply.body.contains("teapot"), "{}", reply.body);
}

#[tokio::test]
async fn the_state_header_is_what_the_runnable_reads() {
    let server = TestServer::start(&directive("headless: true", "")).await;
    let reply = post(
        &server,
        "/_run/inspect",
        "the body",
        &[("x-karman-state", r#"{"user":"ada","n":{"a":1}}"#)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["input"], "the body");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["state"]["user"], "ada");
    assert_eq!(seen["state"]["n"], r#"{"a":1}"#);

    let reply = post(&server, "/_run/inspect", "", &[("x-karman-state", "[1]")]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("`x-karman-state` header is not a JSON object"),
        "{}",
        reply.body
    );
    let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(70 << 10));
    let reply = post(&server, "/_run/inspect", "", &[("x-karman-state", &big)]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
}

#[tokio::test]
async fn unknown_names_routes_and_other_methods_are_refused() {
    let server = TestServer::start(&directive("headless: true", "")).await;
    assert_eq!(post(&server, "/_run/nope", "", &[]).await.status, 404);
    assert_eq!(post(&server, "/_run/", "", &[]).await.status, 404);
    assert_eq!(post(&server, "/_run/echo/more", "", &[]).await.status, 404);
    // A custom route's component is no Runnable.
    assert_eq!(post(&server, "/_run/billing", "", &[]).await.status, 404);
    let get = Reply::from(client().get(server.url("/_run/echo")).send().await.unwrap()).await;
    assert_eq!(get.status, 405, "{}", get.body);
    assert_eq!(get.header("allow"), Some("POST"));
}

#[tokio::test]
async fn grants_apply_unchanged() {
    let server = TestServer::start(&directive("headless: true", "")).await;
    // `cache-denied` has no cache grant: the call is denied, as in a handler (403).
    let reply = post(&server, "/_run/cache-denied?op=set&key=k&value=v", "", &[]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
}

#[tokio::test]
async fn with_jwt_authentication_a_token_is_needed() {
    let authentication =
        format!("authentication:\n  jwt: {{ algorithm: HS256, secret: \"{SECRET}\" }}");
    let server = TestServer::start(&directive("headless: true", &authentication)).await;
    let reply = post(&server, "/_run/echo", "hi", &[]).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    // Refused before the name is looked up: an unknown name is 401 too.
    assert_eq!(post(&server, "/_run/nope", "", &[]).await.status, 401);
    let bad = post(
        &server,
        "/_run/echo",
        "hi",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(bad.status, 401, "{}", bad.body);

    let bearer = format!("Bearer {}", token());
    let reply = post(&server, "/_run/echo", "hi", &[("authorization", &bearer)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hi"));

    // `auth: "role:admin"` needs the role.
    let server = TestServer::start(&directive(
        "headless: { auth: \"role:admin\" }",
        &authentication,
    ))
    .await;
    let reply = post(&server, "/_run/echo", "hi", &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
}

#[test]
fn a_guarded_headless_mode_needs_jwt_verification() {
    let text = crate::support::expand(&directive("headless: { auth: authenticated }", ""));
    let error = karman_directive::parse(
        &text,
        &karman_directive::ParseOptions::new("test.yaml", crate::support::repo_root()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("`headless` is `authenticated`, but `authentication.jwt` is not configured"),
        "{error}"
    );
    // `headless: true` turns it on, `false` leaves it off.
    assert!(app(&directive("headless: true", "")).headless.is_some());
    assert!(app(&directive("headless: false", "")).headless.is_none());
}

#[test]
fn the_headless_flag_turns_it_on_for_the_binary() {
    let yaml = directive("", "");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let off = Binary::serve(&yaml);
    let on = Binary::serve_with_args(&yaml, "info", &[], &["--headless"]);
    runtime.block_on(async {
        let status = |url: String| async move {
            client()
                .post(url)
                .body("hi")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        assert_eq!(status(off.url("/_run/echo")).await, 404);
        assert_eq!(status(on.url("/_run/echo")).await, 200);
    });
}
