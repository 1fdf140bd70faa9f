//! What the installed `karman` binary says and writes without an app: `karman --version`, and
//! `karman wit --out` in both of its layouts.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{repo_root, scratch};

fn karman(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .output()
        .expect("the karman binary runs")
}

/// The `package` line of the repository's `wit/runnable.wit`, e.g. `karman:runnable@0.1.0`.
fn wit_package() -> String {
    let text = std::fs::read_to_string(repo_root().join("wit/runnable.wit")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("package "))
        .expect("wit/runnable.wit has a package line")
        .trim_end_matches(';')
        .to_string()
}

#[test]
fn version_names_the_build_and_the_wit_package_it_implements() {
    let output = karman(&["--version"]);
    assert!(output.status.success(), "{output:?}");
    let package = wit_package();
    assert!(package.starts_with("karman:runnable@"), "{package}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("karman {} ({package})\n", env!("CARGO_PKG_VERSION"))
    );
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn wit_out_writes_a_root_or_deps_beside_the_package_inside_a_deps_folder() {
    let dir = scratch("wit-out");
    let root = dir.join("karman-wit");
    let written = karman(&["wit", "--out", path_arg(&root)]);
    assert!(written.status.success(), "{written:?}");
    for file in ["runnable.wit", "deps/io.wit", "deps/http.wit"] {
        assert_eq!(
            std::fs::read(root.join(file)).unwrap(),
            std::fs::read(repo_root().join("wit").join(file)).unwrap(),
            "{file}"
        );
    }

    let vendored = dir.join("wit/deps/karman-runnable");
    let written = karman(&["wit", "--out", path_arg(&vendored)]);
    assert!(written.status.success(), "{written:?}");
    assert!(vendored.join("runnable.wit").is_file());
    assert!(dir.join("wit/deps/http.wit").is_file(), "deps beside it");
    assert!(!vendored.join("deps").exists(), "no nested deps");
    let again = karman(&["wit", "--out", path_arg(&vendored)]);
    assert!(
        again.status.success(),
        "identical files are fine: {again:?}"
    );
}

#[test]
fn wit_out_refuses_to_overwrite_a_different_file_and_names_it() {
    let dir = scratch("wit-conflict");
    let theirs = dir.join("wit/deps/http.wit");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, "package wasi:http@0.2.0;\n").unwrap();

    let output = karman(&[
        "wit",
        "--out",
        path_arg(&dir.join("wit/deps/karman-runnable")),
    ]);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&theirs.display().to_string()) && stderr.contains("other content"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        "package wasi:http@0.2.0;\n"
    );
    assert!(!dir.join("wit/deps/karman-runnable/runnable.wit").exists());
}
