//! `karman serve`: serves the app a Directive or a bundle (`app.karman`) declares, or one
//! `wasi:http` component on every path (as `wasmtime serve` does), until SIGINT or SIGTERM; on
//! SIGHUP, reads the Directive (the bundle, or the component) again and reloads the app
//! without dropping a request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use karman_directive::{App, Limits};
use karman_streams::StreamsConfig;
use tokio::sync::mpsc;

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::wasi_options::{self, WasiOption};
use super::{EngineArgs, load_directive, parse_bool, parse_duration, parse_size};
use crate::bundle;
use crate::config::ServerConfig;
use crate::startup::{Connect, Launch, Serving, start};
use crate::tls::{Certificates, TlsFiles};

/// The arguments of `karman serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The Directive (YAML) of the app, its bundle (`.karman`, made by `karman bundle`), or a
    /// `wasi:http` component (`.wasm`) to serve every request with, as `wasmtime serve` does.
    #[arg(default_value = "Directive.yaml")]
    pub(crate) directive: PathBuf,
    /// Address to listen on.
    #[arg(
        long,
        visible_alias = "addr",
        env = "KARMAN_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Read again
    /// on SIGHUP.
    #[arg(long, env = "KARMAN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "KARMAN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Address of the admin listener (`/metrics`, `/health` with backend details, `/livez`,
    /// `/readyz`); off unless given. Keep it on loopback or a private network.
    #[arg(long, env = "KARMAN_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
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
    /// How long a client may take to send a request head, from its first byte (HTTP/1, and an
    /// HTTP/2 connection's first request), before the connection is closed (e.g. `30s`).
    #[arg(long, env = "KARMAN_HEADER_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// How long a client may take to send a request body the server reads whole; 408 after it
    /// (e.g. `60s`).
    #[arg(long, env = "KARMAN_BODY_READ_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    body_read_timeout: Duration,
    /// The longest from a request's head to its response head; 504 after it (e.g. `5m`).
    #[arg(long, env = "KARMAN_TOTAL_REQUEST_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    total_request_timeout: Duration,
    /// How long a connection (HTTP/1 or HTTP/2) may stay open with no request in flight
    /// (e.g. `60s`).
    #[arg(long, env = "KARMAN_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Most connections open at once; further ones wait to be accepted.
    #[arg(long, env = "KARMAN_MAX_CONNECTIONS", default_value_t = crate::config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Threads serving connections (a connection stays on the one it is given); 0: one per
    /// core.
    #[arg(long, env = "KARMAN_CONNECTION_THREADS", default_value_t = 0)]
    connection_threads: usize,
    /// How long a connection thread serving few connections keeps polling after its last read
    /// or write before it sleeps (e.g. `100us`); `0` to always sleep at once.
    #[arg(long, env = "KARMAN_CONNECTION_SPIN", default_value = "100us", value_parser = parse_duration)]
    connection_spin: Duration,
    /// Start even when a backend (Redis, the database) cannot be reached: retry it in the
    /// background, report it on `/health` (503 until connected), and fail its calls with
    /// `unavailable` meanwhile. Without it, an unreachable backend stops start-up.
    #[arg(long, env = "KARMAN_BACKGROUND_CONNECT", value_parser = parse_bool)]
    background_connect: bool,
    /// Whether this process runs the Directive's schedules; set `false` on all processes of a
    /// deployment but one, so each scheduled run happens once.
    #[arg(long, env = "KARMAN_RUN_SCHEDULES", default_value_t = true, action = clap::ArgAction::Set, value_parser = parse_bool)]
    run_schedules: bool,
    /// Share the schedules with the other processes of the deployment through this Redis
    /// (`redis://[user:password@]host:6379[/db]`, `rediss://` for TLS): each tick runs in one
    /// process, whichever claims it first. Pass a password through the environment variable.
    #[arg(long, env = "KARMAN_SCHEDULE_LEASE", value_name = "REDIS_URL", hide_env_values = true, value_parser = parse_lease_url)]
    schedule_lease: Option<String>,
    /// Headless mode: every Runnable answers `POST /_run/<name>`, as `headless: true` in the
    /// Directive does (a token is needed when the Directive sets `authentication.jwt`).
    #[arg(long, env = "KARMAN_HEADLESS")]
    headless: bool,
    /// Serving a component: a `wasmtime serve` option for the standard interfaces, repeated
    /// as needed: `keyvalue` (grants the in-memory cache to `wasi:keyvalue`),
    /// `config-var=NAME=VALUE` (a `wasi:config` value); `config`, `cli` and `http` are
    /// accepted and always on.
    #[arg(short = 'S', value_name = "OPTION", value_parser = wasi_options::parse_wasi_option)]
    wasi: Vec<WasiOption>,
    /// Serving a component: a host its `wasi:http/outgoing-handler` may call, written as an
    /// entry of a Directive's `http: { allow }` (`api.example.com`, `*.example.com`,
    /// `https://host:port`), repeated as needed. Without it every outgoing request is refused.
    #[arg(long, value_name = "HOST", value_parser = karman_directive::HostPattern::parse)]
    allow_http: Vec<karman_directive::HostPattern>,
    /// Serving a component: its outgoing requests may reach private, loopback and link-local
    /// addresses (a Directive's `allowPrivate: true`).
    #[arg(long, requires = "allow_http")]
    allow_private_http: bool,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    bundle: bundle::Limits,
    /// The bundles opened so far (a reload opens its own); unpacked until the process ends.
    #[arg(skip)]
    opened: std::sync::Mutex<Vec<bundle::Opened>>,
}

/// Whether `path` names a component (`.wasm`) rather than a Directive.
fn is_component(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

/// A flag that does nothing in one of the two ways of serving: which one, its argument id, the
/// flag, its environment variable, and why.
struct Unused {
    when: Serving,
    id: &'static str,
    flag: &'static str,
    env: &'static str,
    why: &'static str,
}

/// The flags that do nothing when serving a Directive, then when serving a component.
const UNUSED: &[Unused] = &[
    Unused {
        when: Serving::Directive,
        id: "request_timeout",
        flag: "--request-timeout",
        env: "KARMAN_REQUEST_TIMEOUT",
        why: "it applies to serving a component (.wasm); a Directive gives each component its \
              `limits: { timeout }`, and --total-request-timeout bounds a whole request",
    },
    Unused {
        when: Serving::Directive,
        id: "memory",
        flag: "--memory",
        env: "KARMAN_MEMORY",
        why: "it applies to serving a component (.wasm); a Directive gives each component its \
              `limits: { memory }`, and --max-guest-memory bounds all instances together",
    },
    Unused {
        when: Serving::Directive,
        id: "wasi",
        flag: "-S",
        env: "",
        why: "it applies to serving a component (.wasm); a Directive grants each component \
              `capabilities: { cache }` and declares its `config:`",
    },
    Unused {
        when: Serving::Directive,
        id: "allow_http",
        flag: "--allow-http",
        env: "",
        why: "it applies to serving a component (.wasm); a Directive grants each component \
              `capabilities: { http: { allow } }`",
    },
    Unused {
        when: Serving::Directive,
        id: "allow_private_http",
        flag: "--allow-private-http",
        env: "",
        why: "it applies to serving a component (.wasm); a Directive grants each component \
              `capabilities: { http: { allowPrivate } }`",
    },
    Unused {
        when: Serving::Component,
        id: "body_read_timeout",
        flag: "--body-read-timeout",
        env: "KARMAN_BODY_READ_TIMEOUT",
        why: "a component served alone reads its request body as it streams in; \
              --request-timeout bounds its whole request",
    },
    Unused {
        when: Serving::Component,
        id: "background_connect",
        flag: "--background-connect",
        env: "KARMAN_BACKGROUND_CONNECT",
        why: "a component served alone has no backends to connect",
    },
    Unused {
        when: Serving::Component,
        id: "run_schedules",
        flag: "--run-schedules",
        env: "KARMAN_RUN_SCHEDULES",
        why: "a component served alone has no schedules",
    },
    Unused {
        when: Serving::Component,
        id: "schedule_lease",
        flag: "--schedule-lease",
        env: "KARMAN_SCHEDULE_LEASE",
        why: "a component served alone has no schedules",
    },
    Unused {
        when: Serving::Component,
        id: "max_step_output",
        flag: "--max-step-output",
        env: "KARMAN_MAX_STEP_OUTPUT",
        why: "a component served alone runs no steps",
    },
    Unused {
        when: Serving::Component,
        id: "max_state",
        flag: "--max-state",
        env: "KARMAN_MAX_STATE",
        why: "a component served alone runs no steps",
    },
];

/// Refuses a flag given on the command line that does nothing for `serving`, and warns about
/// one set only through its environment variable (a deployment may set it for every process).
pub(crate) fn check_unused_flags(serving: Serving, given: &ArgMatches) -> anyhow::Result<()> {
    let mode = match serving {
        Serving::Directive => "serving a Directive",
        Serving::Component => "serving a component",
    };
    for flag in UNUSED.iter().filter(|flag| flag.when == serving) {
        match given.value_source(flag.id) {
            Some(ValueSource::CommandLine) => {
                anyhow::bail!("{} does nothing when {mode}: {}", flag.flag, flag.why)
            }
            Some(ValueSource::EnvVariable) => tracing::warn!(
                "{} is set, but {} does nothing when {mode}: {}",
                flag.env,
                flag.flag,
                flag.why
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Runs `karman serve`; `given` tells which flags the command line or the environment set.
pub fn run(args: ServeArgs, given: &ArgMatches) -> anyhow::Result<()> {
    check_unused_flags(args.serving(), given)?;
    let app = args.load_app()?;
    let (reload, reloads) = mpsc::channel(1);
    serve_app(args, app, reloads, move |args, certificates| {
        #[cfg(unix)]
        tokio::spawn(reload_on_hangup(args, certificates, reload));
        #[cfg(not(unix))]
        drop((args, certificates, reload));
    })
}

impl ServeArgs {
    /// What is served: a Directive or one component.
    pub(crate) fn serving(&self) -> Serving {
        if is_component(&self.directive) {
            Serving::Component
        } else {
            Serving::Directive
        }
    }

    /// Reads the app: the Directive, the bundle (checked and unpacked first; its directory
    /// lives as long as the process), or the app of the one component.
    pub(crate) fn load_app(&self) -> anyhow::Result<App> {
        let serving = self.serving();
        let mut app = match serving {
            Serving::Component => {
                if !(1..=karman_directive::MAX_MEMORY).contains(&self.memory) {
                    anyhow::bail!("--memory must be at most 4GiB");
                }
                let limits = Limits {
                    timeout: self.request_timeout,
                    memory: self.memory,
                };
                let mut app = App::serving_component(&self.directive, limits)?;
                wasi_options::apply(&self.wasi, &mut app.components[0]);
                if !self.allow_http.is_empty() {
                    app.components[0].grants.http = Some(karman_directive::OutboundGrant {
                        allow: self.allow_http.clone(),
                        allow_private: self.allow_private_http,
                    });
                }
                app
            }
            Serving::Directive if bundle::is_bundle(&self.directive) => {
                let bundle = bundle::open(&self.directive, self.bundle)?;
                tracing::info!(
                    bundle = %self.directive.display(),
                    sha256 = %bundle.sha256,
                    "bundle verified ({} files)",
                    bundle.manifest.files.len()
                );
                let app = bundle.app.clone();
                self.opened
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(bundle);
                app
            }
            Serving::Directive => load_directive(&self.directive)?,
        };
        if self.headless {
            if serving == Serving::Component {
                anyhow::bail!(
                    "--headless serves the Runnables of a Directive, not a wasi:http component"
                );
            }
            if app.headless.is_none() {
                app.headless = Some(karman_directive::Headless::enabled(&app.authentication));
            }
        }
        Ok(app)
    }

    /// How the app is started.
    fn launch(&self) -> Launch {
        Launch {
            runtime: self.engine.runtime_config(),
            connect: if self.background_connect {
                Connect::InBackground
            } else {
                Connect::Now
            },
            server: ServerConfig {
                max_body_bytes: self.max_body,
                shutdown_grace: self.shutdown_grace,
                header_read_timeout: self.header_read_timeout,
                body_read_timeout: self.body_read_timeout,
                total_request_timeout: self.total_request_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections,
                connection_threads: self.connection_threads,
                connection_spin: self.connection_spin,
            },
            streams: StreamsConfig {
                run_schedules: self.run_schedules,
                schedule_lease: self.schedule_lease.clone(),
                ..StreamsConfig::default()
            },
            serving: self.serving(),
            tls: self
                .tls_cert
                .clone()
                .zip(self.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
        }
    }
}

/// Starts `app` as `args` say and serves it until SIGINT or SIGTERM, replacing it by each app
/// `reloads` delivers. `started` runs once the app has started, inside the async runtime (to
/// spawn what feeds `reloads`).
pub(crate) fn serve_app(
    args: ServeArgs,
    app: App,
    reloads: mpsc::Receiver<App>,
    started: impl FnOnce(Arc<ServeArgs>, Option<Arc<Certificates>>),
) -> anyhow::Result<()> {
    if args.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    let launch = args.launch();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("karman")
        .build()
        .context("cannot start the async runtime")?;
    let args = Arc::new(args);
    runtime.block_on(async move {
        let running = start(app, launch).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // The admin listener answers until the app has stopped (its `/readyz` says `draining`
        // meanwhile).
        let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(address) = args.admin_listen {
            let admin = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (--admin-listen)"))?;
            tokio::spawn(crate::admin::serve(admin, running.admin(), async {
                let _ = admin_stopped.await;
            }));
        }
        started(args, running.certificates());
        let served = running
            .serve_with_reloads(listener, shutdown_signal(), reloads)
            .await;
        drop(admin_stop);
        served
    })
}

/// On each SIGHUP, reads the TLS certificate again (when serving HTTPS), then the app, and
/// hands the app to `reload`; what cannot be read is logged, and what serves stays.
#[cfg(unix)]
async fn reload_on_hangup(
    args: Arc<ServeArgs>,
    certificates: Option<Arc<Certificates>>,
    reload: mpsc::Sender<App>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reloading is off");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!(path = %args.directive.display(), "received SIGHUP: reloading");
        if let Some(certificates) = &certificates {
            match certificates.reload() {
                Ok(()) => tracing::info!("TLS certificate read again: new handshakes use it"),
                Err(error) => tracing::error!(
                    "TLS certificate reload failed; the one before it stays: {error:#}"
                ),
            }
        }
        match args.load_app() {
            Ok(app) => {
                if reload.send(app).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::error!("reload failed; the app before it keeps serving: {error:#}");
            }
        }
    }
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

/// A `--schedule-lease` value: a Redis URL (only Redis holds schedule leases so far).
fn parse_lease_url(value: &str) -> Result<String, String> {
    if value.starts_with("redis://") || value.starts_with("rediss://") {
        Ok(value.to_string())
    } else {
        Err(format!(
            "`{}` is not a Redis URL: a schedule lease is held in Redis (redis://host:6379 or rediss://…)",
            karman_directive::redact_url(value)
        ))
    }
}
