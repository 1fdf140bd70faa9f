//! `karman schema`: the JSON Schema of the Directive, built into the binary, so that an editor
//! without network access checks a Directive against exactly what this host accepts. It prints
//! the schema, or writes it to a file (`--out FILE`) that a Directive then names with
//! `# yaml-language-server: $schema=./directive.schema.json`.

use std::path::PathBuf;

use anyhow::Context as _;
use karman_directive::JSON_SCHEMA;

/// The arguments of `karman schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of printing it, e.g. `directive.schema.json`
    /// beside the Directive.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `karman schema`: prints the schema, or writes it where `--out` says.
pub fn run(args: &SchemaArgs) -> anyhow::Result<()> {
    match &args.out {
        Some(file) => {
            std::fs::write(file, JSON_SCHEMA)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            eprintln!("wrote the Directive's JSON Schema to {}", file.display());
        }
        None => print!("{JSON_SCHEMA}"),
    }
    Ok(())
}
