//! `/health`: whether the app's backends are connected (for load balancers and probes).

use http::{Response, StatusCode};
use karman_runtime::HttpBody;
use karman_runtime::health::{BackendHealth, BackendState};

use crate::responses::json;

/// `/health`: 200 when every backend is connected, else 503 with the state of each (a
/// background connect still trying).
pub(crate) fn health(health: &BackendHealth) -> Response<HttpBody> {
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
    let (status, text) = if health.ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "connecting")
    };
    let body = serde_json::json!({ "status": text, "backends": backends });
    json(status, body.to_string())
}
