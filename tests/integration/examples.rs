//! The example apps of `examples/`, served as their READMEs describe.

use karman::ServerConfig;
use karman_directive::ParseOptions;

use crate::support::{TestServer, repo_root, runtime_config};

/// Serves `examples/<name>/Directive.yaml` with the given environment variables.
async fn example(
    name: &str,
    env: &'static [(&'static str, &'static str)],
    extra: Option<String>,
) -> TestServer {
    let dir = repo_root().join("examples").join(name);
    let text = std::fs::read_to_string(dir.join("Directive.yaml")).unwrap();
    let lookup = move |key: &str| {
        env.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
            .or_else(|| extra.clone().filter(|_| key == "NOTES_DATABASE_URL"))
    };
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
    let server = example("hello", &[], None).await;
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
    let server = example("notes", &[], Some(file.display().to_string())).await;
    notes_round_trip(server).await;
}

#[tokio::test]
async fn the_notes_example_works_on_postgres_with_one_variable() {
    let server = example(
        "notes",
        &[(
            "NOTES_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )],
        None,
    )
    .await;
    notes_round_trip(server).await;
}
