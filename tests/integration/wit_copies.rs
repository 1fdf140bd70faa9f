//! Every crate and SDK package carries its own copy of the WIT package (so each is
//! self-contained when published); `scripts/sync-wit` makes the copies from the canonical `wit/`
//! at the repository root. This test fails while a copy differs from `wit/`, naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::repo_root;

/// The copies `scripts/sync-wit` makes, relative to the repository root.
const COPIES: &[&str] = &[
    "host/runtime/wit",
    "guest-sdks/rust/wit",
    "guest-sdks/js/wit",
    "guest-sdks/python/karman_sdk/wit",
];

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy();
                into.insert(name.into_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// How `copy` differs from `canonical`, one line per file; empty when they are equal.
fn differences(
    canonical: &BTreeMap<String, Vec<u8>>,
    copy: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, bytes) in canonical {
        match copy.get(name) {
            None => lines.push(format!("{name}: missing from the copy")),
            Some(copied) if copied != bytes => {
                lines.push(format!("{name}: differs from wit/{name}"))
            }
            Some(_) => {}
        }
    }
    for name in copy.keys().filter(|name| !canonical.contains_key(*name)) {
        lines.push(format!("{name}: not in wit/"));
    }
    lines
}

#[test]
fn every_copy_of_the_wit_package_is_the_canonical_wit_folder() {
    let root = repo_root();
    let canonical = files(&root.join("wit"));
    assert!(
        canonical.contains_key("runnable.wit") && canonical.contains_key("deps/io.wit"),
        "wit/ holds the package and its deps: {:?}",
        canonical.keys()
    );
    let mut problems = Vec::new();
    for copy in COPIES {
        let dir = root.join(copy);
        if !dir.is_dir() {
            problems.push(format!("{copy}/ does not exist"));
            continue;
        }
        for line in differences(&canonical, &files(&dir)) {
            problems.push(format!("{copy}/{line}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the WIT copies differ from wit/ (run scripts/sync-wit):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_changed_missing_or_extra_file_is_named() {
    let canonical = BTreeMap::from([
        ("runnable.wit".to_string(), b"package a:b;".to_vec()),
        ("deps/io.wit".to_string(), b"package wasi:io;".to_vec()),
    ]);
    let copy = BTreeMap::from([
        ("runnable.wit".to_string(), b"package a:c;".to_vec()),
        ("deps/old.wit".to_string(), Vec::new()),
    ]);
    assert_eq!(
        differences(&canonical, &copy),
        [
            "deps/io.wit: missing from the copy",
            "runnable.wit: differs from wit/runnable.wit",
            "deps/old.wit: not in wit/",
        ]
    );
    assert!(differences(&canonical, &canonical).is_empty());
}
