//! A Python component: `<python> -m karman_sdk.build <app.py> -o <out> --wit <dir>` (and
//! `--world <name>` for a project with a world of its own, see `own_world`), where
//! `<python>` is the project's own virtual environment (`.venv/`) when it has one, else
//! `python3`. `karman_sdk` (and componentize-py, its dependency) must be importable there;
//! when it is not, the error gives the commands that set the project up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use super::{Target, run_tool, spawn_error};

/// What sets a project up, run in its directory.
const SET_UP: &str = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt";

/// Exits 3 when `karman_sdk` cannot be imported (without importing it: its modules bind the
/// component's imports, which exist only inside the component).
const PROBE: &str =
    "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('karman_sdk') else 3)";

/// Builds the Python module in `dir` into `out`, against the WIT package in `wit`.
pub(super) fn build(dir: &Path, out: &Path, target: &Target) -> anyhow::Result<()> {
    let app = ["app.py", "main.py"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .context("there is no app.py (the module that defines the Runnable)")?;
    let python = interpreter(dir);
    let shown = python.display().to_string();
    let status = Command::new(&python)
        .args(["-c", PROBE])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| {
            spawn_error(
                &shown,
                e,
                &format!(
                    "install Python 3.10 or later, then set the project up: cd {} && {SET_UP}",
                    dir.display()
                ),
            )
        })?;
    match status.code() {
        Some(0) => {}
        Some(3) => bail!(
            "`karman_sdk` cannot be imported by `{shown}`: set the project up with\n  cd {}\n  {SET_UP}",
            dir.display()
        ),
        _ => bail!("`{shown}` failed ({status})"),
    }
    run_tool(
        Command::new(&python)
            .args(["-m", "karman_sdk.build"])
            .arg(&app)
            .args(target.builder_args(out))
            .current_dir(dir),
        "install Python 3.10 or later",
    )
}

/// The project's `.venv` interpreter when there is one, else `python3`.
fn interpreter(dir: &Path) -> PathBuf {
    [".venv/bin/python", ".venv/Scripts/python.exe"]
        .iter()
        .map(|path| dir.join(path))
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_is_the_project_s_venv_else_python3() {
        let dir = std::env::temp_dir().join(format!("karman-py-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join(".venv/bin")).unwrap();
        assert_eq!(interpreter(&dir), Path::new("python3"));
        std::fs::write(dir.join(".venv/bin/python"), "").unwrap();
        assert_eq!(interpreter(&dir), dir.join(".venv/bin/python"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
