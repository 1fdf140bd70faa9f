//! Waiting for something that happens asynchronously, always within a bound: a test that
//! would hang fails instead, saying what it waited for.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, for at most `limit`; panics naming `what` when the
/// time is up.
pub async fn eventually<T, F, Fut>(what: impl Display, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `work` for at most `limit`; panics naming `what` when the time is up.
pub async fn within<T>(what: impl Display, limit: Duration, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}
