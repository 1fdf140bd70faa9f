//! Schedules shared by the processes of a deployment (`--schedule-lease redis://…`): every
//! process keeps the schedule's timer, aligned to the wall clock, and at each tick they race
//! for it in Redis; the one that wins runs it, the others do nothing. No process is the leader,
//! so none has to be taken over: when one dies, the next tick goes to a live one.
//!
//! Two keys per schedule, both with an expiry, so a dead process holds nothing for long:
//!
//! - `karman:schedule:<app>:<schedule>:tick:<at>`, set if absent: the claim of the tick due at
//!   `<at>` (Unix milliseconds), kept for two periods (at least 10 s) so that a process whose
//!   clock is a little late does not claim it again;
//! - `karman:schedule:<app>:<schedule>:run`: the run lock, taken by the claimant, deleted when
//!   its run ends, and expiring after the schedule's longest run (its steps' timeouts) plus
//!   [`RUN_LOCK_MARGIN`] if its holder dies. A tick whose claimant finds it taken is skipped
//!   (runs never overlap, across processes as within one).
//!
//! Both are set by one script, so a tick is claimed and its run locked at once. A tick at which
//! Redis cannot be reached is skipped (and logged): without the lease no process may assume it
//! is alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::StreamsError;

/// How long the run lock outlives the schedule's longest run when its holder dies.
pub const RUN_LOCK_MARGIN: Duration = Duration::from_secs(5);
/// Time to connect to Redis, and for each command.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Claims the tick (`KEYS[2]`, for `ARGV[3]` ms) and then the run lock (`KEYS[1]`, for
/// `ARGV[2]` ms), both for the holder `ARGV[1]`: 0 when another process has the tick, 1 when a
/// run is still going, 2 when this process runs it.
const CLAIM: &str = r"
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 2
";

/// Deletes the run lock `KEYS[1]` if `ARGV[1]` still holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Where the processes of a deployment agree on who runs each tick.
#[derive(Clone)]
pub struct ScheduleLease {
    connection: ConnectionManager,
    /// This process, as the value of the keys it sets.
    holder: String,
    /// The Redis address without credentials, for messages.
    address: String,
}

impl std::fmt::Debug for ScheduleLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleLease")
            .field("address", &self.address)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// What a process may do at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Run it: this process has the tick and the run lock.
    Run,
    /// Another process has the tick.
    Elsewhere,
    /// This process has the tick, but a run (here or elsewhere) still holds the lock: skip it.
    Running,
}

impl ScheduleLease {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://` for TLS).
    pub async fn connect(url: &str) -> Result<Self, StreamsError> {
        let address = karman_directive::redact_url(url);
        let fail = |message: String| StreamsError::Connect {
            location: "--schedule-lease".into(),
            message,
        };
        let client = redis::Client::open(url)
            .map_err(|e| fail(format!("`{address}` is not a Redis address: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let connection = tokio::time::timeout(
            TIMEOUT * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| fail(format!("cannot reach Redis at {address}: timed out")))?
        .map_err(|e| fail(format!("cannot reach Redis at {address}: {e}")))?;
        Ok(Self {
            connection,
            holder: uuid::Uuid::new_v4().simple().to_string(),
            address,
        })
    }

    /// Claims the tick of `schedule` (of the app `app`) due at `at`, for a schedule that ticks
    /// every `period` and whose run takes at most `longest_run`.
    pub(crate) async fn claim(
        &self,
        app: &str,
        schedule: &str,
        at: SystemTime,
        period: Duration,
        longest_run: Duration,
    ) -> Result<Claim, String> {
        let at_ms = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let keep_claim = (period * 2).max(Duration::from_secs(10));
        let lock_for = longest_run + RUN_LOCK_MARGIN;
        let prefix = key_prefix(app, schedule);
        let answer: i64 = redis::Script::new(CLAIM)
            .key(format!("{prefix}:run"))
            .key(format!("{prefix}:tick:{at_ms}"))
            .arg(&self.holder)
            .arg(millis(lock_for))
            .arg(millis(keep_claim))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| format!("Redis at {}: {e}", self.address))?;
        Ok(match answer {
            2 => Claim::Run,
            1 => Claim::Running,
            _ => Claim::Elsewhere,
        })
    }

    /// Ends this process's run of `schedule`: deletes the run lock if it still holds it (it
    /// expires by itself otherwise).
    pub(crate) async fn release(&self, app: &str, schedule: &str) {
        let released: Result<i64, _> = redis::Script::new(RELEASE)
            .key(format!("{}:run", key_prefix(app, schedule)))
            .arg(&self.holder)
            .invoke_async(&mut self.connection.clone())
            .await;
        if let Err(error) = released {
            tracing::warn!(%schedule, %error, "cannot release the schedule's run lock; it expires by itself");
        }
    }
}

fn key_prefix(app: &str, schedule: &str) -> String {
    format!("karman:schedule:{app}:{schedule}")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The next instant after `now` that is a whole number of `period`s since the Unix epoch: the
/// ticks of an `every` schedule under a lease, the same in every process.
pub(crate) fn next_aligned(now: SystemTime, period: Duration) -> SystemTime {
    let period_ms = millis(period);
    let now_ms = u64::try_from(
        now.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    UNIX_EPOCH + Duration::from_millis((now_ms / period_ms + 1) * period_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_ticks_are_whole_periods_after_now() {
        let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        let period = Duration::from_millis(500);
        assert_eq!(next_aligned(at(1_000), period), at(1_500));
        assert_eq!(next_aligned(at(1_001), period), at(1_500));
        assert_eq!(next_aligned(at(1_499), period), at(1_500));
        assert_eq!(
            next_aligned(at(86_399_999), Duration::from_secs(86_400)),
            at(86_400_000)
        );
    }
}
