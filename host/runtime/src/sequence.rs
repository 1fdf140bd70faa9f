//! Running a handler's steps over a shared state (Atmo semantics).
//!
//! - Every step's `run` receives the request body; it reads earlier outputs (and the handler's
//!   `state:` values) with `req.state`.
//! - A step's output is stored under its key (`as:`, else its `fn` name).
//! - A `group` runs its steps concurrently; each sees the state from before the group, and
//!   their outputs are stored in declared order once all have finished.
//! - A run error is looked up in the step's `onErr`: `continue` stores
//!   `{"code": …, "message": …}` under the step's key, `return` (the default) ends the run with
//!   the error's code as the HTTP status (500 outside 200..=599).
//! - A trap, a timeout or an exceeded memory limit always ends the run (500, 504, 500):
//!   `onErr` does not apply to faults.
//! - A step with `retry:` runs again, on a fresh instance (a warm one with `reuse:`), while its
//!   try ends with a code of `retry.on` and tries are left: a run error with that code, or the
//!   host's own 504 (the step timed out) or 503 (no instance or guest memory to spare). Traps,
//!   exceeded limits and other codes are not retried. The waits grow exponentially, each
//!   between half and all of `backoff × 2^(try − 2)` (jitter, so failed callers do not come back
//!   in step), and a retry whose wait would end past the run's deadline
//!   ([`Request::deadline`]) is not made. `onErr` then applies to the last try's error. What a
//!   failed try set through `resp` (status, headers) stays.
//!
//! Each step runs on a fresh instance (or, for components that opt in, a warm one: see
//! [`crate::instance`]), so nothing leaks between steps or requests except through the state
//! and the capabilities.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use karman_directive::{ErrAction, FnStep, OnErr, Retry, Sequence, Step};
use tokio::time::Instant;

use crate::TRACE_TARGET;
use crate::capabilities::request::RequestCtx;
use crate::component::LoadedComponent;
use crate::instance;
use crate::metrics::StepOutcome;
use crate::request::{Failure, FailureKind, Reply, Request, SharedResponse, State, StateView};
use crate::run_limits::RunLimits;
use tracing::Instrument as _;

/// A handler's steps, resolved to loaded components at start-up.
pub(crate) struct Plan {
    pub(crate) steps: Vec<PlannedStep>,
    pub(crate) response: String,
    /// The handler's `state:`, which the steps start with.
    pub(crate) initial_state: State,
}

pub(crate) enum PlannedStep {
    Single(Arc<Call>),
    Group(Vec<Arc<Call>>),
}

impl Plan {
    /// Resolves a Directive sequence to the loaded components (by index in `components`).
    pub(crate) fn new(sequence: &Sequence, components: &[Arc<LoadedComponent>]) -> Self {
        let call = |step: &FnStep| {
            Arc::new(Call {
                component: components[step.component.0].clone(),
                key: step.key.clone(),
                with: step.with.clone().map(Arc::new),
                on_err: step.on_err.clone(),
                retry: step.retry.clone(),
            })
        };
        Self {
            steps: sequence
                .steps
                .iter()
                .map(|step| match step {
                    Step::Fn(fn_step) => PlannedStep::Single(call(fn_step)),
                    Step::Group(group) => PlannedStep::Group(group.iter().map(call).collect()),
                })
                .collect(),
            response: sequence.response.clone(),
            initial_state: sequence
                .state
                .iter()
                .map(|(key, value)| (key.clone(), Bytes::from(value.clone())))
                .collect(),
        }
    }
}

impl Plan {
    /// One step running `component`, its output stored under `key` and returned; the run
    /// starts with `state`.
    pub(crate) fn single(key: &str, component: &Arc<LoadedComponent>, state: State) -> Self {
        Self {
            steps: vec![PlannedStep::Single(Arc::new(Call {
                component: component.clone(),
                key: key.to_string(),
                with: None,
                on_err: OnErr::default(),
                retry: None,
            }))],
            response: key.to_string(),
            initial_state: state,
        }
    }

    /// The sum of the steps' longest runs (a group counts its slowest member): a step's
    /// timeout, times its tries with `retry:`, plus the waits between them.
    pub(crate) fn longest_run(&self) -> std::time::Duration {
        self.steps
            .iter()
            .map(|step| match step {
                PlannedStep::Single(call) => call.longest_run(),
                PlannedStep::Group(calls) => calls
                    .iter()
                    .map(|c| c.longest_run())
                    .max()
                    .unwrap_or_default(),
            })
            .sum()
    }
}

/// One component call of a plan.
pub(crate) struct Call {
    pub(crate) component: Arc<LoadedComponent>,
    pub(crate) key: String,
    pub(crate) with: Option<Arc<BTreeMap<String, String>>>,
    pub(crate) on_err: OnErr,
    pub(crate) retry: Option<Retry>,
}

impl Call {
    /// Its timeout, times its tries, plus the longest waits between them.
    fn longest_run(&self) -> std::time::Duration {
        let timeout = self.component.limits.timeout;
        match &self.retry {
            None => timeout,
            Some(retry) => timeout.saturating_mul(retry.attempts) + retry.longest_waits(),
        }
    }
}

/// How one call ended.
enum Outcome {
    Output(Bytes),
    RunError { code: u16, message: String },
    Fault(Failure),
}

/// The state of a run, with the bytes its values add up to.
struct RunState {
    values: Arc<State>,
    size: u64,
    limits: RunLimits,
}

/// Runs the plan for `request`, within `limits`.
pub(crate) async fn run(
    plan: &Plan,
    request: Arc<Request>,
    limits: RunLimits,
) -> Result<Reply, Failure> {
    let response = SharedResponse::default();
    let deadline = match request.deadline {
        Some(due) => Instant::from_std(due),
        None => Instant::now() + plan.longest_run(),
    };
    let mut state = RunState {
        size: plan.initial_state.values().map(|v| v.len() as u64).sum(),
        values: Arc::new(plan.initial_state.clone()),
        limits,
    };
    for step in &plan.steps {
        match step {
            PlannedStep::Single(call) => {
                let view = view(&state.values, call);
                let outcome =
                    run_call(call, request.clone(), view, response.clone(), deadline).await;
                apply(&mut state, call, outcome)?;
            }
            PlannedStep::Group(calls) => {
                let mut tasks = GroupTasks(
                    calls
                        .iter()
                        .map(|call| {
                            let (call, request, response) =
                                (call.clone(), request.clone(), response.clone());
                            let view = view(&state.values, &call);
                            tokio::spawn(
                                async move {
                                    run_call(&call, request, view, response, deadline).await
                                }
                                .in_current_span(),
                            )
                        })
                        .collect(),
                );
                let mut outcomes = Vec::with_capacity(calls.len());
                for task in &mut tasks.0 {
                    outcomes.push(task.await.unwrap_or_else(|e| {
                        Outcome::Fault(internal(format!("a group step did not finish: {e}")))
                    }));
                }
                for (call, outcome) in calls.iter().zip(outcomes) {
                    apply(&mut state, call, outcome)?;
                }
            }
        }
    }
    let body = state
        .values
        .get(&plan.response)
        .cloned()
        .unwrap_or_default();
    let parts = std::mem::take(&mut *response.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Reply {
        status: parts.status.unwrap_or(200),
        headers: parts.headers,
        body,
    })
}

/// The tasks of a group's steps. If the request is abandoned (the client went away), dropping
/// this stops them instead of letting them run to their timeouts.
struct GroupTasks(Vec<tokio::task::JoinHandle<Outcome>>);

impl Drop for GroupTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn view(state: &Arc<State>, call: &Call) -> StateView {
    StateView {
        state: state.clone(),
        with: call.with.clone(),
    }
}

/// Stores a call's result in the state, or ends the run (its error, its fault, or a cap).
fn apply(state: &mut RunState, call: &Call, outcome: Outcome) -> Result<(), Failure> {
    let value = match outcome {
        Outcome::Output(output) => {
            state.limits.check_output(&call.key, output.len())?;
            output
        }
        Outcome::Fault(failure) => return Err(failure),
        Outcome::RunError { code, message } => match call.on_err.action(code) {
            ErrAction::Continue => Bytes::from(karman_protocol::continued_error(code, &message)),
            ErrAction::Return => {
                return Err(Failure {
                    status: karman_protocol::run_error_status(code),
                    code,
                    message,
                    kind: FailureKind::RunError,
                });
            }
        },
    };
    let replaced = state
        .values
        .get(&call.key)
        .map_or(0, |old| old.len() as u64);
    let size = state.size - replaced + value.len() as u64;
    state.limits.check_state(&call.key, size)?;
    state.size = size;
    Arc::make_mut(&mut state.values).insert(call.key.clone(), value);
    Ok(())
}

/// Runs one call of the plan, trying again as its `retry:` says while the run's `deadline`
/// leaves time for the wait.
async fn run_call(
    call: &Call,
    request: Arc<Request>,
    state: StateView,
    response: SharedResponse,
    deadline: Instant,
) -> Outcome {
    let mut tries = 1;
    loop {
        let outcome = try_call(call, request.clone(), state.clone(), response.clone()).await;
        let Some(retry) = &call.retry else {
            return outcome;
        };
        let code = match &outcome {
            Outcome::RunError { code, .. } => *code,
            Outcome::Fault(failure)
                if matches!(failure.kind, FailureKind::Timeout | FailureKind::Overloaded) =>
            {
                failure.status
            }
            Outcome::Output(_) | Outcome::Fault(_) => return outcome,
        };
        if tries >= retry.attempts || !retry.retries(code) {
            if tries > 1 {
                tracing::warn!(request_id = %request.id, step = %call.key, tries, code, "the step failed on its last try");
            }
            return outcome;
        }
        tries += 1;
        let wait = jittered(retry.wait_before(tries));
        if Instant::now() + wait >= deadline {
            tracing::warn!(request_id = %request.id, step = %call.key, tries = tries - 1, code, "the step is not tried again: the run's time would be up before the wait ends");
            return outcome;
        }
        tracing::info!(request_id = %request.id, step = %call.key, code, next_try = tries, wait = ?wait, "trying the step again");
        tokio::time::sleep(wait).await;
    }
}

/// A wait between half of `longest` and all of it, at random.
fn jittered(longest: std::time::Duration) -> std::time::Duration {
    let random = (uuid::Uuid::new_v4().as_u128() >> 64) as u64;
    let fraction = 0.5 + (random as f64 / u64::MAX as f64) / 2.0;
    longest.mul_f64(fraction)
}

/// Runs one try of a call.
async fn try_call(
    call: &Call,
    request: Arc<Request>,
    state: StateView,
    response: SharedResponse,
) -> Outcome {
    let input = request.body.clone();
    let context = RequestCtx {
        request,
        state,
        response,
    };
    let started = std::time::Instant::now();
    let span = tracing::info_span!(
        target: TRACE_TARGET,
        "step",
        otel.name = %call.key,
        karman.component = &*call.component.name,
        karman.outcome = tracing::field::Empty,
    );
    let ran = instance::run(&call.component, context, &input)
        .instrument(span.clone())
        .await;
    let outcome = match &ran {
        Ok(Ok(_)) => StepOutcome::Ok,
        Ok(Err(_)) => StepOutcome::Error,
        Err(failure) => StepOutcome::Fault(failure.kind),
    };
    span.record("karman.outcome", outcome.label());
    call.component
        .series
        .observe_step(outcome, started.elapsed());
    match ran {
        Ok(Ok(output)) => Outcome::Output(Bytes::from(output)),
        Ok(Err(error)) => Outcome::RunError {
            code: error.code,
            message: error.message,
        },
        Err(mut failure) => {
            if failure.kind == FailureKind::Timeout {
                failure.message = format!(
                    "step `{}` timed out after {}",
                    call.key,
                    humantime::format_duration(call.component.limits.timeout)
                );
            }
            Outcome::Fault(failure)
        }
    }
}

fn internal(message: String) -> Failure {
    tracing::error!("{message}");
    Failure {
        status: 500,
        code: 500,
        message: "internal error".into(),
        kind: FailureKind::Internal,
    }
}
