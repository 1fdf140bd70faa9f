//! `karman graph`: a picture of the app's flows (each handler, stream, schedule and route: its
//! trigger, steps, groups, `onErr` branches, `respondTo` and `deadLetter` subjects, and each
//! component's grants), as Mermaid, DOT or SVG. The SVG is laid out and drawn by Karman itself
//! (`karman-graph`), with no Graphviz. The Directive is read as `karman build` reads it (its
//! components need not be built yet), and an `env(NAME)` secret that is not set does not stop
//! it: a picture draws no secret.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::ValueEnum;
use karman_graph::Graph;

/// The formats of `karman graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A Mermaid flowchart (GitHub renders it in a ```` ```mermaid ```` block).
    Mermaid,
    /// Graphviz's DOT language (`dot -Tsvg`, `dot -Tpng`).
    Dot,
    /// An SVG image, drawn by Karman.
    Svg,
}

/// The arguments of `karman graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The Directive (YAML) of the app.
    #[arg(default_value = "Directive.yaml")]
    directive: PathBuf,
    /// The output format.
    #[arg(long, short, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    /// Write the picture to this file instead of printing it.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Runs `karman graph`.
pub fn run(args: &GraphArgs) -> anyhow::Result<()> {
    let app = karman_graph::load(&args.directive)
        .map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))?;
    let text = render(&Graph::new(&app), args.format);
    match &args.output {
        Some(file) => {
            std::fs::write(file, text)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            eprintln!(
                "wrote the graph of {} {} to {}",
                app.identifier,
                app.app_version,
                file.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The graph in `format`.
pub fn render(graph: &Graph, format: Format) -> String {
    match format {
        Format::Mermaid => graph.mermaid(),
        Format::Dot => graph.dot(),
        Format::Svg => graph.svg(),
    }
}
