//! Karman as a user outside this repository gets it: the `karman` binary copied out, the Rust
//! SDK as `cargo package` makes it, the JavaScript SDK as `npm pack` makes it and the Python SDK
//! as `pip wheel` makes it, all unpacked into a temporary directory; `karman new` in each
//! language, each project built with its own toolchain (the Rust one also with
//! `cargo component`, or its recording when the tool is not installed: [`crate::support::recorded`]),
//! one Directive with the three in one handler, served by the copied binary.
//! Every command runs with a clean environment (no variable of this build), and no file the
//! projects hold may name the checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{
    Inputs, built_by_cargo_component, client, free_port, guest_target_dir, repo_root, tools_dir,
};

/// Where the copied-out world lives: the system's temporary directory, never the checkout.
struct Outside {
    root: PathBuf,
    started: Instant,
}

/// The tools a user installs once (cargo-component), outside any checkout.
fn tools_bin() -> PathBuf {
    tools_dir().join("bin")
}

impl Outside {
    fn new() -> Self {
        let root =
            std::env::temp_dir().join(format!("karman-outside-{}", uuid::Uuid::new_v4().simple()));
        let repo = std::fs::canonicalize(repo_root()).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let root = std::fs::canonicalize(root).unwrap();
        assert!(
            !root.starts_with(&repo),
            "{} is inside the checkout",
            root.display()
        );
        // `karman` on the PATH of every command is this copy.
        std::fs::copy(env!("CARGO_BIN_EXE_karman"), root.join("bin/karman")).unwrap();
        Self {
            root,
            started: Instant::now(),
        }
    }

    /// `program args…` in `dir` with only PATH (the copied `karman` and the user's tools first),
    /// HOME and the user's `RUSTUP_AUTO_INSTALL`: nothing of this test's own environment
    /// (`CARGO_*`, `RUSTUP_TOOLCHAIN`, …).
    /// Rust builds share one target directory outside the checkout, as a user's
    /// `CARGO_TARGET_DIR` would, so that later runs are quick.
    fn command(&self, dir: &Path, program: &str, args: &[&str]) -> Command {
        let path = std::env::join_paths(
            [self.root.join("bin"), tools_bin()]
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let home = std::env::var_os("HOME").unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("CARGO_TARGET_DIR", guest_target_dir())
            .env("npm_config_update_notifier", "false");
        // The user's own rustup setting: with auto-install on, a cargo run that lacks a target
        // rust-toolchain.toml names updates the whole `stable` toolchain first.
        if let Some(auto_install) = std::env::var_os("RUSTUP_AUTO_INSTALL") {
            command.env("RUSTUP_AUTO_INSTALL", auto_install);
        }
        command
    }

    fn run(&self, dir: &Path, program: &str, args: &[&str]) -> Output {
        let step = Instant::now();
        let output = self
            .command(dir, program, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{program}`: {e}"));
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "`{program} {}` in {} failed ({}):\n{log}",
            args.join(" "),
            dir.display(),
            output.status
        );
        eprintln!(
            "outside: `{program} {}` took {:.1?} (at {:.0?})",
            args.join(" "),
            step.elapsed(),
            self.started.elapsed()
        );
        output
    }
}

impl Outside {
    /// `cargo component build --release` in `dir`: the component it made, `<file_name>`.
    fn cargo_component_build(&self, dir: &Path, file_name: &str) -> PathBuf {
        let built = self.run(
            dir,
            "cargo",
            &[
                "component",
                "build",
                "--release",
                "--message-format",
                "json-render-diagnostics",
            ],
        );
        String::from_utf8_lossy(&built.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|file| file.as_str().map(PathBuf::from))
            .find(|file| file.file_name().is_some_and(|name| name == file_name))
            .unwrap_or_else(|| panic!("cargo component built no {file_name}"))
    }
}

/// The only file of `dir` that ends with `suffix`.
fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{suffix} files in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

/// Every file under `dir` (build outputs and virtual environments included) that names
/// `needle`, a path of the checkout.
fn files_naming(dir: &Path, needle: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            if target.to_string_lossy().contains(needle) {
                found.push(path);
            }
        } else if kind.is_dir() {
            files_naming(&path, needle, found);
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        {
            found.push(path);
        }
    }
}

const RUST_STEP: &str = r#"
use karman_sdk::{RunErr, Runnable, req};

struct Component;

impl Runnable for Component {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_default();
        Ok(format!("{name}: rust").into_bytes())
    }
}

karman_sdk::export!(Component);
"#;

const JS_STEP: &str = r#"
import { req, runnable } from '@karman/sdk';

export const run = runnable(() => `${req.stateText('greet-rs')}, js`);
"#;

const PYTHON_STEP: &str = r#"
from karman_sdk import req, runnable


@runnable
def run(input: bytes) -> str:
    return req.state("greet-js").decode() + ", python"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karman_and_its_sdks_work_outside_the_checkout() {
    let outside = Outside::new();
    let root = outside.root.clone();
    let repo = repo_root();
    let packages = root.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    let packages_arg = packages.to_str().unwrap();

    // The three SDKs, packed as they are published, then unpacked outside.
    outside.run(
        &repo,
        "cargo",
        &[
            "package",
            "-p",
            "karman-sdk",
            "--no-verify",
            "--allow-dirty",
            "--target-dir",
            root.join("package-target").to_str().unwrap(),
        ],
    );
    let crate_file = only_file(&root.join("package-target/package"), ".crate");
    outside.run(
        &packages,
        "tar",
        &["xzf", crate_file.to_str().unwrap(), "-C", packages_arg],
    );
    let sdk_crate = only_file(&packages, "karman-sdk-0.1.0");
    let npm_tarball = {
        outside.run(
            &repo.join("guest-sdks/js"),
            "npm",
            &[
                "pack",
                "--pack-destination",
                packages_arg,
                "--loglevel=error",
            ],
        );
        only_file(&packages, ".tgz")
    };
    let wheel = {
        outside.run(
            &root,
            "python3",
            &[
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "-w",
                packages_arg,
                repo.join("guest-sdks/python").to_str().unwrap(),
            ],
        );
        only_file(&packages, ".whl")
    };

    // A Directive and one component per language, made by `karman new` (no --sdk-path).
    let app = root.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("Directive.yaml"),
        "identifier: com.example.outside\nappVersion: v1\ncomponents:\nhandlers:\n",
    )
    .unwrap();
    for (name, lang) in [
        ("greet-rs", "rust"),
        ("greet-js", "js"),
        ("greet-py", "python"),
    ] {
        outside.run(
            &app,
            "karman",
            &["new", name, "--lang", lang, "--directive", "Directive.yaml"],
        );
    }

    // Each project gets its SDK the way a user without a registry copy would: Rust by a
    // `[patch]` to the unpacked crate, JavaScript from the tarball, Python from the wheel.
    let rust = app.join("greet-rs");
    let mut manifest = std::fs::read_to_string(rust.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("karman-sdk = \"0.1"),
        "the SDK by name and version:\n{manifest}"
    );
    manifest.push_str(&format!(
        "\n[patch.crates-io]\nkarman-sdk = {{ path = {:?} }}\n",
        sdk_crate.to_str().unwrap()
    ));
    std::fs::write(rust.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(rust.join("src/lib.rs"), RUST_STEP).unwrap();

    let js = app.join("greet-js");
    let package_json = std::fs::read_to_string(js.join("package.json")).unwrap();
    assert!(
        package_json.contains("\"@karman/sdk\": \"^0.1"),
        "the SDK by name and version:\n{package_json}"
    );
    outside.run(
        &js,
        "npm",
        &[
            "install",
            "--save-dev",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefer-offline",
            npm_tarball.to_str().unwrap(),
        ],
    );
    std::fs::write(js.join("app.js"), JS_STEP).unwrap();

    let python = app.join("greet-py");
    let requirements = std::fs::read_to_string(python.join("requirements.txt")).unwrap();
    assert!(
        requirements.contains("karman-sdk==0.1"),
        "the SDK by name and version:\n{requirements}"
    );
    outside.run(&python, "python3", &["-m", "venv", ".venv"]);
    outside.run(
        &python,
        ".venv/bin/pip",
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            wheel.to_str().unwrap(),
        ],
    );
    std::fs::write(python.join("app.py"), PYTHON_STEP).unwrap();

    // Built with each language's own toolchain through `karman build`, and the Rust one also
    // with cargo-component.
    let built = outside.run(&app, "karman", &["build", "Directive.yaml"]);
    let log = String::from_utf8_lossy(&built.stderr);
    for (name, language) in [
        ("greet-rs", "Rust"),
        ("greet-js", "JavaScript"),
        ("greet-py", "Python"),
    ] {
        assert!(log.contains(&format!("==> {name} ({language})")), "{log}");
    }
    let inputs = Inputs::new()
        .dir("greet-rs", &rust)
        .dir("karman-sdk", &sdk_crate);
    let by_cargo_component = built_by_cargo_component("greet-rs", &inputs, || {
        outside.cargo_component_build(&rust, "greet_rs.wasm")
    });
    std::fs::copy(&by_cargo_component, app.join("build/greet_rs_cc.wasm")).unwrap();

    // One handler with the three steps in order, and the cargo-component build on its own.
    let mut directive = std::fs::read_to_string(app.join("Directive.yaml")).unwrap();
    directive = directive.replace(
        "handlers:\n",
        "  - { name: greet-rs-cc, source: build/greet_rs_cc.wasm }\nhandlers:\n",
    );
    directive.push_str(
        "  - { type: request, method: GET, resource: /trio/:name, \
         steps: [ { fn: greet-rs }, { fn: greet-js }, { fn: greet-py } ] }\n\
         \x20 - { type: request, method: GET, resource: /cc/:name, steps: [ { fn: greet-rs-cc } ] }\n",
    );
    std::fs::write(app.join("Directive.yaml"), &directive).unwrap();
    outside.run(&app, "karman", &["check", "Directive.yaml"]);

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = outside
        .command(
            &app,
            "karman",
            &["serve", "Directive.yaml", "--listen", &listen],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = client();
    let base = format!("http://{listen}");
    let waited = Instant::now();
    let trio = loop {
        match http.get(format!("{base}/trio/ada")).send().await {
            Ok(response) => break response,
            Err(error) if waited.elapsed() < Duration::from_secs(60) => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the copied-out karman never answered: {error}"),
        }
    };
    let status = trio.status().as_u16();
    let body = trio.text().await.unwrap();
    let cc = http.get(format!("{base}/cc/grace")).send().await.unwrap();
    let cc = (cc.status().as_u16(), cc.text().await.unwrap());
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!((status, body.as_str()), (200, "ada: rust, js, python"));
    assert_eq!((cc.0, cc.1.as_str()), (200, "grace: rust"));

    // Nothing the projects hold, lock files and installed packages included, names the
    // checkout.
    let mut naming = Vec::new();
    let checkout = std::fs::canonicalize(&repo).unwrap();
    files_naming(&app, checkout.to_str().unwrap(), &mut naming);
    files_naming(&packages, checkout.to_str().unwrap(), &mut naming);
    assert!(naming.is_empty(), "files naming the checkout: {naming:#?}");
    for lock in ["greet-rs/Cargo.lock", "greet-js/package-lock.json"] {
        assert!(app.join(lock).is_file(), "{lock} was written");
    }

    eprintln!("outside: everything took {:.1?}", outside.started.elapsed());
    std::fs::remove_dir_all(&root).unwrap();
}

const TEAM_WORLD: &str = r#"package acme:greeter@0.1.0;

/// What the team's services tell about themselves.
interface about {
    version: func() -> string;
}

/// A Karman Runnable that also exports the team's own interface.
world service {
    include karman:runnable/runnable@0.1.0;
    export about;
}
"#;

const TEAM_MANIFEST: &str = r#"[package]
name = "acme-greeter"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen-rt = { version = "0.44.0", features = ["bitflags"] }

[package.metadata.component]
package = "acme:greeter"

[package.metadata.component.target]
path = "wit"
world = "service"

# cargo-component reads a dependency's own dependencies only from a binary WIT package.
[package.metadata.component.target.dependencies]
"karman:runnable" = { path = "vendor/karman-runnable.wasm" }

[workspace]
"#;

const TEAM_RUNNABLE: &str = r#"#[allow(warnings)]
mod bindings;

use bindings::karman::runnable::req;
use bindings::karman::runnable::types::RunError;

struct Component;

impl bindings::Guest for Component {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunError> {
        let name = req::url_param("name").unwrap_or_default();
        Ok(format!("{name}, from acme:greeter {}", <Component as bindings::exports::acme::greeter::about::Guest>::version()).into_bytes())
    }
}

impl bindings::exports::acme::greeter::about::Guest for Component {
    fn version() -> String {
        "0.1.0".to_string()
    }
}

bindings::export!(Component with_types_in bindings);
"#;

/// docs/wit-package.md, as a team does it: its own WIT package whose world includes
/// `karman:runnable/runnable`, the Karman package vendored as a binary WIT package by
/// `karman wit --wasm`, built with cargo-component and served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_wit_package_including_karman_runnable_builds_with_cargo_component() {
    let outside = Outside::new();
    let team = outside.root.join("acme-greeter");
    std::fs::create_dir_all(team.join("src")).unwrap();
    std::fs::create_dir_all(team.join("wit")).unwrap();
    std::fs::write(team.join("Cargo.toml"), TEAM_MANIFEST).unwrap();
    std::fs::write(team.join("wit/world.wit"), TEAM_WORLD).unwrap();
    std::fs::write(team.join("src/lib.rs"), TEAM_RUNNABLE).unwrap();

    outside.run(
        &team,
        "karman",
        &["wit", "--wasm", "vendor/karman-runnable.wasm"],
    );
    let inputs = Inputs::new().dir("acme-greeter", &team);
    let wasm = built_by_cargo_component("acme-greeter", &inputs, || {
        outside.cargo_component_build(&team, "acme_greeter.wasm")
    });
    let component = outside.root.join("acme-greeter.wasm");
    std::fs::copy(&wasm, &component).unwrap();

    let yaml = format!(
        "identifier: com.acme.greeter\nappVersion: v1\ncomponents:\n\
         \x20 - {{ name: greeter, source: {} }}\n\
         handlers:\n\
         \x20 - {{ type: request, method: GET, resource: /greet/:name, steps: [ {{ fn: greeter }} ] }}\n",
        component.display()
    );
    let server = crate::support::TestServer::start(&yaml).await;
    let answer = server.get("/greet/ada").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "ada, from acme:greeter 0.1.0")
    );
    std::fs::remove_dir_all(&outside.root).unwrap();
}
