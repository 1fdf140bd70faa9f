//! Loading an app: components refused with clear errors, the compiled-code cache, and
//! `karman check`.

use std::process::Command;

use karman_runtime::{LoadError, Runtime};

use crate::support::{app, expand, repo_root, runtime_config};

/// The load error of `yaml`, as `karman check` and `karman serve` print it.
pub(crate) fn load_error(yaml: &str) -> String {
    match Runtime::load(app(yaml), runtime_config()) {
        Ok(_) => panic!("the app loaded"),
        Err(LoadError::Components(errors)) => errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[test]
fn an_import_without_its_grant_loads_with_a_warning() {
    let runtime = Runtime::load(
        app(r#"
identifier: test.loading
appVersion: v1
components:
  - { name: fetcher, source: guest(http-user) }
"#),
        runtime_config(),
    )
    .expect("the app loads");
    let report = &runtime.reports()[0];
    assert!(
        report
            .imports
            .iter()
            .any(|i| i == "karman:runnable/http@0.1.0"),
        "{:?}",
        report.imports
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("imports `http` without a grant")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_component_that_does_not_export_run_is_refused_at_load() {
    // A valid component with no exports at all.
    let dir = repo_root().join("target/karman-test-tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty-component.wasm");
    std::fs::write(&empty, [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]).unwrap();
    let error = load_error(&format!(
        "identifier: t\nappVersion: v1\ncomponents:\n  - {{ name: empty, source: {} }}\n",
        empty.display()
    ));
    assert!(
        error.contains("component `empty`: does not export `run`"),
        "{error}"
    );
}

#[test]
fn every_component_that_cannot_compile_is_reported_in_directive_order() {
    // Components compile several at once; the errors still come one per component, in the
    // Directive's order, and a valid component between them changes nothing.
    let dir = repo_root().join(format!(
        "target/karman-test-tmp/compile-errors-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // Both carry a component's header (the Directive's check passes) and fail to compile.
    const HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let garbage = dir.join("garbage.wasm");
    std::fs::write(&garbage, [&HEADER[..], b"not wasm at all"].concat()).unwrap();
    let truncated = dir.join("truncated.wasm");
    // A custom section that claims 100 bytes and has 2.
    std::fs::write(
        &truncated,
        [&HEADER[..], &[0x00, 0x64, 0x01, 0x61]].concat(),
    )
    .unwrap();
    let error = load_error(&format!(
        "identifier: t\nappVersion: v1\ncomponents:\n  \
         - {{ name: hello, source: guest(hello) }}\n  \
         - {{ name: first-bad, source: {} }}\n  \
         - {{ name: echo, source: guest(echo) }}\n  \
         - {{ name: second-bad, source: {} }}\n",
        garbage.display(),
        truncated.display()
    ));
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(
        lines[0].contains(":5:")
            && lines[0].contains("component `first-bad`: `")
            && lines[0].contains("garbage.wasm` is not a valid component"),
        "{error}"
    );
    assert!(
        lines[1].contains(":7:")
            && lines[1].contains("component `second-bad`: `")
            && lines[1].contains("truncated.wasm` is not a valid component"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_restart_loads_compiled_code_from_the_cache() {
    let yaml = r#"
identifier: test.cache
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
  - { name: echo, source: guest(echo) }
"#;
    let mut config = runtime_config();
    let dir = repo_root().join(format!(
        "target/karman-test-tmp/compile-cache-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    config.engine.cache_dir = Some(dir.clone());

    let first = Runtime::load(app(yaml), config.clone()).unwrap();
    assert_eq!(
        (first.engine().cache_hits(), first.engine().cache_misses()),
        (0, 2)
    );
    drop(first);
    let second = Runtime::load(app(yaml), config).unwrap();
    assert_eq!(
        (second.engine().cache_hits(), second.engine().cache_misses()),
        (2, 0)
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn karman(args: &[&str]) -> std::process::Output {
    karman_with_env(args, &[])
}

fn karman_with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .env(
            "KARMAN_CACHE_DIR",
            repo_root().join("target/karman-test-cache"),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `karman check` of an example app (with `env` set), asserting it succeeds.
fn check_example(name: &str, env: &[(&str, &str)]) -> String {
    let directive = repo_root().join(format!("examples/{name}/Directive.yaml"));
    let output = karman_with_env(&["check", directive.to_str().unwrap()], env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn check_lists_outbound_grants_and_the_endpoints_of_custom_routes() {
    let card = check_example("github-card", &[("GITHUB_TOKEN", "not-a-real-token")]);
    assert!(
        card.contains("grants:  log, graphql (allow: api.github.com)"),
        "{card}"
    );
    assert!(
        card.contains("grants:  log, http (allow: api.github.com)"),
        "{card}"
    );
    let secret = "0123456789abcdef0123456789abcdef";
    let billing = check_example("billing", &[("BILLING_JWT_SECRET", secret)]);
    for line in [
        "POST /ext/billing/debit -> billing (authenticated, maxBody 4096 B, timeout 2s)",
        "GET /ext/billing/balance/:account -> billing (role:reader, rate 50/s)",
        "GET /ext/billing/whoami -> billing (public)",
        "tokens: HS256",
    ] {
        assert!(billing.contains(line), "{line} in {billing}");
    }
    assert!(!billing.contains(secret), "the secret is not printed");
}

#[test]
fn check_prints_a_summary_of_a_valid_app() {
    let example = repo_root().join("examples/hello/Directive.yaml");
    let output = karman(&["check", example.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("com.example.hello v0.1.0: OK"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "GET /hello/:name -> greet -> group(visits, fortune) -> render (response: render)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("grants:  cache (prefix \"visits:\"), log"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nbackends: cache in memory, sql none\n"),
        "{stdout}"
    );
}

#[test]
fn check_fails_with_every_problem_and_its_position() {
    let dir = repo_root().join("target/karman-test-tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("broken-{}.yaml", std::process::id()));
    std::fs::write(
        &path,
        expand(
            r#"identifier: broken
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
handlers:
  - type: request
    method: GET
    resource: /a
    stpes: []
  - type: request
    method: GET
    resource: /b
    steps: [ { fn: helo } ]
"#,
        ),
    )
    .unwrap();
    let output = karman(&["check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.display();
    assert!(
        stderr.contains(&format!(
            "{file}:9:5: unknown key `stpes` in a handler\n  hint: did you mean `steps`?"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{file}:13:20: step runs `helo`, which is not a declared component\n  hint: did you mean `hello`?")), "{stderr}");
}
