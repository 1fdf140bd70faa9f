//! The app started as `karman serve` starts it ([`karman::start`]), and served on
//! 127.0.0.1:0 ([`TestServer`]).

use std::sync::Arc;

use karman::{Launch, Running, ServerConfig};
use karman_directive::App;
use karman_runtime::RuntimeConfig;
use karman_streams::Streams;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{app, client, runtime_config};

/// Starts `app` as `karman serve` does — backends, components, streams — with the tests'
/// runtime configuration; nothing listens yet.
pub async fn start(app: App) -> Running {
    launch(
        app,
        Launch {
            runtime: runtime_config(),
            ..Launch::default()
        },
    )
    .await
}

/// Starts `app` as `launch` says (panicking with the reason when it cannot start).
pub async fn launch(app: App, launch: Launch) -> Running {
    karman::start(app, launch)
        .await
        .unwrap_or_else(|e| panic!("the app does not start:\n{e:#}"))
}

/// A Karman server on 127.0.0.1:0, stopped (gracefully) on drop.
pub struct TestServer {
    pub base: String,
    /// The admin listener (`/metrics`, `/health` with details, `/livez`, `/readyz`).
    pub admin_base: String,
    pub client: reqwest::Client,
    /// The app's streams (WebSocket endpoints run through their handlers).
    pub streams: Arc<Streams>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(yaml: &str) -> Self {
        Self::start_with(yaml, ServerConfig::default()).await
    }

    pub async fn start_with(yaml: &str, config: ServerConfig) -> Self {
        Self::start_with_runtime(yaml, runtime_config(), config).await
    }

    pub async fn start_with_runtime(
        yaml: &str,
        runtime_config: RuntimeConfig,
        config: ServerConfig,
    ) -> Self {
        Self::start_app(app(yaml), runtime_config, config).await
    }

    /// Serves an app already parsed (e.g. an example's Directive).
    pub async fn start_app(app: App, runtime: RuntimeConfig, server: ServerConfig) -> Self {
        Self::launch(
            app,
            Launch {
                runtime,
                server,
                ..Launch::default()
            },
        )
        .await
    }

    /// Starts `app` as `launch` says and serves it on a free port.
    pub async fn launch(app: App, launch: Launch) -> Self {
        Self::serve(self::launch(app, launch).await).await
    }

    /// Serves a started app on a free port.
    pub async fn serve(running: Running) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_base = format!("http://{}", admin.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let streams = running.streams.clone();
        let (admin_stop, admin_stopped) = oneshot::channel::<()>();
        tokio::spawn(karman::admin::serve(admin, running.admin(), async {
            let _ = admin_stopped.await;
        }));
        let task = tokio::spawn(async move {
            let served = running
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
            drop(admin_stop);
            served
        });
        Self {
            base,
            admin_base,
            client: client(),
            streams,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// GET `path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> Reply {
        let url = format!("{}{path}", self.admin_base);
        Reply::from(self.client.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        Reply::from(
            self.client
                .post(self.url(path))
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Signals shutdown without waiting.
    pub fn signal_shutdown(&mut self) -> JoinHandle<anyhow::Result<()>> {
        self.shutdown.take().map(|s| s.send(()));
        self.task.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.take().map(|s| s.send(()));
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
