//! `karman build`: builds every component of a Directive that names its source directory
//! (`build:`), by the language found there, and puts the result at the component's `source`.
//! No Karman checkout is needed: each project depends on its SDK as a package, and the WIT
//! package comes from this binary.
//!
//! | the directory holds | language | runs there |
//! |---------------------|----------|-----------|
//! | `Cargo.toml` | Rust | `cargo build --release --target wasm32-wasip2` |
//! | `package.json` | JavaScript | `npm install` (when `node_modules/` is missing), then the `karman-js-build` of `@karman/sdk` |
//! | `pyproject.toml` or `app.py` | Python | `python -m karman_sdk.build`, with `.venv/bin/python` when present, else `python3` |
//!
//! The JavaScript and Python builders get `--wit DIR`: the WIT package built into this binary,
//! written once per run into a temporary directory that is removed when the run ends. A project
//! with a `wit/` folder of its own is built for the world declared there (see [`own_world`]).

mod javascript;
mod own_world;
mod python;
mod rust;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use karman_directive::{App, Component};

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
    build_app(&app)
}

/// Builds every component of `app` with a `build:` directory.
pub fn build_app(app: &App) -> anyhow::Result<()> {
    if app.components.iter().all(|c| c.build.is_none()) {
        bail!("no component of the Directive has a `build:` directory to build from");
    }
    build_components(app, |_| true)
}

/// Builds the components of `app` with a `build:` directory that `wanted` accepts.
pub fn build_components(app: &App, wanted: impl Fn(&Component) -> bool) -> anyhow::Result<()> {
    let mut buildable = Vec::new();
    for component in app.components.iter().filter(|c| wanted(c)) {
        let Some(dir) = component.build.as_deref() else {
            continue;
        };
        let language = Language::detect(dir)
            .with_context(|| format!("{}: component `{}`", component.location, component.name))?;
        buildable.push((component, dir, language));
    }
    let wit = if buildable.iter().any(|(_, _, l)| *l != Language::Rust) {
        Some(WitDir::write()?)
    } else {
        None
    };
    for (component, dir, language) in buildable {
        eprintln!(
            "==> {} ({}) from {}",
            component.name,
            language.name(),
            dir.display()
        );
        let started = Instant::now();
        let out = std::path::absolute(&component.source)?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let dir = std::path::absolute(dir)?;
        let built = match language {
            Language::Rust => rust::build(&dir, &out),
            _ => guest_world(&dir, wit.as_ref()).and_then(|target| match language {
                Language::JavaScript => javascript::build(&dir, &out, &target),
                _ => python::build(&dir, &out, &target),
            }),
        };
        built.with_context(|| format!("{}: component `{}`", component.location, component.name))?;
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "    {} ({} KiB) in {:.1}s",
            component.source.display(),
            size.div_ceil(1024),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// What a JavaScript or Python component is built for.
enum Target<'a> {
    /// `karman:runnable/runnable`, in the package written once per run.
    Runnable(&'a Path),
    /// The world the project declares in its `wit/` folder.
    Own(own_world::OwnWorld),
}

impl Target<'_> {
    /// The WIT root to build against.
    fn wit(&self) -> &Path {
        match self {
            Target::Runnable(wit) => wit,
            Target::Own(own) => &own.root,
        }
    }

    /// The world, when it is not the builder's default (`karman:runnable/runnable`).
    fn world(&self) -> Option<&str> {
        match self {
            Target::Runnable(_) => None,
            Target::Own(own) => Some(&own.world),
        }
    }

    /// The options both builders take: `-o <out> --wit <root> [--world <name>]`.
    fn builder_args(&self, out: &Path) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec!["-o".into(), out.into(), "--wit".into()];
        args.push(self.wit().into());
        if let Some(world) = self.world() {
            args.extend(["--world".into(), world.into()]);
        }
        args
    }
}

/// The target of the project in `dir`: its own world, or the built-in package in `shared`.
fn guest_world<'a>(dir: &Path, shared: Option<&'a WitDir>) -> anyhow::Result<Target<'a>> {
    Ok(match own_world::OwnWorld::of(dir)? {
        Some(own) => Target::Own(own),
        None => Target::Runnable(&shared.expect("written for every non-Rust build").path),
    })
}

/// The WIT package built into this binary, written as files (`runnable.wit`, `deps/`) into a
/// temporary directory for the JavaScript and Python builders; removed when dropped.
struct WitDir {
    path: PathBuf,
}

impl WitDir {
    fn write() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("karman-wit-{}", uuid::Uuid::new_v4()));
        let dir = WitDir { path };
        karman_runtime::wit::write_package(&dir.path)
            .with_context(|| format!("cannot write the WIT package to `{}`", dir.path.display()))?;
        Ok(dir)
    }
}

impl Drop for WitDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs `command`, its output going to ours; `missing` says how to install the program.
fn run_tool(command: &mut Command, missing: &str) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .stdout(Stdio::inherit())
        .status()
        .map_err(|e| spawn_error(&program, e, missing))?;
    if !status.success() {
        bail!("`{program}` failed ({status})");
    }
    Ok(())
}

/// The error of a program that could not be started: when it is not installed, `missing` says
/// how to install it.
fn spawn_error(program: &str, error: std::io::Error, missing: &str) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!("`{program}` is not installed: {missing}")
    } else {
        anyhow::anyhow!("cannot run `{program}`: {error}")
    }
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

    #[test]
    fn the_wit_directory_holds_the_built_in_package_until_dropped() {
        let wit = WitDir::write().unwrap();
        let path = wit.path.clone();
        for (name, text) in karman_runtime::wit::FILES {
            assert_eq!(&std::fs::read_to_string(path.join(name)).unwrap(), text);
        }
        drop(wit);
        assert!(!path.exists(), "{} is left behind", path.display());
    }
}
