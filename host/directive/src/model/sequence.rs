//! Sequences: the steps a handler or schedule runs over its state, and what a step's error
//! does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::error::Location;
use crate::model::component::ComponentId;

/// The steps a handler or schedule runs, over a state that starts as `state`.
#[derive(Debug, Clone)]
pub struct Sequence {
    /// The state the steps start with (`state:`), e.g. configuration such as an endpoint.
    pub state: BTreeMap<String, String>,
    /// The steps.
    pub steps: Vec<Step>,
    /// The state key whose value is the result (the response body, the reply, the message
    /// published to `respondTo`).
    pub response: String,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
pub enum Step {
    /// Runs one component.
    Fn(FnStep),
    /// Runs components concurrently; each sees the state as it was before the group.
    Group(Vec<FnStep>),
}

impl Step {
    /// The component calls of this step.
    pub fn calls(&self) -> &[FnStep] {
        match self {
            Step::Fn(call) => std::slice::from_ref(call),
            Step::Group(calls) => calls,
        }
    }
}

/// A call of one component in a sequence.
#[derive(Debug, Clone)]
pub struct FnStep {
    /// The component to run.
    pub component: ComponentId,
    /// The state key its output (or continued error) is stored under: `as:`, else the `fn` name.
    pub key: String,
    /// With `with:`, the step sees only these keys: view key → state key it reads.
    pub with: Option<BTreeMap<String, String>>,
    /// What a run error does to the sequence (after the last try, with `retry:`).
    pub on_err: OnErr,
    /// With `retry:`, how often and on which codes the step is tried again.
    pub retry: Option<Retry>,
    /// Where the step is declared.
    pub location: Location,
}

/// What to do when a step's `run` returns an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnErr {
    /// Actions for specific codes.
    pub codes: BTreeMap<u16, ErrAction>,
    /// The action for any other code.
    pub other: ErrAction,
}

/// Most tries `retry.attempts` may ask for.
pub const MAX_RETRY_ATTEMPTS: u32 = 10;
/// The wait before the second try when `retry.backoff` is not given.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The longest `retry.backoff` may be.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);
pub use karman_protocol::MAX_RETRY_WAIT;
/// The codes retried when `retry.on` is not given: 503 (unavailable, overloaded) and 504
/// (timed out).
pub const DEFAULT_RETRY_ON: [u16; 2] = [503, 504];

/// `retry: { attempts, backoff, on }` of a step: a step whose try ends with a code in `on`
/// runs again, on a fresh instance, after an exponential wait with jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included (2..=[`MAX_RETRY_ATTEMPTS`]).
    pub attempts: u32,
    /// The wait before the second try; each further wait doubles it (at most
    /// [`MAX_RETRY_WAIT`]).
    pub backoff: Duration,
    /// The codes that make a try worth repeating: run-error codes, and 503/504 for the
    /// host's own overload and timeout.
    pub on: BTreeSet<u16>,
}

impl Retry {
    /// Whether a try that ended with `code` is tried again (when tries are left).
    pub fn retries(&self, code: u16) -> bool {
        self.on.contains(&code)
    }

    /// The longest wait before try `attempt` (2 for the first retry): `backoff` doubled for
    /// each retry before it, at most [`MAX_RETRY_WAIT`]. The runtime waits between half of it
    /// and all of it (jitter).
    pub fn wait_before(&self, attempt: u32) -> Duration {
        karman_protocol::retry_wait(self.backoff, attempt)
    }

    /// The longest all the waits of a step that uses every try can add up to.
    pub fn longest_waits(&self) -> Duration {
        (2..=self.attempts).map(|n| self.wait_before(n)).sum()
    }
}

impl fmt::Display for Retry {
    /// `3 tries, backoff 100ms, on 503, 504`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<String> = self.on.iter().map(u16::to_string).collect();
        write!(
            f,
            "{} tries, backoff {}, on {}",
            self.attempts,
            humantime::format_duration(self.backoff),
            codes.join(", ")
        )
    }
}

impl fmt::Display for Sequence {
    /// The steps by the state keys they store, and the response: `a -> group(b, c) -> d
    /// (response: d)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            match step {
                Step::Fn(call) => f.write_str(&call.key)?,
                Step::Group(calls) => {
                    let keys: Vec<&str> = calls.iter().map(|c| c.key.as_str()).collect();
                    write!(f, "group({})", keys.join(", "))?;
                }
            }
        }
        write!(f, " (response: {})", self.response)
    }
}

impl Default for OnErr {
    fn default() -> Self {
        Self {
            codes: BTreeMap::new(),
            other: ErrAction::Return,
        }
    }
}

impl OnErr {
    /// The action for a run error with `code`.
    pub fn action(&self, code: u16) -> ErrAction {
        self.codes.get(&code).copied().unwrap_or(self.other)
    }
}

/// An `onErr` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrAction {
    /// End the sequence and answer with the error.
    Return,
    /// Store `{code, message}` under the step's key and go on.
    Continue,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(key: &str) -> FnStep {
        FnStep {
            component: ComponentId(0),
            key: key.to_string(),
            with: None,
            on_err: OnErr::default(),
            retry: None,
            location: Location {
                file: "Directive.yaml".into(),
                line: 1,
                column: 1,
            },
        }
    }

    #[test]
    fn sequences_display_their_steps_and_response() {
        let sequence = Sequence {
            state: BTreeMap::new(),
            steps: vec![
                Step::Fn(call("a")),
                Step::Group(vec![call("b"), call("c")]),
                Step::Fn(call("d")),
            ],
            response: "d".to_string(),
        };
        assert_eq!(sequence.to_string(), "a -> group(b, c) -> d (response: d)");
    }

    #[test]
    fn retry_waits_double_up_to_their_cap() {
        let retry = Retry {
            attempts: 4,
            backoff: Duration::from_millis(100),
            on: BTreeSet::from(DEFAULT_RETRY_ON),
        };
        assert_eq!(retry.wait_before(2), Duration::from_millis(100));
        assert_eq!(retry.wait_before(3), Duration::from_millis(200));
        assert_eq!(retry.wait_before(4), Duration::from_millis(400));
        assert_eq!(retry.longest_waits(), Duration::from_millis(700));
        assert!(retry.retries(503) && !retry.retries(500));
        assert_eq!(retry.to_string(), "4 tries, backoff 100ms, on 503, 504");
        let slow = Retry {
            attempts: MAX_RETRY_ATTEMPTS,
            backoff: MAX_RETRY_BACKOFF,
            ..retry
        };
        assert_eq!(slow.wait_before(MAX_RETRY_ATTEMPTS), MAX_RETRY_WAIT);
    }
}
