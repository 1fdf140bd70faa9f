//! Caps on what a run keeps in the host's memory: one step's output, and the whole state of a
//! run (every output and `state:` value it holds). Going past either ends the run with 500
//! ([`FailureKind::Limit`]), naming the step and the cap, instead of holding the bytes for the
//! rest of the request.

use crate::request::{Failure, FailureKind};

/// Default cap on one step's output: 16 MiB.
pub const DEFAULT_MAX_STEP_OUTPUT: u64 = 16 << 20;
/// Default cap on a run's state: 64 MiB.
pub const DEFAULT_MAX_STATE: u64 = 64 << 20;

/// The caps of every run (`--max-step-output`, `--max-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Most bytes one step may return.
    pub max_step_output: u64,
    /// Most bytes the values of a run's state may add up to.
    pub max_state: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_step_output: DEFAULT_MAX_STEP_OUTPUT,
            max_state: DEFAULT_MAX_STATE,
        }
    }
}

impl RunLimits {
    /// Refuses the output of step `key` when it is larger than [`RunLimits::max_step_output`].
    pub(crate) fn check_output(&self, key: &str, size: usize) -> Result<(), Failure> {
        if size as u64 > self.max_step_output {
            return Err(exceeded(karman_protocol::output_exceeded(
                key,
                size,
                self.max_step_output,
            )));
        }
        Ok(())
    }

    /// Refuses a state of `size` bytes after step `key` stored its output, when larger than
    /// [`RunLimits::max_state`].
    pub(crate) fn check_state(&self, key: &str, size: u64) -> Result<(), Failure> {
        if size > self.max_state {
            return Err(exceeded(karman_protocol::state_exceeded(
                key,
                size,
                self.max_state,
            )));
        }
        Ok(())
    }
}

fn exceeded(message: String) -> Failure {
    tracing::warn!("{message}");
    Failure {
        status: 500,
        code: 500,
        message,
        kind: FailureKind::Limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_and_states_over_their_caps_are_refused_by_name() {
        let limits = RunLimits {
            max_step_output: 10,
            max_state: 20,
        };
        assert!(limits.check_output("a", 10).is_ok());
        let refused = limits.check_output("a", 11).unwrap_err();
        assert_eq!((refused.status, refused.kind), (500, FailureKind::Limit));
        assert!(
            refused.message.contains("step `a` returned 11 bytes"),
            "{refused}"
        );
        assert!(limits.check_state("b", 20).is_ok());
        let refused = limits.check_state("b", 21).unwrap_err();
        assert!(refused.message.contains("--max-state"), "{refused}");
    }
}
