//! `karman wit`: the WIT package this host implements ([`karman_runtime::wit`], built into the
//! binary), so that what a team vendors is exactly what this host provides. It prints
//! `runnable.wit`, writes the package as files (`--out DIR`), or as a binary WIT package
//! (`--wasm FILE`, what `wasm-tools component wit wit/ --wasm` makes, for a registry or `wkg`).
//!
//! `--out DIR` picks the layout from where `DIR` is ([`Layout::for_dir`]): a folder inside a
//! `deps` folder (`wit/deps/karman-runnable`) gets `runnable.wit`, with the `wasi:*` packages
//! flat beside it in that `deps` folder; any other folder becomes a WIT root, `runnable.wit`
//! and `deps/`. An existing file with other content stops it, named; nothing is overwritten.
//!
//! ```no_run
//! let package = karman::commands::wit::encode_package()?;
//! std::fs::write("karman-runnable.wasm", package)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::PathBuf;

use anyhow::Context as _;
use karman_runtime::wit::{FILES, Layout, PACKAGE};

/// The arguments of `karman wit`.
#[derive(Debug, clap::Args)]
pub struct WitArgs {
    /// Write the `.wit` files under this directory: `runnable.wit` and `deps/` (a WIT root),
    /// or, when the directory is inside a `deps` folder (e.g. `wit/deps/karman-runnable` of a
    /// guest project), `runnable.wit` with the `wasi:*` packages beside it in that folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the package as a binary WIT package (`.wasm`), creating its directory.
    #[arg(long)]
    wasm: Option<PathBuf>,
}

/// Runs `karman wit`: prints the package, or writes it where the flags say.
pub fn run(args: &WitArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.out {
        let layout = Layout::for_dir(dir);
        karman_runtime::wit::write_layout(dir, layout)?;
        match layout {
            Layout::Root => eprintln!("wrote {PACKAGE} to {} (with deps/)", dir.display()),
            Layout::InDeps => {
                let deps = dir.canonicalize().unwrap_or_else(|_| dir.clone());
                let deps = deps.parent().unwrap_or(&deps);
                eprintln!(
                    "wrote {PACKAGE} to {}, its wasi:* dependencies beside it in {}",
                    dir.display(),
                    deps.display()
                );
            }
        }
    }
    if let Some(file) = &args.wasm {
        let package = encode_package()?;
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(file, package)
            .with_context(|| format!("cannot write `{}`", file.display()))?;
        eprintln!("wrote {PACKAGE} to {}", file.display());
    }
    if args.out.is_none() && args.wasm.is_none() {
        print!("{}", karman_runtime::wit::package_text());
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
            "file",
            "principal",
        ] {
            assert!(package.interfaces.contains_key(interface), "{interface}");
        }
        for world in ["runnable", "route"] {
            assert!(package.worlds.contains_key(world), "{world}");
        }
    }
}
