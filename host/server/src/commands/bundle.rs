//! `karman bundle`: the app a Directive declares in one file — the Directive, its components
//! and static files, and a manifest of their SHA-256s — that `karman serve` and `karman check`
//! take in place of the Directive (see [`crate::bundle`]).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::bundle;

/// The arguments of `karman bundle`.
#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    /// The Directive (YAML) of the app.
    #[arg(default_value = "Directive.yaml")]
    directive: PathBuf,
    /// The bundle to write [default: `<identifier>-<appVersion>.karman` in the current
    /// directory].
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// Runs `karman bundle`.
pub fn run(args: &BundleArgs) -> anyhow::Result<()> {
    let out = match &args.out {
        Some(out) => out.clone(),
        None => {
            let app = super::load_directive(&args.directive)?;
            let name: String = format!("{}-{}.karman", app.identifier, app.app_version)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            PathBuf::from(name)
        }
    };
    let built = bundle::build(&args.directive, &out)
        .with_context(|| format!("cannot bundle `{}`", args.directive.display()))?;
    let manifest = &built.manifest;
    println!(
        "{}: {} {} ({} files, {} KiB, for {})",
        out.display(),
        manifest.identifier,
        manifest.app_version,
        manifest.files.len(),
        built.size.div_ceil(1024),
        manifest.wit
    );
    for file in &manifest.files {
        println!("  {}  {}  {} B", file.sha256, file.path, file.size);
    }
    Ok(())
}
