//! The WIT package Karman implements, built into the binary so that what a team vendors is
//! exactly what this host provides: `karman wit` prints it, writes it as files
//! (`--out DIR`: `runnable.wit` and `deps/`), or as a binary WIT package (`--wasm FILE`, what
//! `wasm-tools component wit wit/ --wasm` makes, for a registry or `wkg`).
//!
//! ```no_run
//! let package = karman::commands::wit::encode_package()?;
//! std::fs::write("karman-runnable.wasm", package)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The arguments of `karman wit`.
#[derive(Debug, clap::Args)]
pub struct WitArgs {
    /// Write the `.wit` files under this directory (`runnable.wit` and `deps/`), e.g.
    /// `wit/deps/karman-runnable` of a guest project.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the package as a binary WIT package (`.wasm`).
    #[arg(long)]
    wasm: Option<PathBuf>,
}

/// Runs `karman wit`: prints the package, or writes it where the flags say.
pub fn run(args: &WitArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.out {
        write_files(dir)?;
        eprintln!("wrote {PACKAGE} to {}", dir.display());
    }
    if let Some(file) = &args.wasm {
        let package = encode_package()?;
        std::fs::write(file, package)
            .with_context(|| format!("cannot write `{}`", file.display()))?;
        eprintln!("wrote {PACKAGE} to {}", file.display());
    }
    if args.out.is_none() && args.wasm.is_none() {
        let (_, text) = FILES
            .iter()
            .find(|(name, _)| *name == "runnable.wit")
            .expect("the package's own file");
        print!("{text}");
    }
    Ok(())
}

/// The package's name and version.
pub const PACKAGE: &str = "karman:runnable@0.1.0";

/// The files of the package, as `wit/` holds them; dependencies before their dependents.
pub const FILES: &[(&str, &str)] = &[
    ("deps/io.wit", include_str!("../../../../wit/deps/io.wit")),
    (
        "deps/clocks.wit",
        include_str!("../../../../wit/deps/clocks.wit"),
    ),
    (
        "deps/random.wit",
        include_str!("../../../../wit/deps/random.wit"),
    ),
    (
        "deps/filesystem.wit",
        include_str!("../../../../wit/deps/filesystem.wit"),
    ),
    (
        "deps/sockets.wit",
        include_str!("../../../../wit/deps/sockets.wit"),
    ),
    ("deps/cli.wit", include_str!("../../../../wit/deps/cli.wit")),
    (
        "deps/http.wit",
        include_str!("../../../../wit/deps/http.wit"),
    ),
    ("runnable.wit", include_str!("../../../../wit/runnable.wit")),
];

/// Writes the package's files under `dir` (created when absent).
pub fn write_files(dir: &Path) -> anyhow::Result<()> {
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// The package as a binary WIT package (a WebAssembly component that holds only types).
pub fn encode_package() -> anyhow::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::new();
    let mut package = None;
    for (name, text) in FILES {
        package = Some(
            resolve
                .push_str(name, text)
                .with_context(|| format!("the built-in `{name}` does not parse"))?,
        );
    }
    let package = package.expect("the package has files");
    wit_component::encode(&resolve, package).context("cannot encode the WIT package")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_files_are_the_repository_s_wit() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let mut on_disk = vec!["runnable.wit".to_string()];
        for entry in std::fs::read_dir(root.join("deps")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            on_disk.push(format!("deps/{name}"));
        }
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|(name, _)| name.to_string()).collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "every file of wit/ is built in");
        for (name, text) in FILES {
            assert_eq!(&std::fs::read_to_string(root.join(name)).unwrap(), text);
        }
    }

    #[test]
    fn the_binary_package_decodes_to_the_capability_api() {
        let bytes = encode_package().unwrap();
        let wit_parser::decoding::DecodedWasm::WitPackage(resolve, package) =
            wit_parser::decoding::decode(&bytes).unwrap()
        else {
            panic!("a WIT package, not a component");
        };
        let package = &resolve.packages[package];
        assert_eq!(package.name.to_string(), PACKAGE);
        for interface in [
            "req",
            "resp",
            "cache",
            "sql",
            "http",
            "graphql",
            "log",
            "principal",
        ] {
            assert!(package.interfaces.contains_key(interface), "{interface}");
        }
        for world in ["runnable", "route"] {
            assert!(package.worlds.contains_key(world), "{world}");
        }
    }
}
