//! Health and probes: `/livez` (the process serves), `/readyz` (it should get traffic: every
//! backend has connected and it is not draining), and `/health` — on the main listener with
//! the status only, on the admin listener with each backend's state and last error (which can
//! name internal addresses).

use std::sync::atomic::{AtomicBool, Ordering};

use http::{Response, StatusCode};
use karman_runtime::HttpBody;
use karman_runtime::health::{BackendHealth, BackendState};

use crate::metrics::Metrics;
use crate::responses::json;

/// What outlives a reload of the served app: the metrics, and whether the server is draining.
#[derive(Debug, Default)]
pub struct ServerStatus {
    /// The server's metrics.
    pub metrics: Metrics,
    draining: AtomicBool,
}

impl ServerStatus {
    /// Marks the server as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the server is shutting down.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// `/livez`: 200 while the process answers.
pub(crate) fn live() -> Response<HttpBody> {
    json(StatusCode::OK, r#"{"status":"live"}"#.to_string())
}

/// `/readyz`, and `/health` on the main listener: 200 `ok`; 503 `connecting` while a backend
/// has not connected yet (a background connect), or `draining` once shutdown has begun.
pub(crate) fn ready(health: &BackendHealth, status: &ServerStatus) -> Response<HttpBody> {
    let (code, text) = readiness(health, status);
    json(code, serde_json::json!({ "status": text }).to_string())
}

/// `/health` on the admin listener: as [`ready`], with the state of each backend and why the
/// last attempt to connect failed.
pub(crate) fn detailed(health: &BackendHealth, status: &ServerStatus) -> Response<HttpBody> {
    let backends: serde_json::Map<String, serde_json::Value> = health
        .snapshot()
        .into_iter()
        .map(|(name, state)| {
            let state = match state {
                BackendState::Ready => serde_json::json!({ "state": "ready" }),
                BackendState::Connecting { error } => {
                    serde_json::json!({ "state": "connecting", "error": error })
                }
            };
            (name.to_string(), state)
        })
        .collect();
    let (code, text) = readiness(health, status);
    let body = serde_json::json!({ "status": text, "backends": backends });
    json(code, body.to_string())
}

fn readiness(health: &BackendHealth, status: &ServerStatus) -> (StatusCode, &'static str) {
    if status.draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if health.ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "connecting")
    }
}
