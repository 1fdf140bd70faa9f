//! Whether each backend is connected, for `/health`.
//!
//! With a background connect (`karman serve --background-connect`), a backend that cannot be
//! reached at start-up does not stop Karman: it is retried in the background and reported
//! here as `connecting` (with the last error) until it answers. `/health` answers 503 while
//! any backend is connecting, so a load balancer sends no traffic before the app can work.
//! Once connected, a backend stays `ready`: the pools and the Redis connection reconnect by
//! themselves, and a call during an outage fails with `unavailable`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The state of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendState {
    /// Connected.
    Ready,
    /// Not connected yet; retried in the background.
    Connecting {
        /// Why the last attempt failed.
        error: String,
    },
}

/// The state of every backend an app uses, by name (`cache`, `sql`).
#[derive(Debug, Default)]
pub struct BackendHealth {
    states: Mutex<BTreeMap<&'static str, BackendState>>,
}

impl BackendHealth {
    /// Records the state of a backend.
    pub fn set(&self, backend: &'static str, state: BackendState) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(backend, state);
    }

    /// Whether every backend is ready.
    pub fn ready(&self) -> bool {
        self.snapshot()
            .iter()
            .all(|(_, state)| *state == BackendState::Ready)
    }

    /// Every backend and its state, by name.
    pub fn snapshot(&self) -> Vec<(&'static str, BackendState)> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, state)| (*name, state.clone()))
            .collect()
    }
}

/// Whether one backend has connected: checked by its capability before each call, so calls
/// fail at once with `unavailable` while a background connect is still trying (instead of
/// waiting for a pool timeout).
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Connected.
    pub fn ready() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// Not connected yet.
    pub fn pending() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    /// Whether the backend has connected.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn mark_ready(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::ready()
    }
}

/// First wait between attempts of a background connect; it doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(250);
/// Longest wait between attempts of a background connect.
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// Retries `attempt` (after a wait, doubling each time) until it succeeds, recording each failure in `health` under `backend`.
pub(crate) async fn retry_until_connected<F, Fut, E>(
    health: Arc<BackendHealth>,
    backend: &'static str,
    readiness: Readiness,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut wait = RETRY_FIRST;
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
        match attempt().await {
            Ok(()) => {
                tracing::info!(backend, "connected");
                readiness.mark_ready();
                health.set(backend, BackendState::Ready);
                return;
            }
            Err(error) => {
                let error = error.to_string();
                tracing::warn!(backend, %error, retry_in = ?wait, "not connected yet");
                health.set(backend, BackendState::Connecting { error });
            }
        }
    }
}
