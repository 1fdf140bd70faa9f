//! The JavaScript and Python SDKs as their users get them: each package's own test script packs
//! it (`npm pack`, `pip wheel`), installs it into an empty project outside the repository, and
//! builds a Runnable there with nothing else from the checkout (see the scripts' headers for
//! every check they make). A failing script fails the test with its output.

use std::process::Command;

use crate::support::repo_root;

fn run_package_test(script: &str) {
    let started = std::time::Instant::now();
    let output = Command::new("bash")
        .arg(repo_root().join(script))
        .current_dir(std::env::temp_dir())
        .env_remove("KEEP_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{log}");
    let last = String::from_utf8_lossy(&output.stdout)
        .lines()
        .rfind(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .to_string();
    assert!(
        last.starts_with("test-package: ok in") || last.starts_with("test-package: passed in"),
        "{script} did not report its end:\n{log}"
    );
    eprintln!("{script}: passed in {:.1?}", started.elapsed());
}

#[test]
fn the_npm_package_builds_a_runnable_outside_the_repository_with_karman_js_build_and_jco() {
    run_package_test("guest-sdks/js/scripts/test-package.sh");
}

#[test]
fn the_python_wheel_builds_a_runnable_outside_the_repository() {
    run_package_test("guest-sdks/python/scripts/test-package.sh");
}
