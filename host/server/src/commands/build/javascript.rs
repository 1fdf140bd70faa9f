//! A JavaScript component: built by the project's own `@karman/sdk` (a devDependency, beside
//! componentize-js and esbuild), after `npm install` when `node_modules/` is missing.
//!
//! The builder is the SDK's `karman-js-build` bin, run as
//! `node --preserve-symlinks --preserve-symlinks-main <bin> <entry> -o <out> --wit <dir>` (and
//! `--world <name>` for a project with a world of its own, see `own_world`): with
//! the SDK linked from a checkout (`"file:…"`, `karman new --sdk-path`), npm installs it as a
//! symlink, and Node would otherwise resolve the builder's own imports (esbuild,
//! componentize-js) from the checkout instead of from the project, which holds them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::{Target, run_tool};

/// The SDK package, and the bin of it that builds a component.
const SDK: &str = "@karman/sdk";
const BUILDER: &str = "karman-js-build";

const INSTALL_NODE: &str = "install Node.js 20 or later, with npm (https://nodejs.org)";

/// Builds the npm package in `dir` into `out`, against the WIT package in `wit`.
pub(super) fn build(dir: &Path, out: &Path, target: &Target) -> anyhow::Result<()> {
    let entry = entry(dir)?;
    if !dir.join("node_modules").is_dir() {
        eprintln!("    npm install (node_modules/ is missing)");
        run_tool(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(dir),
            INSTALL_NODE,
        )?;
    }
    let builder = builder(dir)?;
    run_tool(
        Command::new("node")
            .args(["--preserve-symlinks", "--preserve-symlinks-main"])
            .arg(&builder)
            .arg(&entry)
            .args(target.builder_args(out))
            .current_dir(dir),
        INSTALL_NODE,
    )
}

/// The module to build: package.json's `main`, else `app.js` or `index.js`.
fn entry(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("package.json");
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?,
    )
    .with_context(|| format!("`{}` is not JSON", path.display()))?;
    package["main"]
        .as_str()
        .map(|main| dir.join(main))
        .or_else(|| {
            ["app.js", "index.js"]
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.exists())
        })
        .context("package.json names no `main`, and there is no app.js or index.js")
}

/// The `karman-js-build` script of the SDK installed in `dir/node_modules`.
fn builder(dir: &Path) -> anyhow::Result<PathBuf> {
    let sdk = dir.join("node_modules").join(SDK);
    let manifest = sdk.join("package.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        bail!(
            "`{SDK}` is not installed in `{}`: list it in package.json's devDependencies \
             (`npm install --save-dev {SDK}`), then run `npm install` there",
            dir.join("node_modules").display()
        );
    };
    let package: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not JSON", manifest.display()))?;
    let script = match &package["bin"] {
        serde_json::Value::String(script) => Some(script.as_str()),
        bins => bins[BUILDER].as_str(),
    };
    let script = script.with_context(|| {
        format!(
            "`{}` has no `{BUILDER}` bin: {SDK} {} is not a version this karman builds with",
            manifest.display(),
            package["version"].as_str().unwrap_or("(no version)")
        )
    })?;
    Ok(sdk.join(script))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(package: &str, sdk: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("karman-js-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), package).unwrap();
        if let Some(sdk) = sdk {
            let path = dir.join("node_modules/@karman/sdk");
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("package.json"), sdk).unwrap();
        }
        dir
    }

    #[test]
    fn the_entry_is_main_else_app_js_or_index_js() {
        let dir = project(r#"{"main": "src/run.js"}"#, None);
        assert_eq!(entry(&dir).unwrap(), dir.join("src/run.js"));
        let dir = project("{}", None);
        assert!(entry(&dir).is_err(), "no main and no app.js");
        std::fs::write(dir.join("index.js"), "").unwrap();
        assert_eq!(entry(&dir).unwrap(), dir.join("index.js"));
        std::fs::write(dir.join("app.js"), "").unwrap();
        assert_eq!(entry(&dir).unwrap(), dir.join("app.js"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_builder_is_the_bin_the_installed_sdk_declares() {
        let dir = project("{}", Some(r#"{"bin": {"karman-js-build": "./build.mjs"}}"#));
        assert_eq!(
            builder(&dir).unwrap(),
            dir.join("node_modules/@karman/sdk/./build.mjs")
        );
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = project(
            "{}",
            Some(r#"{"version": "0.0.1", "bin": {"other": "x.js"}}"#),
        );
        let error = builder(&dir).unwrap_err().to_string();
        assert!(
            error.contains("has no `karman-js-build` bin: @karman/sdk 0.0.1"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = project("{}", None);
        let error = builder(&dir).unwrap_err().to_string();
        assert!(
            error.contains("`@karman/sdk` is not installed in")
                && error.contains("npm install --save-dev @karman/sdk"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
