//! Shared helpers of the integration tests: guest paths, Directives from text, the app started
//! as `karman serve` starts it ([`server`]), the real binary ([`binary`]), private services on
//! free ports ([`services`]; killed and restarted in outage tests: [`private`], under a [`load`]
//! of requests),
//! components built by cargo-component, live or recorded ([`recorded`]), bounded waiting ([`eventually`]), the SQL databases ([`sql`]), and a Kafka broker behind TLS
//! and SASL ([`kafka_front`]).

mod binary;
mod eventually;
mod kafka_front;
mod load;
mod private;
mod recorded;
mod server;
mod services;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use karman_directive::{App, ParseOptions};
use karman_runtime::{EngineConfig, RuntimeConfig};

pub use binary::Binary;
pub use eventually::{eventually, within};
pub use kafka_front::{FrontEvent, FrontSasl, FrontTls, KAFKA_PASSWORD, KAFKA_USER, KafkaFront};
pub use load::{Load, Phase, Sample};
pub use private::{
    OutageNats, OutagePostgres, OutageRedis, OutageS3, OutageTansu, Restartable, Watched,
};
pub use recorded::{Inputs, built_by_cargo_component};
pub use server::{Reply, TestServer, launch, start};
pub use services::{PrivateNats, PrivateRedis, PrivateService, Tansu, tools_dir};
pub use sql::{Db, sqlite_file};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A new directory of its own under `target/karman-test-tmp`, named after `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

/// The target directory of guest projects the tests create outside the workspace (`karman new`
/// projects): outside the clone, so that a fresh clone reuses what earlier runs compiled.
pub fn guest_target_dir() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    std::path::PathBuf::from(home).join(".cache/karman/guest-target")
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

/// An HTTP client that never goes through a proxy, with a bound on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A port nothing listens on (just now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A name no other test, nor an earlier run, uses: tables, keys and subjects outlive test
/// runs in the shared services. Only letters, digits and `_`, so it fits everywhere.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A directory under `/tmp`, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
