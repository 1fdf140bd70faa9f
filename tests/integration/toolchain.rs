//! `karman new` and `karman build` with the real binary and the real toolchains: a Runnable in
//! each language, created from its SDK's template into a Directive, built, and served.

use std::path::{Path, PathBuf};
use std::process::Command;

use karman::ServerConfig;

use crate::support::{TestServer, repo_root, runtime_config};

fn karman(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .current_dir(dir)
        .env("KARMAN_SDK_DIR", repo_root().join("guest-sdks"))
        .env(
            "KARMAN_PYTHON",
            repo_root().join("target/python-venv/bin/python"),
        )
        // The Rust template builds in a target directory of its own; share one across runs.
        .env(
            "CARGO_TARGET_DIR",
            repo_root().join("target/karman-new-test"),
        )
        .output()
        .expect("karman runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runnable_in_each_language_is_created_built_and_served() {
    let dir = scratch("new");
    std::fs::write(
        dir.join("Directive.yaml"),
        "identifier: com.example.trio\nappVersion: v1\ncomponents:\nhandlers:\n",
    )
    .unwrap();
    for (name, lang) in [
        ("in-rust", "rust"),
        ("in-js", "js"),
        ("in-python", "python"),
    ] {
        let created = karman(
            &dir,
            &["new", name, "--lang", lang, "--directive", "Directive.yaml"],
        );
        assert!(created.status.success(), "{created:?}");
        assert!(dir.join(name).is_dir());
    }
    let mut directive = std::fs::read_to_string(dir.join("Directive.yaml")).unwrap();
    for name in ["in-rust", "in-js", "in-python"] {
        assert!(
            directive.contains(&format!(
                "  - {{ name: {name}, source: build/{}.wasm, build: {name} }}",
                name.replace('-', "_")
            )),
            "{directive}"
        );
        directive.push_str(&format!(
            "  - {{ type: request, method: GET, resource: /{name}/:name, steps: [ {{ fn: {name} }} ] }}\n"
        ));
    }
    std::fs::write(dir.join("Directive.yaml"), &directive).unwrap();
    assert!(
        !karman(&dir, &["new", "in-js", "--lang", "js"])
            .status
            .success(),
        "an existing component is not overwritten"
    );

    let built = karman(&dir, &["build"]);
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{log}");
    for (name, language) in [
        ("in-rust", "Rust"),
        ("in-js", "JavaScript"),
        ("in-python", "Python"),
    ] {
        assert!(log.contains(&format!("==> {name} ({language})")), "{log}");
    }

    let app = karman_directive::load(&dir.join("Directive.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start_app(app, runtime_config(), ServerConfig::default()).await;
    for name in ["in-rust", "in-js", "in-python"] {
        let answer = server.get(&format!("/{name}/ada")).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "Hello, ada!"),
            "{name}"
        );
    }
}

#[test]
fn a_missing_toolchain_is_named_with_how_to_install_it() {
    let dir = scratch("missing");
    std::fs::create_dir_all(dir.join("greet")).unwrap();
    std::fs::write(dir.join("greet/app.py"), "").unwrap();
    std::fs::write(
        dir.join("Directive.yaml"),
        "identifier: x\nappVersion: v1\ncomponents:\n  - { name: greet, source: build/greet.wasm, build: greet }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["build", "Directive.yaml"])
        .current_dir(&dir)
        .env("KARMAN_SDK_DIR", repo_root().join("guest-sdks"))
        .env("KARMAN_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        error.contains("Directive.yaml:4:7: component `greet`")
            && error.contains("`/nonexistent/python3` is not installed: install Python 3.10 or later, then `pip install componentize-py==0.25.1`"),
        "{error}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["new", "Bad_Name", "--lang", "rust"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`Bad_Name` is not a component name"),
        "{output:?}"
    );
}
