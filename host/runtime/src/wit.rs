//! The WIT package this host implements, `karman:runnable`, built into the crate (from its
//! `wit/`, a copy of the repository's `wit/` kept equal by `scripts/sync-wit`) so that what a
//! guest builds against is exactly what the host provides.
//!
//! [`write_package`] writes it as a WIT root that every toolchain reads (wit-parser,
//! wit-bindgen, cargo-component, jco `--wit DIR`, componentize-py `-d DIR`):
//!
//! ```text
//! DIR/runnable.wit        package karman:runnable@0.1.0
//! DIR/deps/io.wit         package wasi:io@0.2.12, and the other wasi:* packages it uses
//! ```
//!
//! To vendor it beside a project's own WIT, write it into the project's `deps` folder with
//! [`write_layout`] and [`Layout::InDeps`] (what [`Layout::for_dir`] picks for
//! `wit/deps/karman-runnable`): the package's own dependencies then go *flat* beside it
//! (`wit/deps/io.wit`, …), because wit-parser reads only the root's `deps` folder, never a
//! `deps` folder nested in a dependency.
//!
//! ```text
//! wit/world.wit                         the project's package: include karman:runnable/runnable@0.1.0;
//! wit/deps/karman-runnable/runnable.wit
//! wit/deps/io.wit, wit/deps/http.wit, …
//! ```
//!
//! A file that already exists with the same content is left as it is; one with other content
//! is an error naming it, and nothing is written.
//!
//! # Examples
//!
//! ```no_run
//! # fn example() -> std::io::Result<()> {
//! // A WIT root for `jco componentize --wit build/wit` or `componentize-py -d build/wit`.
//! karman_runtime::wit::write_package("build/wit".as_ref())?;
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Component, Path, PathBuf};

/// The package's name and version: the `package` line of `runnable.wit`.
pub const PACKAGE: &str = "karman:runnable@0.1.0";

/// The package's own file.
pub const PACKAGE_FILE: &str = "runnable.wit";

/// The files of the package as a WIT root holds them (`runnable.wit`, `deps/<package>.wit`),
/// with their text; dependencies before their dependents.
pub const FILES: &[(&str, &str)] = &[
    ("deps/io.wit", include_str!("../wit/deps/io.wit")),
    ("deps/clocks.wit", include_str!("../wit/deps/clocks.wit")),
    ("deps/random.wit", include_str!("../wit/deps/random.wit")),
    (
        "deps/filesystem.wit",
        include_str!("../wit/deps/filesystem.wit"),
    ),
    ("deps/sockets.wit", include_str!("../wit/deps/sockets.wit")),
    ("deps/cli.wit", include_str!("../wit/deps/cli.wit")),
    ("deps/http.wit", include_str!("../wit/deps/http.wit")),
    // The standard interfaces Karman serves besides its own (no dependencies).
    (
        "deps/keyvalue.wit",
        include_str!("../wit/deps/keyvalue.wit"),
    ),
    ("deps/logging.wit", include_str!("../wit/deps/logging.wit")),
    ("deps/config.wit", include_str!("../wit/deps/config.wit")),
    (PACKAGE_FILE, include_str!("../wit/runnable.wit")),
];

/// The text of `runnable.wit`, the package's own file.
pub fn package_text() -> &'static str {
    FILES
        .iter()
        .find(|(name, _)| *name == PACKAGE_FILE)
        .map(|(_, text)| *text)
        .expect("FILES holds runnable.wit")
}

/// Where the package's dependencies (`wasi:*`) go relative to the folder it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The folder is a WIT root: `DIR/runnable.wit` and `DIR/deps/<package>.wit`.
    Root,
    /// The folder is a package folder inside a project's `deps` folder: `DIR/runnable.wit`,
    /// and the dependencies flat beside it, `DIR/../<package>.wit`.
    InDeps,
}

impl Layout {
    /// [`Layout::InDeps`] when the folder's parent is named `deps` (e.g.
    /// `wit/deps/karman-runnable`), [`Layout::Root`] otherwise. The folder is judged by its
    /// absolute path (canonical when it exists), so `karman-runnable` with `wit/deps` as the
    /// working directory, or `.` inside `wit/deps/karman-runnable`, count too.
    pub fn for_dir(dir: &Path) -> Layout {
        let dir = absolute(dir);
        let mut names = dir
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .rev();
        match (names.next(), names.next()) {
            (Some(Component::Normal(_)), Some(Component::Normal(parent))) if parent == "deps" => {
                Layout::InDeps
            }
            _ => Layout::Root,
        }
    }
}

/// Writes the package as a WIT root under `dir` (created when absent): `dir/runnable.wit` and
/// `dir/deps/<package>.wit`. See [`write_layout`] for files that already exist.
pub fn write_package(dir: &Path) -> io::Result<()> {
    write_layout(dir, Layout::Root).map(drop)
}

/// Writes the package under `dir` (created when absent) in `layout`, and returns the path of
/// every file the package has there (written now or already there with the same content).
///
/// # Errors
///
/// When one of the files exists with other content (an error naming it, and nothing is
/// written), or a file or folder cannot be written.
pub fn write_layout(dir: &Path, layout: Layout) -> io::Result<Vec<PathBuf>> {
    let targets: Vec<(PathBuf, &str)> = FILES
        .iter()
        .map(|(name, text)| (target(dir, layout, name), *text))
        .collect();
    let mut pending = Vec::new();
    for (path, text) in &targets {
        match std::fs::read(path) {
            Ok(existing) if existing == text.as_bytes() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "`{}` exists with other content than {PACKAGE} has: remove it (or \
                         write the package elsewhere); nothing was written",
                        path.display()
                    ),
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => pending.push((path, text)),
            Err(error) => return Err(annotate(error, "cannot read", path)),
        }
    }
    for (path, text) in pending {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| annotate(e, "cannot create", parent))?;
        }
        std::fs::write(path, text).map_err(|e| annotate(e, "cannot write", path))?;
    }
    Ok(targets.into_iter().map(|(path, _)| path).collect())
}

/// Where the file `name` of [`FILES`] goes under `dir` in `layout`.
fn target(dir: &Path, layout: Layout, name: &str) -> PathBuf {
    match (layout, name.strip_prefix("deps/")) {
        (Layout::InDeps, Some(dependency)) => {
            let dir = absolute(dir);
            dir.parent().unwrap_or(&dir).join(dependency)
        }
        _ => dir.join(name),
    }
}

/// `dir` canonical when it exists, else made absolute; as it is when neither works.
fn absolute(dir: &Path) -> PathBuf {
    dir.canonicalize()
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

fn annotate(error: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{what} `{}`: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of its own for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "karman-wit-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A project's own package that includes the Karman world and uses one of its own
    /// interfaces, as a team writes it.
    const TEAM_WORLD: &str = "package acme:orders@1.0.0;\n\
        interface pricing { price: func(sku: string) -> u32; }\n\
        world orders {\n  include karman:runnable/runnable@0.1.0;\n  import pricing;\n}\n";

    #[test]
    fn the_built_in_files_are_the_crate_s_wit_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
        let mut on_disk = vec![PACKAGE_FILE.to_string()];
        for entry in std::fs::read_dir(root.join("deps")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            on_disk.push(format!("deps/{name}"));
        }
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|(name, _)| name.to_string()).collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "every file of wit/ is built in");
        for (name, text) in FILES {
            assert_eq!(
                &std::fs::read_to_string(root.join(name)).unwrap(),
                text,
                "{name}"
            );
        }
    }

    #[test]
    fn the_package_constant_is_the_package_line_of_runnable_wit() {
        let line = package_text()
            .lines()
            .find_map(|line| line.strip_prefix("package "))
            .expect("runnable.wit has a package line");
        assert_eq!(line.trim_end_matches(';'), PACKAGE);
    }

    #[test]
    fn a_folder_whose_parent_is_named_deps_takes_the_in_deps_layout() {
        assert_eq!(
            Layout::for_dir("wit/deps/karman-runnable".as_ref()),
            Layout::InDeps
        );
        assert_eq!(
            Layout::for_dir("./wit/deps/karman-runnable/".as_ref()),
            Layout::InDeps
        );
        assert_eq!(Layout::for_dir("wit".as_ref()), Layout::Root);
        assert_eq!(Layout::for_dir("build/karman-wit".as_ref()), Layout::Root);
        assert_eq!(Layout::for_dir("deps".as_ref()), Layout::Root);

        let dir = scratch("for-dir").join("wit/deps/karman-runnable");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(Layout::for_dir(&dir.join(".")), Layout::InDeps);
        assert_eq!(Layout::for_dir(&dir.join("..")), Layout::Root);
    }

    #[test]
    fn the_root_layout_is_a_wit_root_a_parser_reads() {
        let dir = scratch("root").join("karman-wit");
        write_package(&dir).unwrap();
        assert!(dir.join("runnable.wit").is_file());
        assert!(dir.join("deps/io.wit").is_file());

        let mut resolve = wit_parser::Resolve::new();
        let (package, _) = resolve.push_dir(&dir).unwrap();
        assert_eq!(resolve.packages[package].name.to_string(), PACKAGE);
        resolve
            .select_world(&[package], Some("runnable"))
            .expect("the runnable world");
    }

    #[test]
    fn vendored_into_a_project_s_deps_its_dependencies_go_flat_beside_it() {
        let project = scratch("vendored").join("wit");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("world.wit"), TEAM_WORLD).unwrap();
        let dir = project.join("deps/karman-runnable");
        let layout = Layout::for_dir(&dir);
        assert_eq!(layout, Layout::InDeps);
        write_layout(&dir, layout).unwrap();
        assert!(dir.join("runnable.wit").is_file());
        assert!(project.join("deps/http.wit").is_file());
        assert!(!dir.join("deps").exists(), "no nested deps folder");

        let mut resolve = wit_parser::Resolve::new();
        let (package, _) = resolve.push_dir(&project).unwrap();
        let world = resolve.select_world(&[package], Some("orders")).unwrap();
        let imports: Vec<String> = resolve.worlds[world]
            .imports
            .keys()
            .map(|key| resolve.name_world_key(key))
            .collect();
        for import in [
            "acme:orders/pricing@1.0.0",
            "karman:runnable/cache@0.1.0",
            "karman:runnable/http@0.1.0",
        ] {
            assert!(imports.iter().any(|i| i == import), "{import}: {imports:?}");
        }
    }

    #[test]
    fn the_nested_layout_does_not_parse_inside_a_project_s_deps() {
        // What `write_package` would do with `wit/deps/karman-runnable`: the wasi:* packages in
        // `wit/deps/karman-runnable/deps/`, which wit-parser never reads. This is why
        // `Layout::InDeps` exists.
        let project = scratch("nested").join("wit");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("world.wit"), TEAM_WORLD).unwrap();
        write_layout(&project.join("deps/karman-runnable"), Layout::Root).unwrap();

        let error = wit_parser::Resolve::new()
            .push_dir(&project)
            .expect_err("nested deps are not read");
        let message = format!("{error:#}");
        assert!(
            message.contains("package 'wasi:") && message.contains("not found"),
            "{message}"
        );
    }

    #[test]
    fn identical_files_are_kept_and_a_different_one_is_an_error_naming_it() {
        let project = scratch("conflict").join("wit");
        let dir = project.join("deps/karman-runnable");
        write_layout(&dir, Layout::InDeps).unwrap();
        let again = write_layout(&dir, Layout::InDeps).unwrap();
        assert_eq!(again.len(), FILES.len());

        let io = project.join("deps/io.wit");
        std::fs::write(&io, "package wasi:io@0.2.0;\n").unwrap();
        std::fs::remove_file(dir.join("runnable.wit")).unwrap();
        let error = write_layout(&dir, Layout::InDeps).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            error.to_string().contains(&io.display().to_string()),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(&io).unwrap(),
            "package wasi:io@0.2.0;\n",
            "never overwritten"
        );
        assert!(
            !dir.join("runnable.wit").exists(),
            "nothing written after a conflict"
        );
    }
}
