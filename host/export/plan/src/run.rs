//! How a handler's steps run inside an exported app, as Karman's host runs them (its
//! `sequence` module), over [`Steps`], which calls the components:
//!
//! - every step's `run` receives the request body and reads earlier outputs through the state;
//! - a step's output is stored under its key; `with:` gives a step only the keys it renames;
//! - a group's steps each see the state from before the group, and their outputs are stored
//!   in declared order once all have run (here one after the other: a component cannot run
//!   two calls at once);
//! - a run error is looked up in `onErr`: `continue` stores `{"code": …, "message": …}`,
//!   `return` ends the run with the code as the status (500 outside 200..=599);
//! - `retry:` tries again while tries are left, its code is retried and the wait ends before
//!   the request's time is up;
//! - a step's output and the whole state are capped.
//!
//! A trap is not seen here: it ends the whole exported component.

use std::collections::BTreeMap;

use crate::{Call, Handler, Plan, Step};

/// A run error of a component: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    pub code: u16,
    pub message: String,
}

/// How the run ended when it did not end well: the status of the answer, the code and the
/// message of its JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    pub code: u16,
    pub message: String,
}

/// What a run needs from the component it runs in.
pub trait Steps {
    /// Runs component `component` on `input`, the step seeing `state` (sorted by key).
    fn call(
        &mut self,
        component: u32,
        state: Vec<(String, Vec<u8>)>,
        input: &[u8],
    ) -> Result<Vec<u8>, RunError>;
    /// Milliseconds since the request began.
    fn elapsed_ms(&mut self) -> u64;
    /// Waits `ms` milliseconds.
    fn wait_ms(&mut self, ms: u64);
    /// A random number, for the jitter of retry waits.
    fn random(&mut self) -> u64;
}

/// The state of a run, with the bytes its values add up to.
struct State {
    values: BTreeMap<String, Vec<u8>>,
    size: u64,
}

/// Runs `handler` of `plan` on a request with `body`: the response body (the value of the
/// handler's `response` key), or the failure that ended the run.
pub fn run(
    plan: &Plan,
    handler: &Handler,
    body: &[u8],
    steps: &mut impl Steps,
) -> Result<Vec<u8>, Failure> {
    let mut state = State {
        values: handler
            .state
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect(),
        size: 0,
    };
    state.size = state.values.values().map(|v| v.len() as u64).sum();
    for step in &handler.steps {
        let outcomes: Vec<Result<Vec<u8>, RunError>> = match step {
            Step::Fn(call) => vec![run_call(plan, call, &state, body, steps)],
            Step::Group(calls) => calls
                .iter()
                .map(|call| run_call(plan, call, &state, body, steps))
                .collect(),
        };
        for (call, outcome) in step.calls().iter().zip(outcomes) {
            apply(plan, &mut state, call, outcome)?;
        }
    }
    Ok(state.values.remove(&handler.response).unwrap_or_default())
}

/// The state as `call` sees it.
fn view(state: &State, call: &Call) -> Vec<(String, Vec<u8>)> {
    karman_protocol::state_view(&state.values, call.with.as_ref())
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

/// Runs one call, trying again as its `retry:` says while the request's time allows.
fn run_call(
    plan: &Plan,
    call: &Call,
    state: &State,
    body: &[u8],
    steps: &mut impl Steps,
) -> Result<Vec<u8>, RunError> {
    let mut tries = 1;
    loop {
        let outcome = steps.call(call.component, view(state, call), body);
        let (Some(retry), Err(error)) = (&call.retry, &outcome) else {
            return outcome;
        };
        if tries >= retry.attempts || !retry.retries(error.code) {
            return outcome;
        }
        tries += 1;
        let longest = retry.wait_before_ms(tries);
        // Between half of the longest wait and all of it (jitter).
        let spread = u128::from(longest - longest / 2) * u128::from(steps.random());
        let wait = longest / 2 + (spread / u128::from(u64::MAX)) as u64;
        if steps.elapsed_ms() + wait >= plan.limits.request_timeout_ms {
            return outcome;
        }
        steps.wait_ms(wait);
    }
}

/// Stores a call's result in the state, or ends the run (its error, or a cap).
fn apply(
    plan: &Plan,
    state: &mut State,
    call: &Call,
    outcome: Result<Vec<u8>, RunError>,
) -> Result<(), Failure> {
    let limits = &plan.limits;
    let value = match outcome {
        Ok(output) if output.len() as u64 > limits.max_step_output => {
            let message =
                karman_protocol::output_exceeded(&call.key, output.len(), limits.max_step_output);
            return Err(exceeded(message));
        }
        Ok(output) => output,
        Err(RunError { code, message }) if !call.on_err.returns(code) => {
            karman_protocol::continued_error(code, &message)
        }
        Err(RunError { code, message }) => {
            return Err(Failure {
                status: karman_protocol::run_error_status(code),
                code,
                message,
            });
        }
    };
    let replaced = state
        .values
        .get(&call.key)
        .map_or(0, |old| old.len() as u64);
    let size = state.size - replaced + value.len() as u64;
    if size > limits.max_state {
        let message = karman_protocol::state_exceeded(&call.key, size, limits.max_state);
        return Err(exceeded(message));
    }
    state.size = size;
    state.values.insert(call.key.clone(), value);
    Ok(())
}

fn exceeded(message: String) -> Failure {
    Failure {
        status: 500,
        code: 500,
        message,
    }
}

#[cfg(test)]
mod tests;
