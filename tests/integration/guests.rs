//! Every test component is used by a test: a guest without a test is dead weight, or a test
//! that was lost.

use crate::support::repo_root;

#[test]
fn every_test_guest_has_a_test() {
    // The test sources, in module directories (`hostile/…`) too.
    let mut sources = String::new();
    read_sources(&repo_root().join("tests/integration"), &mut sources);
    let mut unused = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("components")).unwrap() {
        let path = entry.unwrap().path();
        if !path.join("Cargo.toml").exists() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !sources.contains(&format!("guest({name})")) {
            unused.push(name);
        }
    }
    assert!(
        unused.is_empty(),
        "test components no test uses: {unused:?}"
    );
}

/// Appends every `.rs` file under `dir` but this one (`tests/integration/guests.rs`) to
/// `sources`.
fn read_sources(dir: &std::path::Path, sources: &mut String) {
    let this = repo_root().join("tests/integration/guests.rs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(&path, sources);
        } else if path.extension().is_some_and(|e| e == "rs") && path != this {
            sources.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
}
