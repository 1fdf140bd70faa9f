//! The start-up sequence of an app, the same for `karman serve` and for the integration tests:
//! connect the backends, load (compile) the components, start the stream handlers and
//! schedules, serve HTTP until the shutdown signal, then drain the streams.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let app = karman_directive::load("examples/hello/Directive.yaml".as_ref())?;
//! let running = karman::start(app, karman::Launch::default()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! running.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use karman_directive::{App, ComponentId};
use karman_runtime::{Backends, Runtime, RuntimeConfig};
use karman_streams::{Streams, StreamsConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::admin::Admin;
use crate::config::ServerConfig;
use crate::health::ServerStatus;
use crate::listen::{LiveService, serve_connections};
use crate::reload::{self, Generation, ReloadSettings};
use crate::service::Service;
use crate::tls::{Certificates, TlsFiles};

/// How to start an app.
#[derive(Debug, Default)]
pub struct Launch {
    /// The engine's settings; with [`Connect::Given`], also the backends.
    pub runtime: RuntimeConfig,
    /// How the backends are connected.
    pub connect: Connect,
    /// The HTTP server's settings.
    pub server: ServerConfig,
    /// The stream handlers' settings (the bus, whether schedules run here).
    pub streams: StreamsConfig,
    /// What the HTTP server serves.
    pub serving: Serving,
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`; see
    /// [`Running::certificates`] to read them again).
    pub tls: Option<TlsFiles>,
}

/// How the backends (Redis, the database, outbound HTTP) are connected at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Connect {
    /// Connect now; a backend that cannot be reached stops start-up.
    #[default]
    Now,
    /// Start at once and keep trying in the background (`--background-connect`).
    InBackground,
    /// Already connected: [`Launch::runtime`] holds the backends.
    Given,
}

/// What the HTTP server serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Serving {
    /// The Directive's handlers, custom routes and WebSocket endpoints.
    #[default]
    Directive,
    /// Every request to the app's one `wasi:http` component (`karman serve component.wasm`).
    Component,
}

/// A started app: loaded, its streams running, ready to serve HTTP.
pub struct Running {
    /// The loaded app.
    pub runtime: Arc<Runtime>,
    /// What answers its HTTP requests.
    pub service: Arc<Service>,
    /// Its stream handlers and schedules, already running (shared: their counts are read
    /// while the app serves).
    pub streams: Arc<Streams>,
    /// How it was started, for a reload to start its successor the same way.
    settings: Arc<ReloadSettings>,
    /// The service new requests go to (the admin listener reads the app through it).
    live: Arc<LiveService>,
}

/// Connects, loads and starts `app`, as [`Launch`] says.
pub async fn start(app: App, launch: Launch) -> anyhow::Result<Running> {
    // Before anything slow: a certificate that cannot be used stops start-up at once.
    let tls = launch.tls.map(Certificates::load).transpose()?;
    let mut config = launch.runtime;
    match launch.connect {
        Connect::Now => config.backends = Backends::connect(&app).await?,
        Connect::InBackground => config.backends = Backends::connect_in_background(&app).await?,
        Connect::Given => {}
    }
    tracing::info!(backends = %config.backends.describe(), "connected");
    let status = Arc::new(ServerStatus::default());
    config.metrics = status.metrics.runtime();
    let streams = StreamsConfig {
        metrics: status.metrics.streams(),
        ..launch.streams
    };
    let settings = Arc::new(ReloadSettings {
        runtime: config.clone(),
        connect: launch.connect,
        server: launch.server,
        streams,
        serving: launch.serving,
        status,
        tls,
    });
    let runtime = load(app, config).await?;
    let service = settings.service(&runtime)?;
    let streams = Arc::new(Streams::start(runtime.clone(), settings.streams.clone()).await?);
    let service = Arc::new(service.with_websockets(streams.websocket_handlers()));
    let live = Arc::new(LiveService::new(service.clone()));
    Ok(Running {
        runtime,
        service,
        streams,
        settings,
        live,
    })
}

/// Loads `app` on a blocking thread (compiling components is CPU-heavy on a cold cache).
pub async fn load(app: App, config: RuntimeConfig) -> anyhow::Result<Arc<Runtime>> {
    let runtime = tokio::task::spawn_blocking(move || Runtime::load(app, config))
        .await
        .context("loading was interrupted")??;
    Ok(Arc::new(runtime))
}

impl ReloadSettings {
    /// The service answering `runtime`'s requests (its WebSocket endpoints not yet served).
    pub(crate) fn service(&self, runtime: &Arc<Runtime>) -> anyhow::Result<Service> {
        let service = match self.serving {
            Serving::Directive => Service::new(runtime.clone(), self.server.clone()),
            Serving::Component => {
                let component = &runtime.app().components[0];
                if !runtime.reports()[0].serves_http {
                    anyhow::bail!(
                        "`{}` does not export `wasi:http/incoming-handler`: only a wasi:http \
                         component can be served without a Directive",
                        component.location.file
                    );
                }
                Service::proxy(runtime.clone(), ComponentId(0), self.server.clone())
            }
        }?;
        Ok(service.with_status(self.status.clone()))
    }
}

impl Running {
    /// What the admin listener reads ([`crate::admin::serve`]): the app serving now, through
    /// every reload, and the server's metrics.
    pub fn admin(&self) -> Admin {
        Admin::new(self.live.clone(), self.settings.status.clone())
    }

    /// The server's certificate when it serves HTTPS: [`Certificates::reload`] reads the
    /// files again (`karman serve` does on SIGHUP).
    pub fn certificates(&self) -> Option<Arc<Certificates>> {
        self.settings.tls.clone()
    }

    /// Serves HTTP on `listener` until `shutdown` resolves; once in-flight requests have
    /// finished (within the grace period), stops taking messages and finishes those in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let (_no_reloads, reloads) = mpsc::channel(1);
        self.serve_with_reloads(listener, shutdown, reloads).await
    }

    /// As [`Running::serve`], and replaces the app by each one `reloads` delivers, without
    /// dropping a request (see docs/operations.md, "Reloading"). A reload that fails is logged,
    /// and the app before it keeps serving.
    pub async fn serve_with_reloads(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        reloads: mpsc::Receiver<App>,
    ) -> anyhow::Result<()> {
        let app = self.runtime.app();
        let scheme = if self.settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(
            app = %format!("{} {}", app.identifier, app.app_version),
            "listening on {scheme}://{}",
            listener.local_addr()?
        );
        let acceptor = self.settings.tls.as_ref().map(Certificates::acceptor);
        let live = self.live;
        let status = self.settings.status.clone();
        let current = Arc::new(tokio::sync::Mutex::new(Generation {
            runtime: self.runtime,
            streams: self.streams,
        }));
        let reloading = tokio::spawn(reload::apply_each(
            reloads,
            current.clone(),
            live.clone(),
            self.settings,
        ));
        let shutdown = async move {
            shutdown.await;
            // From now on `/readyz` says `draining`, on the admin listener too.
            status.start_draining();
        };
        let served = serve_connections(listener, live, acceptor, shutdown).await;
        // A reload under way finishes first: then nothing else starts streams.
        let current = current.lock().await;
        reloading.abort();
        current.streams.shutdown().await;
        served?;
        Ok(())
    }
}
