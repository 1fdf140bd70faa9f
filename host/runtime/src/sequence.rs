//! Running a handler's steps over a shared state (Atmo semantics).
//!
//! - Every step's `run` receives the request body; it reads earlier outputs with `req.state`.
//! - A step's output is stored under its key (`as:`, else its `fn` name).
//! - A `group` runs its steps concurrently; each sees the state from before the group, and
//!   their outputs are stored in declared order once all have finished.
//! - A run error is looked up in the step's `onErr`: `continue` stores
//!   `{"code": …, "message": …}` under the step's key, `return` (the default) ends the run with
//!   the error's code as the HTTP status (500 outside 200..=599).
//! - A trap, a timeout or an exceeded memory limit always ends the run (500, 504, 500):
//!   `onErr` does not apply to faults.
//!
//! Each step runs on a fresh instance, so nothing leaks between steps or requests except
//! through the state and the capabilities.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use karman_directive::{ErrAction, OnErr};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

use crate::capabilities::cache::CacheCtx;
use crate::capabilities::log::{GuestOutput, LogCtx};
use crate::capabilities::request::RequestCtx;
use crate::component::LoadedComponent;
use crate::request::{Failure, FailureKind, Reply, Request, SharedResponse, State, StateView};
use crate::store::{MemoryLimit, MemoryLimitExceeded, StepState};

/// A handler's steps, resolved to loaded components at start-up.
pub(crate) struct Plan {
    pub(crate) steps: Vec<PlannedStep>,
    pub(crate) response: String,
}

pub(crate) enum PlannedStep {
    Single(Arc<Call>),
    Group(Vec<Arc<Call>>),
}

/// One component call of a plan.
pub(crate) struct Call {
    pub(crate) component: Arc<LoadedComponent>,
    pub(crate) key: String,
    pub(crate) with: Option<Arc<BTreeMap<String, String>>>,
    pub(crate) on_err: OnErr,
}

/// How one call ended.
enum Outcome {
    Output(Bytes),
    RunError { code: u16, message: String },
    Fault(Failure),
}

/// Runs the plan for `request`.
pub(crate) async fn run(plan: &Plan, request: Arc<Request>) -> Result<Reply, Failure> {
    let response = SharedResponse::default();
    let mut state = Arc::new(State::new());
    for step in &plan.steps {
        match step {
            PlannedStep::Single(call) => {
                let view = view(&state, call);
                let outcome = run_call(call, request.clone(), view, response.clone()).await;
                apply(&mut state, call, outcome)?;
            }
            PlannedStep::Group(calls) => {
                let mut tasks = GroupTasks(
                    calls
                        .iter()
                        .map(|call| {
                            let (call, request, response) =
                                (call.clone(), request.clone(), response.clone());
                            let view = view(&state, &call);
                            tokio::spawn(
                                async move { run_call(&call, request, view, response).await },
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
    let body = state.get(&plan.response).cloned().unwrap_or_default();
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

/// Stores a call's result in the state, or ends the run.
fn apply(state: &mut Arc<State>, call: &Call, outcome: Outcome) -> Result<(), Failure> {
    let value = match outcome {
        Outcome::Output(output) => output,
        Outcome::Fault(failure) => return Err(failure),
        Outcome::RunError { code, message } => match call.on_err.action(code) {
            ErrAction::Continue => {
                let error = serde_json::json!({ "code": code, "message": message });
                Bytes::from(error.to_string())
            }
            ErrAction::Return => {
                let status = if (200..=599).contains(&code) {
                    code
                } else {
                    500
                };
                return Err(Failure {
                    status,
                    code,
                    message,
                    kind: FailureKind::RunError,
                });
            }
        },
    };
    Arc::make_mut(state).insert(call.key.clone(), value);
    Ok(())
}

/// Runs one component on a fresh instance, within its timeout and memory limit.
async fn run_call(
    call: &Call,
    request: Arc<Request>,
    state: StateView,
    response: SharedResponse,
) -> Outcome {
    let component = &call.component;
    let request_id: Arc<str> = request.id.as_str().into();
    let wasi = WasiCtxBuilder::new()
        .stdout(GuestOutput::stdout(
            component.log.clone(),
            request_id.clone(),
        ))
        .stderr(GuestOutput::stderr(
            component.log.clone(),
            request_id.clone(),
        ))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let input = request.body.clone();
    let data = StepState {
        wasi,
        table: Default::default(),
        limits: MemoryLimit {
            max_bytes: usize::try_from(component.limits.memory).unwrap_or(usize::MAX),
        },
        request: RequestCtx {
            request,
            state,
            response,
        },
        log: LogCtx {
            log: component.log.clone(),
            request_id: request_id.clone(),
        },
        cache: CacheCtx {
            access: component.cache.clone(),
        },
    };
    let mut store = Store::new(&component.engine, data);
    store.limiter(|data| &mut data.limits);
    // Yield to the scheduler at every epoch tick: a busy guest shares its worker thread (I/O
    // is polled before it resumes: `yield_now` defers to the driver) and the timeout below
    // can fire.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| {
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });

    let work = async {
        let instance = component.pre.instantiate_async(&mut store).await?;
        instance.call_run(&mut store, &input).await
    };
    match tokio::time::timeout(component.limits.timeout, work).await {
        Ok(Ok(Ok(output))) => Outcome::Output(Bytes::from(output)),
        Ok(Ok(Err(error))) => Outcome::RunError {
            code: error.code,
            message: error.message,
        },
        Ok(Err(error)) => Outcome::Fault(fault(&component.name, &request_id, error)),
        Err(_elapsed) => {
            let timeout = humantime::format_duration(component.limits.timeout);
            tracing::warn!(component = &*component.name, request_id = &*request_id, %timeout, "step timed out");
            Outcome::Fault(Failure {
                status: 504,
                code: 504,
                message: format!("step `{}` timed out after {timeout}", call.key),
                kind: FailureKind::Timeout,
            })
        }
    }
}

/// Classifies an error of instantiation or `run`, logging the details the client does not see.
fn fault(component: &str, request_id: &str, error: wasmtime::Error) -> Failure {
    if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
        tracing::warn!(
            component,
            request_id,
            limit = exceeded.limit,
            "step exceeded its memory limit"
        );
        return Failure {
            status: 500,
            code: 500,
            message: format!(
                "component `{component}` exceeded its memory limit of {} MiB",
                exceeded.limit >> 20
            ),
            kind: FailureKind::MemoryLimit,
        };
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        tracing::warn!(component, request_id, "instance pool exhausted: {error}");
        return Failure {
            status: 503,
            code: 503,
            message: "the server is at capacity; retry shortly".into(),
            kind: FailureKind::Overloaded,
        };
    }
    tracing::error!(
        component,
        request_id,
        error = format!("{error:?}"),
        "step trapped"
    );
    Failure {
        status: 500,
        code: 500,
        message: format!("component `{component}` trapped"),
        kind: FailureKind::Trap,
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
