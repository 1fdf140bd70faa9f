//! Directive semantics: steps, state, `as`, `with`, `group`, `onErr`, `response`.

use crate::support::TestServer;

const APP: &str = r#"
identifier: test.sequences
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: echo, source: guest(echo) }
  - { name: inspect, source: guest(inspect) }
  - { name: fail, source: guest(fail) }
  - { name: rendezvous, source: guest(rendezvous), capabilities: { cache: { prefix: "rendezvous:" } } }
handlers:
  - type: request
    method: GET
    resource: /hello/:name
    steps: [ { fn: hello } ]
  - type: request
    method: POST
    resource: /echo
    steps: [ { fn: echo } ]
  - type: request
    method: POST
    resource: /chain/:name
    steps:
      - fn: hello
      - fn: echo
        as: body-copy
      - fn: inspect
  - type: request
    method: GET
    resource: /with/:name
    steps:
      - fn: hello
      - fn: echo
      - fn: inspect
        with: { greeting: hello }
  - type: request
    method: GET
    resource: /group/:name
    steps:
      - fn: hello
      - group:
          - { fn: inspect, as: first }
          - { fn: inspect, as: second }
      - fn: inspect
    response: first
  - type: request
    method: GET
    resource: /meet/:name
    steps:
      - fn: hello
      - group:
          - { fn: rendezvous, as: left, with: { a: hello } }
          - { fn: rendezvous, as: right, with: { b: hello } }
      - fn: inspect
  - type: request
    method: GET
    resource: /continue
    steps:
      - fn: fail
        onErr: { any: continue }
      - fn: inspect
  - type: request
    method: GET
    resource: /codes
    steps:
      - fn: fail
        onErr: { code: { 404: continue }, other: return }
      - fn: inspect
  - type: request
    method: GET
    resource: /fails
    steps:
      - fn: fail
      - fn: hello
  - type: request
    method: GET
    resource: /response/:name
    steps:
      - fn: hello
      - fn: inspect
    response: hello
"#;

#[tokio::test]
async fn a_one_step_handler_answers_with_the_steps_output() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/hello/ada").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "Hello, ada!"));
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let reply = server.post("/echo", vec![0u8, 159, 146, 150]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn each_step_gets_the_body_and_reads_earlier_outputs_from_the_state() {
    let server = TestServer::start(APP).await;
    let reply = server.post("/chain/bob", "the body").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["input"], "the body");
    assert_eq!(seen["body"], "the body");
    // Outputs are stored under the fn name, or under `as`.
    assert_eq!(seen["state"]["hello"], "Hello, bob!");
    assert_eq!(seen["state"]["body-copy"], "the body");
    assert_eq!(seen["state"].as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn with_gives_a_step_only_the_keys_it_names_renamed() {
    let server = TestServer::start(APP).await;
    let seen = server.get("/with/cy").await.json();
    assert_eq!(
        seen["state"],
        serde_json::json!({ "greeting": "Hello, cy!" })
    );
}

#[tokio::test]
async fn group_steps_see_the_state_from_before_the_group_and_all_outputs_are_stored() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/group/dee").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // `response: first` answers with the first group member's output.
    let first = reply.json();
    assert_eq!(
        first["state"],
        serde_json::json!({ "hello": "Hello, dee!" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_steps_run_at_the_same_time() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/meet/eve").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["state"]["left"], "a met b");
    assert_eq!(seen["state"]["right"], "b met a");
}

#[tokio::test]
async fn on_err_continue_stores_the_error_and_goes_on() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/continue?code=418&message=teapot").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stored: serde_json::Value =
        serde_json::from_str(reply.json()["state"]["fail"].as_str().unwrap()).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({ "code": 418, "message": "teapot" })
    );
}

#[tokio::test]
async fn on_err_codes_continue_only_the_listed_codes() {
    let server = TestServer::start(APP).await;
    let continued = server.get("/codes?code=404").await;
    assert_eq!(continued.status, 200, "{}", continued.body);

    let returned = server.get("/codes?code=409&message=conflict").await;
    assert_eq!(returned.status, 409);
    let body = returned.json();
    assert_eq!(body["code"], 409);
    assert_eq!(body["message"], "conflict");
    assert_eq!(body["requestId"], returned.header("x-request-id").unwrap());
}

#[tokio::test]
async fn a_run_error_ends_the_sequence_with_its_code_as_the_status() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/fails?code=403&message=nope").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["message"], "nope");

    // A code that is not an HTTP status is answered with 500, keeping the code in the body.
    let reply = server.get("/fails?code=700").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["code"], 700);
    let reply = server.get("/fails?code=42").await;
    assert_eq!(reply.status, 500);
}

#[tokio::test]
async fn response_names_the_state_key_that_is_returned() {
    let server = TestServer::start(APP).await;
    let reply = server.get("/response/fay").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "Hello, fay!"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_see_each_others_state() {
    let server = TestServer::start(APP).await;
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let client = server.client.clone();
            let url = server.url(&format!("/chain/user{i}"));
            tokio::spawn(async move {
                let reply = client
                    .post(url)
                    .body(format!("body {i}"))
                    .send()
                    .await
                    .unwrap();
                reply.text().await.unwrap()
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let seen: serde_json::Value = serde_json::from_str(&task.await.unwrap()).unwrap();
        assert_eq!(seen["state"]["hello"], format!("Hello, user{i}!"));
        assert_eq!(seen["state"]["body-copy"], format!("body {i}"));
        assert_eq!(seen["body"], format!("body {i}"));
    }
}
