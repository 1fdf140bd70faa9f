//! `karman check`: validates a Directive (or a bundle: checked and unpacked first), connects its backends and loads its components
//! exactly as `karman serve` would, then prints what the app is made of.

use std::fmt::Write as _;
use std::path::PathBuf;

use karman_runtime::{Backends, Runtime};

use super::{CompileArgs, load_directive};

/// The arguments of `karman check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The Directive (YAML) of the app, or its bundle (`.karman`).
    directive: PathBuf,
    #[command(flatten)]
    compile: CompileArgs,
    #[command(flatten)]
    bundle: crate::bundle::Limits,
}

/// Runs `karman check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let opened = if crate::bundle::is_bundle(&args.directive) {
        Some(crate::bundle::open(&args.directive, args.bundle)?)
    } else {
        None
    };
    let app = match &opened {
        Some(bundle) => {
            println!(
                "bundle {} ({} files, sha256 {}): verified",
                args.directive.display(),
                bundle.manifest.files.len(),
                bundle.sha256
            );
            bundle.app.clone()
        }
        None => load_directive(&args.directive)?,
    };
    let mut config = args.compile.runtime_config();
    // Connections are made, so that `check` catches a backend that cannot be reached.
    let connect = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    config.backends = connect.block_on(Backends::connect(&app))?;
    let backends = config.backends.describe();
    let runtime = Runtime::load(app, config)?;
    print!("{}", report(&runtime, &backends));
    drop(opened);
    Ok(())
}

/// The text `karman check` prints.
fn report(runtime: &Runtime, backends: &str) -> String {
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
        let _ = writeln!(out, "    grants:  {}", component.grants);
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
            handler.method, handler.resource, handler.sequence
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
                stream.source, stream.resource, stream.sequence
            );
        }
    }
    if !app.schedules.is_empty() {
        let _ = writeln!(out, "\nschedules ({}):", app.schedules.len());
        for schedule in &app.schedules {
            let _ = writeln!(
                out,
                "  {} ({}) -> {}",
                schedule.name, schedule.trigger, schedule.sequence
            );
        }
    }
    if !app.routes.is_empty() {
        let _ = writeln!(out, "\nroutes ({}):", app.routes.len());
        for route in &app.routes {
            let component = &app.component(route.component).name;
            for endpoint in &route.endpoints {
                let _ = writeln!(
                    out,
                    "  {} {} -> {component} ({})",
                    endpoint.method,
                    endpoint.mounted_path(&route.plugin),
                    endpoint.terms(),
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
