//! The example apps of `examples/`, served as their READMEs describe.

use karman::ServerConfig;
use karman_directive::ParseOptions;

use crate::support::{TestServer, repo_root, runtime_config, start, within};
use crate::upstream::{GITHUB_TOKEN, Upstream};

use std::time::Duration;

use futures_util::StreamExt;
use karman_streams::{BusMessage, Streams};

/// Serves `examples/<name>/Directive.yaml` with the given environment variables.
/// Parses `examples/<name>/Directive.yaml` with the given environment variables.
fn example_app(name: &str, env: &[(&str, String)]) -> karman_directive::App {
    let dir = repo_root().join("examples").join(name);
    let text = std::fs::read_to_string(dir.join("Directive.yaml")).unwrap();
    let lookup = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    let options = ParseOptions {
        file_name: format!("examples/{name}/Directive.yaml"),
        base_dir: dir,
        env: &lookup,
        unbuilt_sources: false,
        unset_env: karman_directive::UnsetEnv::Error,
    };
    karman_directive::parse(&text, &options).unwrap_or_else(|e| panic!("{e}"))
}

async fn example(name: &str, env: &[(&str, String)]) -> TestServer {
    TestServer::start_app(
        example_app(name, env),
        runtime_config(),
        ServerConfig::default(),
    )
    .await
}

/// Starts the streams of an example app.
async fn example_streams(name: &str, env: &[(&str, String)]) -> std::sync::Arc<Streams> {
    start(example_app(name, env)).await.streams
}

#[tokio::test]
async fn the_hello_example_greets_counts_and_tells_a_fortune() {
    let server = example("hello", &[]).await;
    let first = server.get("/hello/example-visitor").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let body = first.json();
    assert_eq!(body["greeting"], "Hello, example-visitor!");
    assert_eq!(body["visits"], 1);
    assert!(body["fortune"].as_str().is_some_and(|f| !f.is_empty()));
    assert_eq!(
        server.get("/hello/example-visitor").await.json()["visits"],
        2
    );
    assert_eq!(
        server
            .get(&format!("/hello/{}", "x".repeat(65)))
            .await
            .status,
        400
    );
}

async fn notes_round_trip(server: TestServer) {
    let created = server.post("/notes", "buy milk").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();

    let miss = server.get(&format!("/notes/{id}")).await;
    assert_eq!(miss.status, 200, "{}", miss.body);
    assert_eq!(miss.header("x-cache"), Some("miss"));
    assert_eq!(miss.json()["body"], "buy milk");
    assert!(miss.json()["createdAt"].as_str().is_some());
    let hit = server.get(&format!("/notes/{id}")).await;
    assert_eq!(hit.header("x-cache"), Some("hit"));
    assert_eq!(hit.json(), miss.json());

    let list = server.get("/notes").await.json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|note| note["id"] == id.as_str())
    );

    assert_eq!(
        server
            .client
            .delete(server.url(&format!("/notes/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        server.get(&format!("/notes/{id}")).await.status,
        404,
        "gone from the database and the cache"
    );
    assert_eq!(server.post("/notes", "").await.status, 400);
}

#[tokio::test]
async fn the_notes_example_works_on_sqlite_by_default() {
    let file = repo_root().join(format!(
        "target/karman-test-tmp/notes-{}.sqlite",
        std::process::id()
    ));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let server = example(
        "notes",
        &[("NOTES_DATABASE_URL", file.display().to_string())],
    )
    .await;
    notes_round_trip(server).await;
}

#[tokio::test]
async fn the_notes_example_works_on_postgres_with_one_variable() {
    let server = example(
        "notes",
        &[(
            "NOTES_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test".into(),
        )],
    )
    .await;
    notes_round_trip(server).await;
}

#[tokio::test]
async fn the_github_card_example_calls_both_apis_with_the_host_held_token() {
    let api = Upstream::start().await;
    let base = format!("http://127.0.0.1:{}", api.port);
    let env = [
        ("GITHUB_TOKEN", GITHUB_TOKEN.to_string()),
        ("GITHUB_API_HOST", "127.0.0.1".to_string()),
        ("GITHUB_API_PRIVATE", "true".to_string()),
        ("GITHUB_GRAPHQL_URL", format!("{base}/graphql")),
        ("GITHUB_API_URL", base.clone()),
    ];
    let server = example("github-card", &env).await;

    let card = server.get("/card/ada").await;
    assert_eq!(card.status, 200, "{}", card.body);
    assert_eq!(card.header("content-type"), Some("application/json"));
    assert_eq!(
        card.json(),
        serde_json::json!({
            "login": "ada", "name": "Ada Lovelace", "bio": "Poetical science", "followers": 1815,
            "repos": [
                {"name": "analytical-engine", "stars": 1843, "description": "Notes on the engine"},
                {"name": "bernoulli", "stars": 7, "description": null},
            ],
        })
    );
    assert!(!card.body.contains(GITHUB_TOKEN));
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path == "/graphql")
    );
    assert!(
        seen.iter()
            .any(|s| s.path == "/users/ada/repos?sort=updated&per_page=5")
    );

    assert_eq!(server.get("/card/ghost").await.status, 404);
    assert_eq!(server.get("/card/-bad").await.status, 400);

    // Without the token the API refuses, and the card says so (not 200).
    let server = example(
        "github-card",
        &[
            ("GITHUB_TOKEN", "wrong".to_string()),
            ("GITHUB_API_HOST", "127.0.0.1".to_string()),
            ("GITHUB_API_PRIVATE", "true".to_string()),
            ("GITHUB_GRAPHQL_URL", format!("{base}/graphql")),
            ("GITHUB_API_URL", base.clone()),
        ],
    )
    .await;
    let refused = server.get("/card/ada").await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("answered 401"), "{}", refused.body);
}

fn login(user: &str, email: &str) -> String {
    serde_json::json!({ "user": user, "email": email, "at": "2026-11-22T10:00:00Z" }).to_string()
}

#[tokio::test]
async fn the_login_events_example_runs_on_the_bus_by_default() {
    let streams = example_streams("login-events", &[]).await;
    let mut completed = streams.bus().subscribe("user.login-completed", 8);
    for _ in 0..2 {
        streams
            .bus()
            .publish(BusMessage::new(
                "user.login",
                login("ada", "ada@example.com"),
            ))
            .await;
    }
    let mut subjects = Vec::new();
    for _ in 0..2 {
        let message = tokio::time::timeout(Duration::from_secs(10), completed.recv())
            .await
            .expect("the pipeline completes")
            .unwrap();
        let email: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            (email["user"].as_str(), email["to"].as_str()),
            (Some("ada"), Some("ada@example.com"))
        );
        subjects.push(email["subject"].as_str().unwrap().to_string());
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "New sign-in to your account (sign-in #2)",
            "Welcome! This was your first sign-in"
        ]
    );
    // An event without an email address fails in `send-email`: nothing is published.
    streams
        .bus()
        .publish(BusMessage::new("user.login", login("bob", "")))
        .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), completed.recv())
            .await
            .is_err(),
        "a failed run publishes nothing"
    );
    assert_eq!(streams.handler_stats(0).unwrap().failed(), 1);
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_events_example_runs_on_nats_with_one_variable() {
    let streams = example_streams("login-events", &[("LOGIN_EVENTS", "nats".into())]).await;
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let mut completed = client.subscribe("user.login-completed").await.unwrap();
    client.flush().await.unwrap();
    let user = format!("grace-{}", uuid::Uuid::new_v4().simple());
    client
        .publish("user.login", login(&user, "grace@example.com").into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    within(
        "the pipeline to complete on NATS",
        Duration::from_secs(10),
        async {
            loop {
                let message = completed.next().await.unwrap();
                let email: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
                if email["user"] == user.as_str() {
                    assert_eq!(email["subject"], "Welcome! This was your first sign-in");
                    break;
                }
            }
        },
    )
    .await;
    streams.shutdown().await;
}

/// A token from the example's own `mint-token.sh`, as its README mints them.
fn billing_token(secret: &str, subject: &str, roles: &str) -> String {
    let output = std::process::Command::new(repo_root().join("examples/billing/mint-token.sh"))
        .args([subject, roles])
        .env("BILLING_JWT_SECRET", secret)
        .output()
        .expect("mint-token.sh runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

async fn billing_round_trip(database_url: String) {
    let secret = format!("{:032x}", rand_u128());
    let server = example(
        "billing",
        &[
            ("BILLING_JWT_SECRET", secret.clone()),
            ("BILLING_DATABASE_URL", database_url),
        ],
    )
    .await;
    let admin = billing_token(&secret, "root", "admin");
    let ada = billing_token(&secret, "ada", "reader");
    let call =
        |method: reqwest::Method, path: &str, token: &str, body: Option<serde_json::Value>| {
            let mut request = server
                .client
                .request(method, server.url(&format!("/ext/billing{path}")))
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<serde_json::Value>().await.unwrap())
            }
        };
    // Fresh numbers: the PostgreSQL database outlives test runs.
    let account = (rand_u128() % 1_000_000_000) as i64;
    let key = format!("order-{account}");
    let post = reqwest::Method::POST;

    assert_eq!(call(post.clone(), "/setup", &admin, None).await.0, 200);
    assert_eq!(
        call(post.clone(), "/setup", &ada, None).await.0,
        403,
        "admins only"
    );
    let opened = call(
        post.clone(),
        "/accounts",
        &admin,
        Some(serde_json::json!({ "account": account, "balance": 100 })),
    )
    .await;
    assert_eq!(opened.0, 201, "{}", opened.1);
    let order = serde_json::json!({ "account": account, "amount": 30, "key": key });
    let (status, body) = call(post.clone(), "/debit", &ada, Some(order.clone())).await;
    assert_eq!(
        (status, body["balance"].clone(), body["by"].clone()),
        (200, 70.into(), "ada".into()),
        "{body}"
    );
    let (status, body) = call(post.clone(), "/debit", &ada, Some(order)).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, true.into()),
        "{body}"
    );
    let short = serde_json::json!({ "account": account, "amount": 500, "key": format!("{key}-2") });
    let (status, body) = call(post.clone(), "/debit", &ada, Some(short)).await;
    assert_eq!(
        (status, body["balance"].clone()),
        (402, 70.into()),
        "{body}"
    );
    let (status, body) = call(
        reqwest::Method::GET,
        &format!("/balance/{account}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(
        (status, body["balance"].clone()),
        (200, 70.into()),
        "{body}"
    );
    let anonymous = server.post("/ext/billing/debit", "{}").await;
    assert_eq!(anonymous.status, 401);
}

/// Good enough randomness for test names and secrets.
fn rand_u128() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

#[tokio::test]
async fn the_billing_example_works_on_sqlite_by_default() {
    std::fs::create_dir_all(repo_root().join("target/karman-test-tmp")).unwrap();
    let file = repo_root().join(format!(
        "target/karman-test-tmp/billing-{}.sqlite",
        rand_u128()
    ));
    billing_round_trip(file.display().to_string()).await;
}

#[tokio::test]
async fn the_billing_example_works_on_postgres_with_one_variable() {
    billing_round_trip("postgres://postgres@127.0.0.1:5432/test".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polyglot_example_runs_python_then_javascript_then_rust() {
    let server = example("polyglot", &[]).await;
    let answer = server.get("/greet/ada").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "greeting": "Hello, ada",
            "shouted": "HELLO, ADA!",
            "languages": { "greet": "python", "shout": "javascript", "frame": "rust" },
        })
    );
    let refused = server.get(&format!("/greet/{}", "x".repeat(65))).await;
    assert_eq!(
        refused.status, 400,
        "the Python step's RunError: {}",
        refused.body
    );
}
