//! The `karman` command line: `karman serve` and `karman check`.
//!
//! Every flag has a `KARMAN_*` environment variable; `KARMAN_LOG` sets the log filter
//! (e.g. `info`, `karman=debug`) and `KARMAN_LOG_FORMAT` the format (`text` or `json`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use karman_directive::{App, Sequence, Step, Trigger};
use karman_runtime::{Backends, EngineConfig, Runtime, RuntimeConfig};
use karman_streams::{Streams, StreamsConfig};

use crate::{ServerConfig, Service, serve};

/// Karman: serve WebAssembly components as the business logic of an app.
#[derive(Debug, Parser)]
#[command(name = "karman", version, about, propagate_version = true)]
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
    /// Serve the app a Directive declares.
    Serve(ServeArgs),
    /// Validate a Directive and its components, and print a summary.
    Check(CheckArgs),
    /// Build the components of a Directive that name their source directory (`build:`).
    Build(BuildArgs),
    /// Create a Runnable from a template, and add it to a Directive.
    New(NewArgs),
    /// Print the WIT package of the capability API (`karman:runnable`), or write it as files
    /// to vendor or as a binary package to publish.
    Wit(WitArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The component's name (lower-case letters, digits and `-`).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The directory to create it in (as `<dir>/<name>`).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// A Directive to add it to (`source: build/<name>.wasm`, `build: <its directory>`).
    #[arg(long)]
    directive: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Js,
    Python,
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// The Directive (YAML) of the app.
    #[arg(default_value = "Directive.yaml")]
    directive: PathBuf,
}

#[derive(Debug, clap::Args)]
struct WitArgs {
    /// Write the `.wit` files under this directory (`runnable.wit` and `deps/`), e.g.
    /// `wit/deps/karman-runnable` of a guest project.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the package as a binary WIT package (`.wasm`).
    #[arg(long)]
    wasm: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct EngineArgs {
    /// Directory of the compiled-code cache [default: ~/.cache/karman/compiled].
    #[arg(long, env = "KARMAN_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component at start-up instead of using the compiled-code cache.
    #[arg(long, env = "KARMAN_NO_COMPILE_CACHE")]
    no_compile_cache: bool,
    /// Component instances that may exist at once; steps beyond it get 503.
    #[arg(long, env = "KARMAN_MAX_INSTANCES", default_value_t = karman_runtime::DEFAULT_MAX_INSTANCES)]
    max_instances: u32,
}

impl EngineArgs {
    fn runtime_config(&self) -> RuntimeConfig {
        let cache_dir = if self.no_compile_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(karman_runtime::default_cache_dir)
        };
        RuntimeConfig {
            engine: EngineConfig {
                cache_dir,
                max_instances: self.max_instances,
                ..EngineConfig::default()
            },
            ..RuntimeConfig::default()
        }
    }
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The Directive (YAML) of the app, or a `wasi:http` component (`.wasm`) to serve every
    /// request with, as `wasmtime serve` does.
    directive: PathBuf,
    /// Address to listen on.
    #[arg(
        long,
        visible_alias = "addr",
        env = "KARMAN_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// Serving a component: how long one request may take, body included (e.g. `30s`).
    #[arg(long, env = "KARMAN_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Serving a component: the most linear memory one instance may use (e.g. `256MiB`).
    #[arg(long, env = "KARMAN_MEMORY", default_value = "128MiB", value_parser = parse_size)]
    memory: u64,
    /// Largest request body accepted (e.g. `10MiB`); larger ones get 413.
    #[arg(long, env = "KARMAN_MAX_BODY", default_value = "10MiB", value_parser = parse_size)]
    max_body: u64,
    /// How long a shutdown (SIGINT/SIGTERM) waits for in-flight requests (e.g. `30s`).
    #[arg(long, env = "KARMAN_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// Start even when a backend (Redis, the database) cannot be reached: retry it in the
    /// background, report it on `/health` (503 until connected), and fail its calls with
    /// `unavailable` meanwhile. Without it, an unreachable backend stops start-up.
    #[arg(long, env = "KARMAN_BACKGROUND_CONNECT")]
    background_connect: bool,
    /// Whether this process runs the Directive's schedules; set `false` on all processes of a
    /// deployment but one, so each scheduled run happens once.
    #[arg(long, env = "KARMAN_RUN_SCHEDULES", default_value_t = true, action = clap::ArgAction::Set)]
    run_schedules: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The Directive (YAML) of the app.
    directive: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
}

fn parse_size(text: &str) -> Result<u64, String> {
    karman_directive::parse_byte_size(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    karman_directive::parse_duration(text)
}

/// Runs the command line; the process exits with the returned code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Check(args) => run_check(&args),
        Command::Wit(args) => run_wit(&args),
        Command::Build(args) => run_build(&args),
        Command::New(args) => run_new(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KARMAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Loads and validates the Directive, printing every diagnostic.
fn load_directive(path: &Path) -> anyhow::Result<App> {
    karman_directive::load(path).map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))
}

/// Whether `path` names a component (`.wasm`) rather than a Directive.
fn is_component(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

/// The app `karman serve component.wasm` serves: the one component, with nothing granted but
/// `log` (its stdout and stderr go to the log), and the request timeout and memory limit.
pub fn component_app(path: &Path, timeout: Duration, memory: u64) -> anyhow::Result<App> {
    let source =
        std::fs::canonicalize(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let name = source
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".to_string());
    let location = karman_directive::Location {
        file: path.display().to_string().into(),
        line: 1,
        column: 1,
    };
    Ok(App {
        identifier: name.clone(),
        app_version: "-".into(),
        components: vec![karman_directive::Component {
            name,
            source,
            grants: karman_directive::Grants::default(),
            limits: karman_directive::Limits { timeout, memory },
            reuse: None,
            build: None,
            location,
        }],
        handlers: Vec::new(),
        streams: Vec::new(),
        schedules: Vec::new(),
        connections: karman_directive::Connections::default(),
        queries: Vec::new(),
        authentication: karman_directive::Authentication::default(),
        routes: Vec::new(),
    })
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let serves_component = is_component(&args.directive);
    let app = if serves_component {
        if !(1..=karman_directive::MAX_MEMORY).contains(&args.memory) {
            anyhow::bail!("--memory must be at most 4GiB");
        }
        component_app(&args.directive, args.request_timeout, args.memory)?
    } else {
        load_directive(&args.directive)?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("karman")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let identifier = format!("{} {}", app.identifier, app.app_version);
        let mut config = args.engine.runtime_config();
        config.backends = if args.background_connect {
            Backends::connect_in_background(&app).await?
        } else {
            Backends::connect(&app).await?
        };
        tracing::info!(backends = %config.backends.describe(), "connected");
        let loaded = tokio::task::spawn_blocking(move || Runtime::load(app, config))
            .await
            .context("loading was interrupted")??;
        let server_config = ServerConfig {
            max_body_bytes: args.max_body,
            shutdown_grace: args.shutdown_grace,
        };
        let loaded = Arc::new(loaded);
        let service = if serves_component {
            if !loaded.reports()[0].serves_http {
                anyhow::bail!(
                    "`{}` does not export `wasi:http/incoming-handler`: only a wasi:http \
                     component can be served without a Directive",
                    args.directive.display()
                );
            }
            Service::proxy(
                loaded.clone(),
                karman_directive::ComponentId(0),
                server_config,
            )?
        } else {
            Service::new(loaded.clone(), server_config)?
        };
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let streams = Streams::start(
            loaded,
            StreamsConfig {
                run_schedules: args.run_schedules,
                ..StreamsConfig::default()
            },
        )
        .await?;
        let address = listener.local_addr()?;
        tracing::info!(app = %identifier, "listening on http://{address}");
        serve(listener, service, shutdown_signal()).await?;
        // The HTTP side has drained; now stop taking messages and finish those in flight.
        streams.shutdown().await;
        Ok(())
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

fn run_new(args: &NewArgs) -> anyhow::Result<()> {
    let language = match args.lang {
        Lang::Rust => crate::build::Language::Rust,
        Lang::Js => crate::build::Language::JavaScript,
        Lang::Python => crate::build::Language::Python,
    };
    let created = crate::new::create(&args.name, language, &args.dir, args.directive.as_deref())?;
    eprintln!("created {}", created.display());
    match &args.directive {
        Some(directive) => eprintln!(
            "added `{}` to {}: build it with `karman build {}`",
            args.name,
            directive.display(),
            directive.display()
        ),
        None => eprintln!("add it to a Directive with `build: {}`", created.display()),
    }
    Ok(())
}

fn run_build(args: &BuildArgs) -> anyhow::Result<()> {
    let app = karman_directive::load_unbuilt(&args.directive)
        .map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))?;
    crate::build::build_app(&app, &args.directive)
}

fn run_wit(args: &WitArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.out {
        crate::wit::write_files(dir)?;
        eprintln!("wrote {} to {}", crate::wit::PACKAGE, dir.display());
    }
    if let Some(file) = &args.wasm {
        let package = crate::wit::encode_package()?;
        std::fs::write(file, package)
            .with_context(|| format!("cannot write `{}`", file.display()))?;
        eprintln!("wrote {} to {}", crate::wit::PACKAGE, file.display());
    }
    if args.out.is_none() && args.wasm.is_none() {
        let (_, text) = crate::wit::FILES
            .iter()
            .find(|(name, _)| *name == "runnable.wit")
            .expect("the package's own file");
        print!("{text}");
    }
    Ok(())
}

fn run_check(args: &CheckArgs) -> anyhow::Result<()> {
    let app = load_directive(&args.directive)?;
    let mut config = args.engine.runtime_config();
    // Connections are made, so that `check` catches a backend that cannot be reached.
    let connect = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    config.backends = connect.block_on(Backends::connect(&app))?;
    let backends = config.backends.describe();
    let runtime = Runtime::load(app, config)?;
    print!("{}", summary(&runtime, &backends));
    Ok(())
}

/// The text `karman check` prints.
fn summary(runtime: &Runtime, backends: &str) -> String {
    use std::fmt::Write as _;
    let app = runtime.app();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}: OK", app.identifier, app.app_version);
    let _ = writeln!(out, "\nbackends: {backends}");
    let _ = writeln!(out, "\ncomponents ({}):", app.components.len());
    for (component, report) in app.components.iter().zip(runtime.reports()) {
        let _ = writeln!(
            out,
            "  {}  {} ({} KiB{})",
            component.name,
            component.source.display(),
            report.size_bytes.div_ceil(1024),
            if report.serves_http {
                ", wasi:http"
            } else {
                ""
            }
        );
        let mut grants = Vec::new();
        if let Some(cache) = &component.grants.cache {
            grants.push(if cache.prefix.is_empty() {
                "cache".to_string()
            } else {
                format!("cache (prefix {:?})", cache.prefix)
            });
        }
        if component.grants.log {
            grants.push("log".to_string());
        }
        if let Some(sql) = &component.grants.sql {
            let mut text = format!(
                "sql (queries: {}",
                if sql.queries.is_empty() {
                    "none".to_string()
                } else {
                    sql.queries.join(", ")
                }
            );
            if sql.raw {
                text.push_str("; raw");
            }
            if !sql.write {
                text.push_str("; read-only");
            }
            text.push(')');
            grants.push(text);
        }
        let _ = writeln!(
            out,
            "    grants:  {}",
            if grants.is_empty() {
                "none".to_string()
            } else {
                grants.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "    limits:  timeout {}, memory {} MiB",
            humantime::format_duration(component.limits.timeout),
            component.limits.memory >> 20
        );
        let karman: Vec<&str> = report
            .imports
            .iter()
            .map(String::as_str)
            .filter(|import| import.starts_with("karman:"))
            .collect();
        let _ = writeln!(
            out,
            "    imports: {}",
            if karman.is_empty() {
                "none".to_string()
            } else {
                karman.join(", ")
            }
        );
        for warning in &report.warnings {
            let _ = writeln!(out, "    warning: {warning}");
        }
    }
    let _ = writeln!(out, "\nhandlers ({}):", app.handlers.len());
    for handler in &app.handlers {
        let _ = writeln!(
            out,
            "  {} {} -> {}",
            handler.method,
            handler.resource,
            describe_sequence(&handler.sequence)
        );
    }
    if !app.streams.is_empty() {
        let _ = writeln!(out, "\nstream handlers ({}):", app.streams.len());
        for stream in &app.streams {
            let respond = stream
                .respond_to
                .as_ref()
                .map(|r| format!(", respondTo: {r}"))
                .unwrap_or_default();
            let jetstream = stream
                .jetstream
                .as_ref()
                .map(|j| format!(", JetStream {}/{}", j.stream, j.durable))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} -> {}{respond}{jetstream}",
                stream.source,
                stream.resource,
                describe_sequence(&stream.sequence)
            );
        }
    }
    if !app.schedules.is_empty() {
        let _ = writeln!(out, "\nschedules ({}):", app.schedules.len());
        for schedule in &app.schedules {
            let when = match &schedule.trigger {
                Trigger::Every(every) => format!("every {}", humantime::format_duration(*every)),
                Trigger::Cron(cron) => format!("cron `{cron}`"),
            };
            let _ = writeln!(
                out,
                "  {} ({when}) -> {}",
                schedule.name,
                describe_sequence(&schedule.sequence)
            );
        }
    }
    if !app.routes.is_empty() {
        let _ = writeln!(out, "\nroutes ({}):", app.routes.len());
        for route in &app.routes {
            let component = &app.component(route.component).name;
            for endpoint in &route.endpoints {
                let mut limits = Vec::new();
                if let Some(rate) = endpoint.rate_limit {
                    let per = match rate.per.as_secs() {
                        1 => "s",
                        60 => "m",
                        _ => "h",
                    };
                    limits.push(format!("rate {}/{per}", rate.count));
                }
                if let Some(max) = endpoint.max_body {
                    limits.push(format!("maxBody {max} B"));
                }
                if let Some(timeout) = endpoint.timeout {
                    limits.push(format!("timeout {}", humantime::format_duration(timeout)));
                }
                let limits = if limits.is_empty() {
                    String::new()
                } else {
                    format!(", {}", limits.join(", "))
                };
                let _ = writeln!(
                    out,
                    "  {} {} -> {component} ({}{limits})",
                    endpoint.method,
                    endpoint.mounted_path(&route.plugin),
                    endpoint.auth
                );
            }
        }
        if let Some(jwt) = &app.authentication.jwt {
            let _ = writeln!(out, "  tokens: {}", jwt.key.algorithm());
        }
    }
    let engine = runtime.engine();
    let _ = writeln!(
        out,
        "\ncompiled code: {} from cache, {} compiled",
        engine.cache_hits(),
        engine.cache_misses()
    );
    out
}

/// `a -> group(b, c) -> d (response: d)`.
fn describe_sequence(sequence: &Sequence) -> String {
    let steps: Vec<String> = sequence
        .steps
        .iter()
        .map(|step| match step {
            Step::Fn(call) => call.key.clone(),
            Step::Group(calls) => format!(
                "group({})",
                calls
                    .iter()
                    .map(|c| c.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    format!("{} (response: {})", steps.join(" -> "), sequence.response)
}
