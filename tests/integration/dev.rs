//! `karman dev` with the real binary and cargo: a Rust Runnable's source changes while a slow
//! request is in flight; the slow request finishes with the old output, the next request gets
//! the new one, and no request fails. A source that does not build leaves the app serving.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Binary, client, guest_target_dir, repo_root};

/// A Runnable that sleeps `?ms=` milliseconds, then answers `version`.
fn runnable(version: &str) -> String {
    format!(
        r#"use karman_sdk::{{RunErr, Runnable, req}};

struct Component;

impl Runnable for Component {{
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {{
        let ms = req::query_param("ms").and_then(|m| m.parse().ok()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(b"{version}".to_vec())
    }}
}}

karman_sdk::export!(Component);
"#
    )
}

fn message(entry: &serde_json::Value) -> &str {
    entry["fields"]["message"].as_str().unwrap_or_default()
}

#[test]
fn karman_dev_rebuilds_a_changed_runnable_and_reloads_without_failing_a_request() {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Directive.yaml"),
        "identifier: com.example.dev\nappVersion: v1\ncomponents:\nhandlers:\n",
    )
    .unwrap();
    let sdks = repo_root().join("guest-sdks");
    let created = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args([
            "new",
            "greet",
            "--lang",
            "rust",
            "--directive",
            "Directive.yaml",
        ])
        .arg("--sdk-path")
        .arg(&sdks)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let directive = std::fs::read_to_string(dir.join("Directive.yaml")).unwrap();
    let declared = "{ name: greet, source: build/greet.wasm, build: greet }";
    assert!(directive.contains(declared), "{directive}");
    // Long enough for the slow request below.
    let mut directive = directive.replace(
        declared,
        "{ name: greet, source: build/greet.wasm, build: greet, limits: { timeout: 30s } }",
    );
    directive.push_str(
        "  - { type: request, method: GET, resource: /greet, steps: [ { fn: greet } ] }\n",
    );
    std::fs::write(dir.join("Directive.yaml"), directive).unwrap();
    let source = dir.join("greet/src/lib.rs");
    std::fs::write(&source, runnable("v1")).unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_karman"));
    command
        .args(["dev", "Directive.yaml", "--poll-interval", "100ms"])
        .current_dir(&dir)
        .env("KARMAN_LOG", "info")
        .env("CARGO_TARGET_DIR", guest_target_dir());
    // The first start builds the Runnable (the SDK too, on a cold target directory).
    let binary = Binary::spawn(
        command,
        dir.join("Directive.yaml"),
        Duration::from_secs(600),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = client();
    let get = {
        let (client, base) = (client.clone(), binary.url(""));
        move |path: &str| {
            let (client, url) = (client.clone(), format!("{base}{path}"));
            async move {
                let response = client.get(url).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        }
    };
    assert_eq!(runtime.block_on(get("/greet")), (200, "v1".to_string()));

    // Requests all along: none may fail, and none may answer v1 after one answered v2.
    let answers = Arc::new(Mutex::new(Vec::new()));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let steady = runtime.spawn({
        let (get, answers) = (get.clone(), answers.clone());
        async move {
            while !*stopped.borrow_and_update() {
                let answer = get("/greet").await;
                answers.lock().unwrap().push(answer);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(25)) => {}
                    _ = stopped.changed() => {}
                }
            }
        }
    });

    // A source that does not compile: the error is logged and v1 keeps serving.
    std::fs::write(
        &source,
        runnable("v2").replace("Ok(b", "Ok(not_a_function(b"),
    )
    .unwrap();
    binary.wait_for_log(Duration::from_secs(300), |e| {
        message(e).starts_with("build failed")
    });
    assert_eq!(runtime.block_on(get("/greet")), (200, "v1".to_string()));

    // The fix, while slow requests keep starting (each 3 s long, one every 300 ms): the ones
    // in flight when the new app takes over finish on the old one.
    let builds_before = binary
        .logs_matching(|e| message(e).starts_with("sources changed"))
        .len();
    let slow_answers = Arc::new(Mutex::new(Vec::new()));
    let (stop_slow, slow_stopped) = tokio::sync::watch::channel(false);
    let slow = runtime.spawn({
        let (get, slow_answers) = (get.clone(), slow_answers.clone());
        async move {
            let mut requests = tokio::task::JoinSet::new();
            while !*slow_stopped.borrow() {
                let (get, slow_answers) = (get.clone(), slow_answers.clone());
                requests.spawn(async move {
                    let answer = get("/greet?ms=3000").await;
                    slow_answers.lock().unwrap().push((answer, Instant::now()));
                });
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            requests.join_all().await;
        }
    });
    std::fs::write(&source, runnable("v2")).unwrap();
    binary.wait_for_log(Duration::from_secs(300), |e| {
        message(e).starts_with("reloaded")
    });
    let reloaded = Instant::now();
    assert_eq!(runtime.block_on(get("/greet")), (200, "v2".to_string()));
    stop_slow.send(true).unwrap();
    runtime.block_on(slow).unwrap();
    let slow_answers = slow_answers.lock().unwrap();
    assert!(
        slow_answers.iter().all(|((status, _), _)| *status == 200),
        "a slow request failed: {slow_answers:?}"
    );
    let old_after_reload = slow_answers
        .iter()
        .filter(|((_, body), finished)| body == "v1" && *finished > reloaded)
        .count();
    assert!(
        old_after_reload > 0,
        "no request in flight at the reload finished on the old app: {slow_answers:?}"
    );

    stop.send(true).unwrap();
    runtime.block_on(steady).unwrap();
    let answers = answers.lock().unwrap();
    assert!(answers.len() > 10, "{answers:?}");
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "a request failed: {answers:?}"
    );
    let first_new = answers.iter().position(|(_, body)| body == "v2");
    let first_new = first_new.expect("v2 was answered");
    assert!(
        answers[..first_new].iter().all(|(_, body)| body == "v1")
            && answers[first_new..].iter().all(|(_, body)| body == "v2"),
        "{answers:?}"
    );
    assert_eq!(
        binary
            .logs_matching(|e| message(e).starts_with("sources changed"))
            .len(),
        builds_before + 1,
        "one rebuild for one change"
    );
    drop(binary);
    remove(&dir);
}

/// Removes the scratch directory (its `target/` is elsewhere).
fn remove(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
}
