//! Components built by cargo-component 0.21.1, live or recorded.
//!
//! cargo-component is an 11-minute compile, a tool CI does not install (`scripts/tools
//! --cargo-component` does). When it is installed in `$KARMAN_TOOLS/bin`, a test builds with it,
//! and the recording must be for the same inputs; `KARMAN_BLESS=1` rewrites the recording. When
//! it is not installed, the test serves the recording, `tests/fixtures/cargo-component/<name>.wasm`,
//! after checking that it was built from the inputs the test has now: `<name>.inputs` lists
//! the SHA-256 of every input file (the project's sources and manifest, the SDK crate it
//! depends on, the WIT packages it reads). A changed input fails the test with the files that
//! changed and how to record again.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{repo_root, tools_dir};

/// The cargo-component the recordings were made with.
pub const CARGO_COMPONENT_VERSION: &str = "0.21.1";

/// The installed cargo-component, when it is the recorded version.
fn cargo_component() -> Option<PathBuf> {
    let binary = tools_dir().join("bin/cargo-component");
    let output = std::process::Command::new(&binary)
        .args(["component", "--version"])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout);
    (output.status.success() && version.contains(&format!(" {CARGO_COMPONENT_VERSION}")))
        .then_some(binary)
}

/// The inputs of one build: directories, each listed under a label.
pub struct Inputs(Vec<(String, PathBuf)>);

impl Inputs {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Every file under `dir` but build outputs (`target/`), lock files (the resolution, not
    /// the sources), `cargo package`'s record of the commit, and a manifest's `[patch]` section
    /// (a path of this run).
    pub fn dir(mut self, label: &str, dir: &Path) -> Self {
        self.0.push((label.to_string(), dir.to_path_buf()));
        self
    }

    /// One line per file, `<sha256>  <label>/<path>`, sorted.
    pub fn fingerprint(&self) -> String {
        let mut lines = vec![format!(
            "# cargo component build --release, cargo-component {CARGO_COMPONENT_VERSION}"
        )];
        for (label, dir) in &self.0 {
            let mut files = Vec::new();
            list_files(dir, dir, &mut files);
            for relative in files {
                let bytes = std::fs::read(dir.join(&relative)).unwrap();
                let bytes = if relative == "Cargo.toml" {
                    without_patch(&String::from_utf8(bytes).unwrap()).into_bytes()
                } else {
                    bytes
                };
                lines.push(format!(
                    "{}  {label}/{relative}",
                    hex(&Sha256::digest(&bytes))
                ));
            }
        }
        lines[1..].sort();
        lines.join("\n") + "\n"
    }
}

fn list_files(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if [
            "target",
            "Cargo.lock",
            ".cargo_vcs_info.json",
            "Cargo.toml.orig",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            list_files(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            files.push(relative.to_string_lossy().into_owned());
        }
    }
}

/// A manifest without its `[patch.crates-io]` section (the last one, added by the tests).
fn without_patch(manifest: &str) -> String {
    match manifest.find("\n[patch.crates-io]") {
        Some(at) => manifest[..at].trim_end().to_string() + "\n",
        None => manifest.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The component cargo-component builds from `inputs`, recorded as `name`: built by `build` when the tool is there, else the recording, checked
/// against the inputs.
pub fn built_by_cargo_component(
    name: &str,
    inputs: &Inputs,
    build: impl FnOnce() -> PathBuf,
) -> PathBuf {
    let fixtures = repo_root().join("tests/fixtures/cargo-component");
    let recording = fixtures.join(format!("{name}.wasm"));
    let recorded_inputs = fixtures.join(format!("{name}.inputs"));
    let fingerprint = inputs.fingerprint();
    if cargo_component().is_none() {
        let recorded = std::fs::read_to_string(&recorded_inputs).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (record it with cargo-component installed, `scripts/tools --cargo-component`, and KARMAN_BLESS=1)",
                recorded_inputs.display()
            )
        });
        assert!(
            recorded == fingerprint,
            "the recording of {name} by cargo-component was built from other inputs; these changed:\n{}\n\
             record it again: `scripts/tools --cargo-component`, then this test with KARMAN_BLESS=1",
            changed(&recorded, &fingerprint)
        );
        eprintln!(
            "{name}: the recording of cargo-component {CARGO_COMPONENT_VERSION}'s build (not installed)"
        );
        return recording;
    }
    let built = build();
    if std::env::var_os("KARMAN_BLESS").is_some() {
        std::fs::create_dir_all(&fixtures).unwrap();
        std::fs::copy(&built, &recording).unwrap();
        std::fs::write(&recorded_inputs, &fingerprint).unwrap();
    }
    let recorded = std::fs::read_to_string(&recorded_inputs).unwrap_or_default();
    assert!(
        recorded == fingerprint,
        "the recording of {name} is out of date; these inputs changed:\n{}\nrerun with KARMAN_BLESS=1 and commit tests/fixtures/cargo-component/",
        changed(&recorded, &fingerprint)
    );
    built
}

/// The lines of two fingerprints that differ, `-` recorded and `+` now.
fn changed(recorded: &str, now: &str) -> String {
    let before: Vec<&str> = recorded.lines().collect();
    let after: Vec<&str> = now.lines().collect();
    let mut out = Vec::new();
    out.extend(
        before
            .iter()
            .filter(|l| !after.contains(l))
            .map(|l| format!("  - {l}")),
    );
    out.extend(
        after
            .iter()
            .filter(|l| !before.contains(l))
            .map(|l| format!("  + {l}")),
    );
    out.join("\n")
}
