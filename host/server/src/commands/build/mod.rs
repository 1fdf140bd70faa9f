//! `karman build`: builds every component of a Directive that names its source directory
//! (`build:`), by the language found there, and puts the result at the component's `source`.
//!
//! | the directory holds | language | how |
//! |---------------------|----------|-----|
//! | `Cargo.toml` | Rust | `cargo build --release --target wasm32-wasip2` |
//! | `package.json` | JavaScript | componentize-js, through `guest-sdks/js/build.mjs` |
//! | `pyproject.toml` or `app.py` | Python | componentize-py, through `karman_sdk.build` |
//!
//! The JavaScript and Python SDKs are found in `$KARMAN_SDK_DIR` (a `guest-sdks` directory), else
//! in a `guest-sdks` directory above the Directive or above the `karman` binary. Python runs as
//! `$KARMAN_PYTHON`, else `python3`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use karman_directive::App;

/// The language of a component's source directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Cargo package (`karman-sdk`).
    Rust,
    /// An npm package (`@karman/sdk`, componentize-js).
    JavaScript,
    /// A Python module (`karman_sdk`, componentize-py).
    Python,
}

impl Language {
    /// The language of the source in `dir`.
    pub fn detect(dir: &Path) -> anyhow::Result<Self> {
        if dir.join("Cargo.toml").exists() {
            Ok(Language::Rust)
        } else if dir.join("package.json").exists() {
            Ok(Language::JavaScript)
        } else if dir.join("pyproject.toml").exists() || dir.join("app.py").exists() {
            Ok(Language::Python)
        } else {
            bail!(
                "`{}` holds no Cargo.toml, package.json, pyproject.toml or app.py: which language is it?",
                dir.display()
            )
        }
    }

    fn name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::JavaScript => "JavaScript",
            Language::Python => "Python",
        }
    }
}

/// The arguments of `karman build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The Directive (YAML) of the app.
    #[arg(default_value = "Directive.yaml")]
    directive: PathBuf,
}

/// Runs `karman build`.
pub fn run(args: &BuildArgs) -> anyhow::Result<()> {
    let app = karman_directive::load_unbuilt(&args.directive)
        .map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))?;
    build_app(&app, &args.directive)
}

/// Builds every component of `app` with a `build:` directory; `directive` locates the SDKs.
pub fn build_app(app: &App, directive: &Path) -> anyhow::Result<()> {
    let buildable: Vec<_> = app
        .components
        .iter()
        .filter(|c| c.build.is_some())
        .collect();
    if buildable.is_empty() {
        bail!("no component of the Directive has a `build:` directory to build from");
    }
    for component in buildable {
        let dir = component.build.as_deref().expect("filtered");
        let language = Language::detect(dir)
            .with_context(|| format!("{}: component `{}`", component.location, component.name))?;
        eprintln!(
            "==> {} ({}) from {}",
            component.name,
            language.name(),
            dir.display()
        );
        let started = Instant::now();
        if let Some(parent) = component.source.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let built = match language {
            Language::Rust => build_rust(dir, &component.source),
            Language::JavaScript => build_javascript(dir, &component.source, directive),
            Language::Python => build_python(dir, &component.source, directive),
        };
        built.with_context(|| format!("{}: component `{}`", component.location, component.name))?;
        let size = std::fs::metadata(&component.source)
            .map(|m| m.len())
            .unwrap_or(0);
        eprintln!(
            "    {} ({} KiB) in {:.1}s",
            component.source.display(),
            size.div_ceil(1024),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Runs `command`, its output going to our stderr; `missing` says how to install the tool.
fn run_tool(command: &mut Command, missing: &str) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command.stdout(Stdio::inherit()).status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("`{program}` is not installed: {missing}")
        } else {
            anyhow::anyhow!("cannot run `{program}`: {e}")
        }
    })?;
    if !status.success() {
        bail!("`{program}` failed ({status})");
    }
    Ok(())
}

fn build_rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    let output = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow::anyhow!(
                    "`cargo` is not installed: install Rust with rustup (https://rustup.rs)"
                )
            }
            _ => anyhow::anyhow!("cannot run cargo: {e}"),
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

/// The `guest-sdks` directory: `$KARMAN_SDK_DIR`, else one above the Directive or the binary.
pub(crate) fn sdk_dir(directive: &Path) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KARMAN_SDK_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let directive = std::path::absolute(directive)?;
    let binary = std::env::current_exe()?;
    for start in [directive.as_path(), binary.as_path()] {
        if let Some(found) = start
            .ancestors()
            .map(|dir| dir.join("guest-sdks"))
            .find(|dir| dir.join("js").is_dir() || dir.join("python").is_dir())
        {
            return Ok(found);
        }
    }
    bail!(
        "the Karman guest SDKs were not found: set KARMAN_SDK_DIR to the `guest-sdks` directory of a Karman checkout"
    )
}

fn build_javascript(dir: &Path, out: &Path, directive: &Path) -> anyhow::Result<()> {
    let sdk = sdk_dir(directive)?.join("js");
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package.json")).context("cannot read package.json")?,
    )
    .context("package.json is not JSON")?;
    let entry = package["main"]
        .as_str()
        .map(|main| dir.join(main))
        .or_else(|| {
            ["app.js", "index.js"]
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.exists())
        })
        .context("package.json names no `main`, and there is no app.js or index.js")?;
    run_tool(
        &mut Command::new(sdk.join("scripts/ensure-deps.sh")),
        "install Node.js 20 or later with npm",
    )?;
    run_tool(
        Command::new("node")
            .arg(sdk.join("build.mjs"))
            .arg(&entry)
            .arg("-o")
            .arg(out),
        "install Node.js 20 or later",
    )
}

fn build_python(dir: &Path, out: &Path, directive: &Path) -> anyhow::Result<()> {
    let sdk = sdk_dir(directive)?.join("python");
    let python = std::env::var_os("KARMAN_PYTHON").unwrap_or_else(|| "python3".into());
    let app = ["app.py", "main.py"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .context("there is no app.py (the module that defines the Runnable)")?;
    let mut path = std::env::split_paths(&std::env::var_os("PYTHONPATH").unwrap_or_default())
        .collect::<Vec<_>>();
    path.insert(0, sdk);
    run_tool(
        Command::new(python)
            .args(["-m", "karman_sdk.build"])
            .arg(&app)
            .arg("-o")
            .arg(out)
            .env("PYTHONPATH", std::env::join_paths(path)?),
        "install Python 3.10 or later, then `pip install componentize-py==0.25.1`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_files_of_the_directory() {
        let dir = std::env::temp_dir().join(format!("karman-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Language::detect(&dir).is_err(), "an empty directory");
        std::fs::write(dir.join("app.py"), "").unwrap();
        assert_eq!(Language::detect(&dir).unwrap(), Language::Python);
        std::fs::write(dir.join("package.json"), "{}").unwrap();
        assert_eq!(Language::detect(&dir).unwrap(), Language::JavaScript);
        std::fs::write(dir.join("Cargo.toml"), "").unwrap();
        assert_eq!(Language::detect(&dir).unwrap(), Language::Rust);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
