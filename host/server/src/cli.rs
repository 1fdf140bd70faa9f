//! The `karman` command line: parses the arguments, sets up logging, and runs one of the
//! commands (`serve`, `dev`, `check`, `bundle`, `build`, `export`, `graph`, `new`, `wit`, `schema`; one
//! module each under
//! [`commands`](crate::commands)).
//!
//! Every flag has a `KARMAN_*` environment variable; `KARMAN_LOG` sets the log filter
//! (e.g. `info`, `karman=debug`) and `KARMAN_LOG_FORMAT` the format (`text` or `json`).
//! Boolean variables take `1`/`0`, `yes`/`no` or `true`/`false`, in any case.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::commands::{build, bundle, check, dev, export, graph, new, schema, serve, wit};
use crate::log_text::EscapedFields;
use crate::traces::{self, Traces};
use tracing::Level;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Karman: serve WebAssembly components as the business logic of an app.
#[derive(Debug, Parser)]
#[command(name = "karman", version = version(), about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, env = "KARMAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the app a Directive (or a bundle) declares (SIGHUP reloads it).
    Serve(serve::ServeArgs),
    /// Serve the app, rebuild and reload it whenever its files change.
    Dev(dev::DevArgs),
    /// Validate a Directive (or a bundle) and its components, and print a summary.
    Check(check::CheckArgs),
    /// Pack the app a Directive declares into one file (`app.karman`): the Directive, its
    /// components, its static files and a manifest of their SHA-256s.
    Bundle(bundle::BundleArgs),
    /// Build the components of a Directive that name their source directory (`build:`).
    Build(build::BuildArgs),
    /// Export the app's request handlers, with its components and Karman's capabilities, as
    /// one `wasi:http` component that `wasmtime serve` runs.
    Export(export::ExportArgs),
    /// Draw the app's flows (triggers, steps, groups, onErr branches, subjects, grants) as
    /// Mermaid, DOT or SVG.
    Graph(graph::GraphArgs),
    /// Create a Runnable from a template, and add it to a Directive.
    New(new::NewArgs),
    /// Print the WIT package of the capability API (`karman:runnable`), or write it as files
    /// to vendor or as a binary package to publish.
    Wit(wit::WitArgs),
    /// Print the JSON Schema of the Directive (for editors), or write it to a file.
    Schema(schema::SchemaArgs),
}

/// What `karman --version` prints after the name: the version of this build and the WIT
/// package it implements, e.g. `0.1.0 (karman:runnable@0.1.0)`.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            karman_runtime::wit::PACKAGE
        )
    })
}

/// Runs the command line; the process exits with the returned code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let serves = matches!(cli.command, Command::Serve(_) | Command::Dev(_));
    let traces = match init_tracing(cli.log_format, serves && traces::requested()) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("error: traces: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => {
            let given = matches
                .subcommand_matches("serve")
                .expect("the serve command was parsed");
            serve::run(args, given)
        }
        Command::Dev(args) => {
            let given = matches
                .subcommand_matches("dev")
                .expect("the dev command was parsed");
            dev::run(args, given)
        }
        Command::Check(args) => check::run(&args),
        Command::Bundle(args) => bundle::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::New(args) => new::run(&args),
        Command::Wit(args) => wit::run(&args),
        Command::Schema(args) => schema::run(&args),
    };
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log on stderr, filtered by `KARMAN_LOG`, and, when `traces` is set, the OpenTelemetry
/// exporter of Karman's spans ([`traces::TARGET`], never in the log).
fn init_tracing(format: LogFormat, traces: bool) -> anyhow::Result<Option<Traces>> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KARMAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive(format!("{}=off", traces::TARGET).parse()?);
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = match format {
        LogFormat::Text => log
            .fmt_fields(EscapedFields::default())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => log.json().with_filter(filter).boxed(),
    };
    let (traces, spans) = if traces {
        let (traces, tracer) = Traces::from_env()?;
        let spans = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(Targets::new().with_target(traces::TARGET, Level::TRACE));
        (Some(traces), Some(spans))
    } else {
        (None, None)
    };
    tracing_subscriber::registry().with(log).with(spans).init();
    Ok(traces)
}
