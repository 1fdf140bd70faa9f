//! `karman new` and `karman build` with the real binary and the real toolchains: a Runnable in
//! each language, created from the built-in template into a Directive, built, and served; and
//! the errors that name what is missing.

use std::path::Path;
use std::process::Command;

use karman::ServerConfig;

use crate::support::{TestServer, guest_target_dir, repo_root, runtime_config, scratch};

fn karman(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .current_dir(dir)
        .env_remove("KARMAN_SDK_DIR")
        // The Rust template builds in a target directory of its own, shared across runs.
        .env("CARGO_TARGET_DIR", guest_target_dir())
        .output()
        .expect("karman runs")
}

/// Runs `program` in `dir`, failing the test with its output (or with what to install).
fn run(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): this test needs Python 3.10 or later")
        });
    assert!(
        output.status.success(),
        "`{program} {}` in {} failed: {}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sets a Python project up as its README says: a virtual environment (kept when there is
/// one), and its requirements installed into it.
fn set_up_python_project(dir: &Path) {
    if !dir.join(".venv/bin/python").exists() {
        run(dir, "python3", &["-m", "venv", ".venv"]);
    }
    run(
        dir,
        ".venv/bin/pip",
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runnable_in_each_language_is_created_built_and_served() {
    let dir = scratch("new");
    let sdks = repo_root().join("guest-sdks");
    let sdks = sdks.to_str().unwrap();
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
            &[
                "new",
                name,
                "--lang",
                lang,
                "--directive",
                "Directive.yaml",
                "--sdk-path",
                sdks,
            ],
        );
        assert!(created.status.success(), "{created:?}");
        assert!(dir.join(name).join("README.md").is_file());
    }
    let read = |path: &str| std::fs::read_to_string(dir.join(path)).unwrap();
    let manifest = read("in-rust/Cargo.toml");
    assert!(
        manifest.contains(&format!("karman-sdk = {{ path = \"{sdks}/rust\" }}")),
        "{manifest}"
    );
    let package: serde_json::Value = serde_json::from_str(&read("in-js/package.json")).unwrap();
    assert_eq!(
        package["devDependencies"]["@karman/sdk"],
        format!("file:{sdks}/js")
    );
    assert_eq!(
        read("in-python/requirements.txt"),
        format!("-e {sdks}/python\n")
    );

    let mut directive = read("Directive.yaml");
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

    // The Python project is set up as its README says (the JavaScript one by `karman build`).
    set_up_python_project(&dir.join("in-python"));

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
    assert!(
        log.contains("npm install (node_modules/ is missing)"),
        "{log}"
    );
    assert!(dir.join("in-js/node_modules/@karman/sdk").exists());

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
    // node_modules and .venv are large: keep them only when the test fails.
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_rust_template_depends_on_the_sdk_by_name_and_a_version_it_has() {
    let dir = scratch("published");
    let created = karman(&dir, &["new", "greet", "--lang", "rust"]);
    assert!(created.status.success(), "{created:?}");
    let manifest = std::fs::read_to_string(dir.join("greet/Cargo.toml")).unwrap();
    assert!(!manifest.contains("path ="), "{manifest}");

    // Resolved with the repository's SDK standing in for the published crate: the version the
    // template asks for is the SDK's.
    let sdk = repo_root().join("guest-sdks/rust");
    let output = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--config"])
        .arg(format!(
            "patch.crates-io.karman-sdk.path={:?}",
            sdk.to_str().unwrap()
        ))
        .current_dir(dir.join("greet"))
        .env("CARGO_TARGET_DIR", guest_target_dir())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let resolved: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|package| package["name"] == "karman-sdk")
        .map(|package| package["manifest_path"].as_str().unwrap())
        .collect();
    let expected = sdk.join("Cargo.toml");
    assert_eq!(resolved, [expected.to_str().unwrap()], "{manifest}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_toolchain_is_named_with_how_to_install_it() {
    let dir = scratch("missing");
    // A PATH without cargo, npm or python3.
    let empty = dir.join("bin");
    std::fs::create_dir_all(&empty).unwrap();
    for (name, file, missing) in [
        (
            "in-rust",
            "Cargo.toml",
            "`cargo` is not installed: install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`".to_string(),
        ),
        (
            "in-js",
            "package.json",
            "`npm` is not installed: install Node.js 20 or later, with npm (https://nodejs.org)"
                .to_string(),
        ),
        (
            "in-python",
            "app.py",
            format!(
                "`python3` is not installed: install Python 3.10 or later, then set the project up: cd {} && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
                dir.join("in-python").display()
            ),
        ),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join(file), r#"{"main": "app.js"}"#).unwrap();
        std::fs::write(
            dir.join("Directive.yaml"),
            format!("identifier: x\nappVersion: v1\ncomponents:\n  - {{ name: {name}, source: build/x.wasm, build: {name} }}\n"),
        )
        .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_karman"))
            .args(["build", "Directive.yaml"])
            .current_dir(&dir)
            .env("PATH", &empty)
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}");
        assert!(
            error.contains(&format!("Directive.yaml:4:7: component `{name}`"))
                && error.contains(&missing),
            "{name}: {error}"
        );
    }

    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["new", "Bad_Name", "--lang", "rust"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`Bad_Name` is not a component name"),
        "{output:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_python_project_without_the_sdk_is_told_how_to_set_it_up() {
    let dir = scratch("unset");
    let created = karman(&dir, &["new", "greet", "--lang", "python"]);
    assert!(created.status.success(), "{created:?}");
    std::fs::write(
        dir.join("Directive.yaml"),
        "identifier: x\nappVersion: v1\ncomponents:\n  - { name: greet, source: build/greet.wasm, build: greet }\n",
    )
    .unwrap();
    // A real interpreter that has no karman_sdk: a bare virtual environment.
    run(
        &dir.join("greet"),
        "python3",
        &["-m", "venv", "--without-pip", ".venv"],
    );
    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["build"])
        .current_dir(&dir)
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let project = dir.join("greet");
    assert!(
        error.contains(&format!(
            "`karman_sdk` cannot be imported by `{}`: set the project up with\n  cd {}\n  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
            project.join(".venv/bin/python").display(),
            project.display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polyglot_teams_example_is_built_by_karman_build_and_its_components_call_each_other() {
    // Built in place, as its README says: the Python project set up first, the JavaScript one
    // by `karman build` (npm install), the Rust one as a member of this workspace.
    let example = repo_root().join("examples/polyglot-teams");
    let _ = std::fs::remove_dir_all(example.join("build"));
    set_up_python_project(&example.join("components/pricing"));
    let built = karman(&example, &["build"]);
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{log}");
    for (name, language) in [
        ("pricing", "Python"),
        ("checkout", "Rust"),
        ("quote", "JavaScript"),
    ] {
        assert!(log.contains(&format!("==> {name} ({language})")), "{log}");
    }

    let app =
        karman_directive::load(&example.join("Directive.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start_app(app, runtime_config(), ServerConfig::default()).await;
    // Rust → Python: twelve items earn the bulk discount `pricing`'s own config: declares.
    let order = r#"{"lines":[{"sku":"tea","quantity":8,"unitCents":450},{"sku":"cup","quantity":4,"unitCents":1200}]}"#;
    let answer = server.post("/checkout", order).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "items": 12, "subtotalCents": 8400, "discountPercent": 15, "totalCents": 7140,
            "pricedBy": "acme:pricing/calc",
        })
    );
    // The exporter's error variant crosses as a value, and each importer answers it its way.
    let empty = server.post("/checkout", r#"{"lines":[]}"#).await;
    assert_eq!(
        (empty.status, empty.body.contains("the order has no lines")),
        (422, true),
        "{}",
        empty.body
    );

    // JavaScript → Python: below the bulk threshold, no discount; above `max-quantity`, refused.
    let answer = server.get("/quote/tea/3?unitCents=450").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "sku": "tea", "quantity": 3, "subtotalCents": 1350, "discountPercent": 0,
            "totalCents": 1350, "pricedBy": "acme:pricing/calc",
        })
    );
    let refused = server.get("/quote/tea/501?unitCents=450").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("a quantity is out of range: tea: 501 (1 to 500)"),
        "{}",
        refused.body
    );
}
