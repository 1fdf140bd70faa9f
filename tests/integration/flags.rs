//! The flags and environment variables of `karman serve` and `karman check`, through the real
//! binary: booleans written `1/0`, `yes/no` or `true/false`, and flags that do nothing for what
//! is served or checked.

use std::process::Command;
use std::time::Duration;

use crate::support::{Binary, guest, repo_root};

const APP: &str = r#"
identifier: test.flags
appVersion: v1
components:
  - { name: hello, source: guest(hello) }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
schedules:
  - { name: tick, every: 1h, steps: [ { fn: hello } ] }
"#;

/// `karman serve <target> <args>` with `env`, for a run that must stop at once.
fn serve_refused(target: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .arg("serve")
        .arg(target)
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env(
            "KARMAN_CACHE_DIR",
            repo_root().join("target/karman-test-cache"),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "karman serve {target} {args:?} started"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn logged(binary: &Binary, text: &str) -> bool {
    !binary
        .logs_matching(|entry| {
            entry["fields"]["message"]
                .as_str()
                .is_some_and(|message| message.contains(text))
        })
        .is_empty()
}

#[tokio::test]
async fn boolean_variables_take_one_zero_yes_no_true_false_in_any_case() {
    let binary = Binary::serve_with(
        APP,
        "info",
        &[
            ("KARMAN_NO_COMPILE_CACHE", "1"),
            ("KARMAN_BACKGROUND_CONNECT", "Yes"),
            ("KARMAN_RUN_SCHEDULES", "NO"),
        ],
    );
    let reply = reqwest::get(binary.url("/hello/ada")).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        logged(&binary, "schedules are off in this process"),
        "KARMAN_RUN_SCHEDULES=NO turned the schedules off"
    );
    drop(binary);

    let binary = Binary::serve_with(APP, "info", &[("KARMAN_RUN_SCHEDULES", "1")]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!logged(&binary, "schedules are off"), "1 is true");
}

#[test]
fn a_boolean_variable_that_is_not_one_is_refused_by_name() {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    let stderr = serve_refused(
        directive.to_str().unwrap(),
        &[],
        &[("KARMAN_RUN_SCHEDULES", "maybe")],
    );
    assert!(stderr.contains("--run-schedules"), "{stderr}");
    assert!(stderr.contains("`maybe` is not a boolean"), "{stderr}");
    assert!(stderr.contains("1/0, yes/no or true/false"), "{stderr}");
}

/// The binary allocates with jemalloc, whose settings come from `_RJEM_MALLOC_CONF` (not
/// `MALLOC_CONF`: the crate prefixes jemalloc's names), as docs/deploy.md says.
#[cfg(not(target_env = "msvc"))]
#[test]
fn the_binary_allocates_with_jemalloc_set_by_rjem_malloc_conf() {
    let version_with = |variable: &str, conf: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_karman"))
            .arg("--version")
            .env(variable, conf)
            .output()
            .expect("the karman binary runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stats = version_with("_RJEM_MALLOC_CONF", "stats_print:true");
    assert!(stats.contains("Begin jemalloc statistics"), "{stats}");
    let refused = version_with("_RJEM_MALLOC_CONF", "dirty_decay_ms:soon");
    assert!(
        refused.contains("Invalid conf value: dirty_decay_ms:soon"),
        "{refused}"
    );
    let ignored = version_with("MALLOC_CONF", "stats_print:true");
    assert!(!ignored.contains("jemalloc"), "{ignored}");
}

#[test]
fn a_flag_that_does_nothing_for_a_directive_is_an_error() {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    let directive = directive.to_str().unwrap();
    for (flag, value, instead) in [
        ("--memory", "1GiB", "limits:"),
        ("--request-timeout", "10s", "limits:"),
        (
            "--allow-http",
            "api.example.com",
            "`capabilities: { http: { allow } }`",
        ),
    ] {
        let stderr = serve_refused(directive, &[flag, value], &[]);
        assert!(
            stderr.contains(&format!("{flag} does nothing when serving a Directive")),
            "{stderr}"
        );
        assert!(
            stderr.contains(instead),
            "says what to use instead: {stderr}"
        );
    }
}

#[test]
fn an_allow_http_entry_that_is_no_host_is_refused_naming_it() {
    let component = guest("http-echo");
    let component = component.to_str().unwrap();
    let stderr = serve_refused(component, &["--allow-http", "ftp://files.example.com"], &[]);
    assert!(stderr.contains("--allow-http"), "{stderr}");
    assert!(
        stderr.contains("`ftp://files.example.com`: only http and https can be allowed"),
        "{stderr}"
    );
    let stderr = serve_refused(component, &["--allow-private-http"], &[]);
    assert!(
        stderr.contains("--allow-http"),
        "needs --allow-http: {stderr}"
    );
}

#[test]
fn karman_check_takes_the_compile_cache_flags_and_refuses_the_serving_limits() {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    let check = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_karman"))
            .arg("check")
            .arg(&directive)
            .args(args)
            .output()
            .unwrap()
    };
    let cache = repo_root().join("target/karman-test-cache");
    let ok = check(&["--cache-dir", cache.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for flag in ["--max-instances", "--max-state", "--max-guest-memory"] {
        let refused = check(&[flag, "1"]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "karman check took {flag}");
        assert!(
            stderr.contains(&format!("unexpected argument '{flag}'")),
            "{stderr}"
        );
    }
}

#[test]
fn a_flag_that_does_nothing_for_a_component_is_an_error() {
    let component = guest("http-echo");
    let component = component.to_str().unwrap();
    for args in [
        &["--run-schedules", "false"][..],
        &["--max-state", "1MiB"],
        &["--background-connect"],
    ] {
        let stderr = serve_refused(component, args, &[]);
        assert!(
            stderr.contains(&format!(
                "{} does nothing when serving a component",
                args[0]
            )),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_variable_that_does_nothing_for_a_directive_is_a_warning() {
    let binary = Binary::serve_with(APP, "info", &[("KARMAN_MEMORY", "1GiB")]);
    let reply = reqwest::get(binary.url("/hello/ada")).await.unwrap();
    assert_eq!(reply.status(), 200, "it serves");
    assert!(
        logged(
            &binary,
            "KARMAN_MEMORY is set, but --memory does nothing when serving a Directive"
        ),
        "and says the variable is ignored"
    );
}
