//! Reloading a served app in place: on SIGHUP (`karman serve`) and on every change `karman dev`
//! sees.
//!
//! A reload loads the new app beside the old one — its backends (kept when the connections
//! have the same settings), its components (from the compiled-code cache when unchanged), its
//! routes — and only then touches what serves:
//!
//! 1. the old app's stream handlers and schedules stop as at a shutdown: they take no new
//!    message and finish those in flight; then the new app's start;
//! 2. new HTTP requests go to the new app, while requests (and WebSocket sessions) already
//!    started finish on the old one, which is dropped once the last of them has.
//!
//! Anything that fails before step 1 (an invalid Directive, a component that does not
//! compile, a backend that cannot be reached, a route conflict) leaves the old app serving
//! untouched. If the new app's streams cannot start, the old app's are started again and it
//! keeps serving.

use std::sync::Arc;

use anyhow::Context as _;
use karman_directive::App;
use karman_runtime::{Runtime, RuntimeConfig};
use karman_streams::{Streams, StreamsConfig};
use tokio::sync::{Mutex, mpsc};

use crate::config::ServerConfig;
use crate::listen::LiveService;
use crate::startup::{Connect, Serving, load};

/// How an app was started; its successors start the same way.
#[derive(Debug)]
pub(crate) struct ReloadSettings {
    /// The engine's settings (the backends of the first app, reused while the connections
    /// keep their settings).
    pub(crate) runtime: RuntimeConfig,
    pub(crate) connect: Connect,
    pub(crate) server: ServerConfig,
    pub(crate) streams: StreamsConfig,
    pub(crate) serving: Serving,
    /// The metrics and the draining flag every app of this server records into.
    pub(crate) status: Arc<crate::health::ServerStatus>,
    /// The server's certificate when it serves HTTPS.
    pub(crate) tls: Option<Arc<crate::tls::Certificates>>,
}

/// The app serving now: its runtime and its running streams.
pub(crate) struct Generation {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) streams: Arc<Streams>,
}

/// Applies each app `reloads` delivers, in turn, logging the outcome; holds `current` locked
/// while one is applied.
pub(crate) async fn apply_each(
    mut reloads: mpsc::Receiver<App>,
    current: Arc<Mutex<Generation>>,
    live: Arc<LiveService>,
    settings: Arc<ReloadSettings>,
) {
    while let Some(app) = reloads.recv().await {
        let name = format!("{} {}", app.identifier, app.app_version);
        let mut generation = current.lock().await;
        tracing::info!(app = %name, "loading the new app");
        match apply(&mut generation, &live, &settings, app).await {
            Ok(()) => tracing::info!(app = %name, "reloaded: new requests go to the new app"),
            Err(error) => tracing::error!(
                app = %name,
                "reload failed; the app before it keeps serving: {error:#}"
            ),
        }
    }
}

/// Replaces `current` by `app` (see the module docs for the order).
async fn apply(
    current: &mut Generation,
    live: &LiveService,
    settings: &ReloadSettings,
    app: App,
) -> anyhow::Result<()> {
    let previous = current.runtime.app();
    let mut config = settings.runtime.clone();
    config.backends = current
        .runtime
        .backends()
        .reconnect(previous, &app, settings.connect == Connect::InBackground)
        .await?;
    let runtime = load(app, config).await?;
    let service = settings
        .service(&runtime)?
        .sharing_sessions_with(&live.current());

    current.streams.shutdown().await;
    let streams = match Streams::start(runtime.clone(), settings.streams.clone()).await {
        Ok(streams) => Arc::new(streams),
        Err(error) => {
            current.streams = Arc::new(
                Streams::start(current.runtime.clone(), settings.streams.clone())
                    .await
                    .context("the streams of the app before it could not start again")?,
            );
            return Err(anyhow::Error::new(error).context("the new app's streams cannot start"));
        }
    };
    live.replace(Arc::new(
        service.with_websockets(streams.websocket_handlers()),
    ));
    *current = Generation { runtime, streams };
    Ok(())
}
