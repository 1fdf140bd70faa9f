//! `karman export`: the app's request handlers, its Runnables and Karman's capabilities as one
//! `wasi:http/proxy` component ([`karman_export`], docs/export.md), served by `wasmtime serve
//! -S cli=y -S keyvalue`, `karman serve app.wasm -S keyvalue` or any `wasi:http` host. What an
//! export cannot serve is refused, every refusal named with its place in the Directive, and
//! nothing is written.

use std::path::PathBuf;

use anyhow::Context as _;

/// The arguments of `karman export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The Directive (YAML) of the app.
    #[arg(default_value = "Directive.yaml")]
    directive: PathBuf,
    /// Where to write the component.
    #[arg(long, short, default_value = "app.wasm")]
    output: PathBuf,
}

/// Runs `karman export`.
pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let app = karman_directive::load(&args.directive)
        .map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))?;
    let exported = karman_export::export(&app).map_err(|refusals| {
        let lines: Vec<String> = refusals.iter().map(|r| format!("  {r}")).collect();
        anyhow::anyhow!(
            "{} {} cannot be exported:\n{}",
            app.identifier,
            app.app_version,
            lines.join("\n")
        )
    })?;
    for note in &exported.notes {
        eprintln!("note: {note}");
    }
    std::fs::write(&args.output, &exported.component)
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    eprintln!(
        "exported {} {} ({} request handlers, {} components) to {} ({} KiB): serve it with\n  \
         wasmtime serve -S cli=y -S keyvalue {}",
        app.identifier,
        app.app_version,
        app.handlers.len(),
        app.components.len(),
        args.output.display(),
        exported.component.len().div_ceil(1024),
        args.output.display()
    );
    Ok(())
}
