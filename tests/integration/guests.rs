//! Every test component is used by a test: a guest without a test is dead weight, or a test
//! that was lost.

use crate::support::repo_root;

#[test]
fn every_test_guest_has_a_test() {
    let tests_dir = repo_root().join("tests/integration");
    let mut sources = String::new();
    let mut dirs = vec![tests_dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("guests.rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
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
