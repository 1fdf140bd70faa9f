//! A Rust component: `cargo build --release --target wasm32-wasip2`, then the `.wasm` that
//! Cargo reports for the package copied to the component's `source`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Builds the Cargo package in `dir` into `out`.
pub(super) fn build(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    let output = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            super::spawn_error(
                "cargo",
                e,
                "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`",
            )
        })?;
    if !output.status.success() {
        bail!(
            "cargo failed ({}); if the target is missing: rustup target add wasm32-wasip2",
            output.status
        );
    }
    let manifest = std::fs::canonicalize(&manifest)?;
    let wasm = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["manifest_path"]
                    .as_str()
                    .is_some_and(|path| Path::new(path) == manifest)
        })
        .flat_map(|message| {
            message["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .with_context(|| {
            format!(
                "cargo built no .wasm for `{}`: is it a `cdylib`?",
                manifest.display()
            )
        })?;
    std::fs::copy(&wasm, out)
        .with_context(|| format!("cannot copy `{}` to `{}`", wasm.display(), out.display()))?;
    Ok(())
}
