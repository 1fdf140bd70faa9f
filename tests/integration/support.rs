//! Shared helpers: guest paths, Directives from text, a server on port 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use karman::{ServerConfig, Service};
use karman_directive::{App, ParseOptions};
use karman_runtime::{Backends, EngineConfig, Runtime, RuntimeConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The path of a test component built by `scripts/build-guests`.
pub fn guest(crate_name: &str) -> PathBuf {
    let path = repo_root()
        .join("target/wasm32-wasip2/guest")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-guests first",
        path.display()
    );
    path
}

/// Replaces every `guest(<crate>)` in a Directive with the component's path.
pub fn expand(yaml: &str) -> String {
    let mut out = String::new();
    let mut rest = yaml;
    while let Some(start) = rest.find("guest(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "guest(".len()..];
        let end = after.find(')').expect("guest( is closed");
        out.push_str(&guest(&after[..end]).display().to_string());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses a test Directive (panicking with the diagnostics when it is invalid).
pub fn app(yaml: &str) -> App {
    karman_directive::parse(&expand(yaml), &ParseOptions::new("test.yaml", repo_root()))
        .unwrap_or_else(|e| panic!("invalid test Directive:\n{e}"))
}

/// A runtime configuration for tests: a small pool and a shared compiled-code cache.
pub fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        engine: EngineConfig {
            cache_dir: Some(repo_root().join("target/karman-test-cache")),
            max_instances: 64,
            ..EngineConfig::default()
        },
        ..RuntimeConfig::default()
    }
}

/// A Karman server on 127.0.0.1:0, stopped (gracefully) on drop.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
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
    pub async fn start_app(
        app: App,
        mut runtime_config: RuntimeConfig,
        config: ServerConfig,
    ) -> Self {
        runtime_config.backends = Backends::connect(&app)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self::start_connected(app, runtime_config, config).await
    }

    /// Serves an app whose backends `runtime_config` already holds.
    pub async fn start_connected(
        app: App,
        runtime_config: RuntimeConfig,
        config: ServerConfig,
    ) -> Self {
        let runtime = tokio::task::spawn_blocking(move || Runtime::load(app, runtime_config))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the app does not load:\n{e}"));
        Self::serve(Service::new(Arc::new(runtime), config).unwrap()).await
    }

    /// Serves `service` on a free port.
    pub async fn serve(service: Service) -> Self {
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(karman::serve(listener, service, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: client(),
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
    pub fn signal_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        self.shutdown.take().map(|s| s.send(()));
        self.task.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.take().map(|s| s.send(()));
    }
}

/// An HTTP client that never goes through a proxy, with a bound on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
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

/// A port nothing listens on (just now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private `redis-server` on a free port, stopped on drop.
pub struct PrivateRedis {
    child: std::process::Child,
}

impl PrivateRedis {
    pub fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
