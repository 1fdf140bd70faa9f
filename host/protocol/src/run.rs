//! How a run's outcome is told: the status of a run error, the value an `onErr: continue` stores,
//! the messages of the caps on a step's output and on a run's state; and how long `retry:` waits
//! between tries.

use std::time::Duration;

/// The longest one wait between two tries of a step's `retry:` may be, however many tries came
/// before.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The longest wait before try `attempt` (2 for the first retry) of a `retry:` whose first wait
/// is `backoff`: doubled for each try after the second, at most [`MAX_RETRY_WAIT`].
pub fn retry_wait(backoff: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(2).min(16);
    backoff.saturating_mul(1 << doublings).min(MAX_RETRY_WAIT)
}

/// The HTTP status of a run that a step's run error ended: its code, or 500 outside 200..=599.
pub fn run_error_status(code: u16) -> u16 {
    if (200..=599).contains(&code) {
        code
    } else {
        500
    }
}

/// The `retry-after` a failed run's answer carries with `status`: one second on a 503 (a
/// backend or an upstream unavailable, worth trying again soon), none otherwise.
pub fn failure_retry_after(status: u16) -> Option<&'static str> {
    (status == 503).then_some("1")
}

/// What a step whose run error `onErr: continue` lets pass stores under its key.
pub fn continued_error(code: u16, message: &str) -> Vec<u8> {
    serde_json::json!({ "code": code, "message": message })
        .to_string()
        .into_bytes()
}

/// Why a run ended when step `key` returned `size` bytes, past `max` (`--max-step-output`).
pub fn output_exceeded(key: &str, size: usize, max: u64) -> String {
    format!(
        "step `{key}` returned {size} bytes; a step may return at most {max} bytes \
         (--max-step-output)"
    )
}

/// Why a run ended when its state reached `size` bytes with step `key`'s output, past `max`
/// (`--max-state`).
pub fn state_exceeded(key: &str, size: u64, max: u64) -> String {
    format!(
        "the state reached {size} bytes with the output of step `{key}`; a run's state \
         may hold at most {max} bytes (--max-state)"
    )
}
