//! A component's own world: a JavaScript or Python project whose directory holds a `wit/`
//! folder targets the world declared there instead of `karman:runnable/runnable` — a Runnable
//! that also imports a team's interface, or a library that exports one:
//!
//! ```text
//! wit/world.wit          package acme:quote-service;
//!                        world quote {
//!                            include karman:runnable/runnable@0.1.0;
//!                            include acme:pricing/consumer@0.1.0;
//!                        }
//! wit/deps/acme-pricing  the team's package (a copy, or a link to its directory)
//! ```
//!
//! The builder gets one WIT root: the project's `wit/` (links followed), with the package
//! built into this binary (`karman:runnable`, `wasi:*`) added to its `deps/`, so a project
//! lists only its own dependencies. The world is the one world the root's files declare.
//! (A Rust project needs none of this: it points `wit_bindgen::generate!` at the team's
//! package itself.)

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use karman_runtime::wit::{Layout, write_layout};

/// The WIT root a project's own world is built against, in a temporary directory removed when
/// dropped, and the world's name.
pub(super) struct OwnWorld {
    pub(super) root: PathBuf,
    pub(super) world: String,
}

impl OwnWorld {
    /// The own world of the project in `dir`, when it has a `wit/` folder.
    pub(super) fn of(dir: &Path) -> anyhow::Result<Option<OwnWorld>> {
        let wit = dir.join("wit");
        if !wit.is_dir() {
            return Ok(None);
        }
        let world = world_name(&wit)?;
        let root = std::env::temp_dir().join(format!("karman-own-wit-{}", uuid::Uuid::new_v4()));
        let own = OwnWorld { root, world };
        write_layout(&own.root.join("deps/karman-runnable"), Layout::InDeps)
            .with_context(|| format!("cannot write `{}`", own.root.display()))?;
        merge(&wit, &own.root)?;
        Ok(Some(own))
    }
}

impl Drop for OwnWorld {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The name of the one world the `.wit` files directly in `wit` declare.
fn world_name(wit: &Path) -> anyhow::Result<String> {
    let mut worlds = Vec::new();
    let mut files = 0;
    for entry in
        std::fs::read_dir(wit).with_context(|| format!("cannot read `{}`", wit.display()))?
    {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wit") || !path.is_file() {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        worlds.extend(declared_worlds(&text));
    }
    match worlds.as_slice() {
        [world] => Ok(world.clone()),
        [] if files == 0 => bail!(
            "`{}` holds no .wit file: it holds the project's own world (see docs/imports.md), \
             or remove it to build a plain Runnable",
            wit.display()
        ),
        [] => bail!("`{}` declares no world", wit.display()),
        _ => bail!(
            "`{}` declares {} worlds ({}): keep the one the component is built for",
            wit.display(),
            worlds.len(),
            worlds.join(", ")
        ),
    }
}

/// The worlds a WIT file declares at its top level (`world NAME {`).
fn declared_worlds(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().filter_map(|line| {
        let name = line.strip_prefix("world ")?;
        let name = name.split(|c: char| c.is_whitespace() || c == '{').next()?;
        (!name.is_empty()).then(|| name.trim_start_matches('%').to_string())
    })
}

/// Copies `from` into `to`, following links; a file already in `to` (the built-in package)
/// must be equal to the project's.
fn merge(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create `{}`", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read `{}`", from.display()))?
    {
        let source = entry?.path();
        let target = to.join(source.file_name().expect("an entry has a name"));
        // `metadata` follows links: a linked team package is copied as a folder.
        let metadata = std::fs::metadata(&source)
            .with_context(|| format!("`{}` is a broken link", source.display()))?;
        if metadata.is_dir() {
            merge(&source, &target)?;
            continue;
        }
        let bytes = std::fs::read(&source)
            .with_context(|| format!("cannot read `{}`", source.display()))?;
        match std::fs::read(&target) {
            Ok(existing) if existing == bytes => {}
            Ok(_) => bail!(
                "`{}` differs from the file of the same name karman provides ({}): remove it \
                 from the project, `karman build` adds karman:runnable and wasi:* itself",
                source.display(),
                karman_runtime::wit::PACKAGE
            ),
            Err(_) => std::fs::write(&target, bytes)
                .with_context(|| format!("cannot write `{}`", target.display()))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("karman-own-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("wit/deps")).unwrap();
        dir
    }

    #[test]
    fn a_project_without_wit_builds_the_runnable_world() {
        let dir = scratch();
        std::fs::remove_dir_all(dir.join("wit")).unwrap();
        assert!(OwnWorld::of(&dir).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_root_is_the_project_s_wit_with_the_built_in_package_in_deps() {
        let dir = scratch();
        let team = dir.join("team");
        std::fs::create_dir_all(&team).unwrap();
        std::fs::write(team.join("calc.wit"), "package acme:calc@0.1.0;\n").unwrap();
        std::os::unix::fs::symlink(&team, dir.join("wit/deps/acme-calc")).unwrap();
        std::fs::write(
            dir.join("wit/world.wit"),
            "/// world docs {\npackage acme:app;\n\nworld app {\n    include acme:calc/user@0.1.0;\n}\n",
        )
        .unwrap();
        let own = OwnWorld::of(&dir).unwrap().unwrap();
        assert_eq!(own.world, "app");
        let root = own.root.clone();
        assert!(root.join("world.wit").is_file());
        assert!(
            root.join("deps/acme-calc/calc.wit").is_file(),
            "the link is followed"
        );
        assert!(root.join("deps/karman-runnable/runnable.wit").is_file());
        assert!(root.join("deps/http.wit").is_file(), "wasi:* flat in deps");
        drop(own);
        assert!(!root.exists(), "{} is left behind", root.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_world_is_wanted_and_a_differing_built_in_file_is_refused() {
        let dir = scratch();
        let error = OwnWorld::of(&dir).err().unwrap().to_string();
        assert!(error.contains("holds no .wit file"), "{error}");
        std::fs::write(
            dir.join("wit/a.wit"),
            "package a:b;\nworld one {}\nworld two {}\n",
        )
        .unwrap();
        let error = OwnWorld::of(&dir).err().unwrap().to_string();
        assert!(error.contains("declares 2 worlds (one, two)"), "{error}");
        std::fs::write(dir.join("wit/a.wit"), "package a:b;\nworld one {}\n").unwrap();
        std::fs::write(dir.join("wit/deps/http.wit"), "package wasi:http@0.2.0;\n").unwrap();
        let error = OwnWorld::of(&dir).err().unwrap().to_string();
        assert!(
            error.contains("deps/http.wit` differs from the file of the same name karman provides"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
