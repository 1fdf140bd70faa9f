//! The example apps of `examples/`, served as their READMEs describe.

use karman::ServerConfig;
use karman_directive::ParseOptions;

use crate::support::{TestServer, repo_root, runtime_config};
use crate::upstream::{GITHUB_TOKEN, Upstream};

/// Serves `examples/<name>/Directive.yaml` with the given environment variables.
async fn example(name: &str, env: &[(&str, String)]) -> TestServer {
    let dir = repo_root().join("examples").join(name);
    let text = std::fs::read_to_string(dir.join("Directive.yaml")).unwrap();
    let lookup = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    let options = ParseOptions {
        file_name: format!("examples/{name}/Directive.yaml"),
        base_dir: dir,
        env: &lookup,
    };
    let app = karman_directive::parse(&text, &options).unwrap_or_else(|e| panic!("{e}"));
    TestServer::start_app(app, runtime_config(), ServerConfig::default()).await
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
