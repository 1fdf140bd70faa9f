//! Sequences: the steps a handler or schedule runs over its state, and what a step's error
//! does.

use std::collections::BTreeMap;
use std::fmt;

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
    /// What a run error does to the sequence.
    pub on_err: OnErr,
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
}
