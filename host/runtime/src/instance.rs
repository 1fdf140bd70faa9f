//! Instances of a component for one step: a fresh one by default, or, for a component that opts
//! in with `reuse:`, a warm one from its pool (see [`crate::warm`]). A fresh instance shares
//! nothing with any other step.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::types::RunError;
use crate::capabilities::cache::CacheCtx;
use crate::capabilities::file::FileCtx;
use crate::capabilities::graphql::GraphqlCtx;
use crate::capabilities::http::{HttpCtx, WasiHttpHooks};
use crate::capabilities::log::{CurrentRequest, GuestOutput, LogCtx};
use crate::capabilities::request::{
    MAX_RESPONSE_HEADER_BYTES, RequestCtx, ResponseHeadersExceeded,
};
use crate::capabilities::sql::SqlCtx;
use crate::component::{Entry, LoadedComponent};
use crate::lazy_timeout::{TimedOut, timeout_at};
use crate::memory_budget::MemoryBudgetExhausted;
use crate::metrics::Refusal;
use crate::request::{Failure, FailureKind};
use crate::store::{MemoryLimit, MemoryLimitExceeded, StepState};

/// The store of a new instance of `component`, serving `request`: WASI with nothing granted
/// (stdout and stderr to the log), the component's capabilities, its memory limit, and epoch
/// yields.
pub(crate) fn new_store(
    component: &LoadedComponent,
    request: RequestCtx,
    current: CurrentRequest,
) -> Store<StepState> {
    let wasi = WasiCtxBuilder::new()
        .stdout(GuestOutput::stdout(component.log.clone(), current.clone()))
        .stderr(GuestOutput::stderr(component.log.clone(), current.clone()))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let data = StepState {
        wasi,
        table: resource_table(),
        limits: MemoryLimit {
            max_bytes: usize::try_from(component.limits.memory).unwrap_or(usize::MAX),
            budget: component.memory_budget.reservation(),
        },
        request,
        log: LogCtx {
            log: component.log.clone(),
            request: current,
        },
        cache: CacheCtx {
            access: component.cache.clone(),
            calls: component.metrics.calls("cache"),
        },
        config: component.config.clone(),
        sql: SqlCtx::new(component.sql.clone(), component.metrics.calls("sql")),
        http: HttpCtx {
            access: component.http.clone(),
            calls: component.metrics.calls("http"),
        },
        graphql: GraphqlCtx {
            access: component.graphql.clone(),
            calls: component.metrics.calls("graphql"),
        },
        file: FileCtx {
            access: component.files.clone(),
        },
        principal: Default::default(),
        linked: Default::default(),
        wasi_http: wasi_http_ctx(),
        wasi_http_hooks: WasiHttpHooks {
            access: component.http.clone(),
        },
        _in_use: component.metrics.instance_in_use(),
    };
    let mut store = Store::new(&component.engine, data);
    store.limiter(|data| &mut data.limits);
    // Yield to the scheduler at every epoch tick: a busy guest shares its worker thread (I/O
    // is polled before it resumes: `yield_now` defers to the driver), and the step's timeout
    // can fire.
    store.epoch_deadline_callback(|_| {
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store
}

/// Most resources (streams, `wasi:http` fields and bodies, SQL transactions, …) one instance
/// may hold at once: with each `fields` capped at 64 KiB, what a guest can make the host hold
/// through them stays bounded.
pub const MAX_GUEST_RESOURCES: usize = 10_000;

/// The resource table of a new instance, capped at [`MAX_GUEST_RESOURCES`].
fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_GUEST_RESOURCES);
    table
}

/// `wasi:http` with every `fields` the guest creates (its response headers included) capped
/// at [`MAX_RESPONSE_HEADER_BYTES`], as wasmtime counts them.
fn wasi_http_ctx() -> WasiHttpCtx {
    let mut ctx = WasiHttpCtx::new();
    ctx.set_field_size_limit(MAX_RESPONSE_HEADER_BYTES);
    ctx
}

/// Runs `run` of `component` on an instance, within the component's timeout: what `run`
/// returned, or the fault that ended it.
pub(crate) async fn run(
    component: &LoadedComponent,
    request: RequestCtx,
    input: &[u8],
) -> Result<Result<Vec<u8>, RunError>, Failure> {
    let request_id: Arc<str> = request.request.id.as_str().into();
    let deadline = tokio::time::Instant::now() + component.limits.timeout;
    // Boxed: instantiation's and `run`'s futures are kilobytes, and every future that awaits
    // this one (the step's, the sequence's, the request's, hyper's) would hold them inline
    // and copy them each time it is made or moved. One allocation per step instead.
    let work = Box::pin(async {
        let (mut store, runnable, uses) = match component.warm.as_ref().and_then(|pool| pool.take())
        {
            Some(warm) => {
                let mut store = warm.store;
                let data = store.data_mut();
                data.request = request;
                data.log.request.set(request_id.clone());
                (store, warm.runnable, warm.uses)
            }
            None => {
                let Entry::Runnable(pre) = &component.entry else {
                    // The runtime refuses such an app at load; never run a proxy as a step.
                    return Err(wasmtime::format_err!(
                        "component `{}` is not a Runnable",
                        component.name
                    ));
                };
                let mut store =
                    new_store(component, request, CurrentRequest::new(request_id.clone()));
                store.set_epoch_deadline(1);
                let instantiating = std::time::Instant::now();
                let runnable = pre.instantiate_async(&mut store).await?;
                component
                    .series
                    .observe_instantiation(instantiating.elapsed());
                (store, runnable, 0)
            }
        };
        store.data_mut().sql.deadline = Some(deadline);
        store.set_epoch_deadline(1);
        let returned = runnable.call_run(&mut store, input).await?;
        wasmtime::Result::Ok((returned, store, runnable, uses + 1))
    });
    match timeout_at(deadline, work).await {
        Ok(Ok((returned, store, runnable, uses))) => {
            if let Some(pool) = &component.warm {
                pool.put(store, runnable, uses);
            }
            Ok(returned)
        }
        Ok(Err(error)) => Err(fault(component, &request_id, error)),
        Err(TimedOut) => {
            let timeout = humantime::format_duration(component.limits.timeout);
            tracing::warn!(component = &*component.name, request_id = &*request_id, %timeout, "step timed out");
            Err(Failure {
                status: 504,
                code: 504,
                message: String::new(),
                kind: FailureKind::Timeout,
            })
        }
    }
}

/// Classifies an error of instantiation or `run`, logging the details the client does not see
/// and counting the refusals.
pub(crate) fn fault(loaded: &LoadedComponent, request_id: &str, error: wasmtime::Error) -> Failure {
    let component = &*loaded.name;
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
    if let Some(exceeded) = error.downcast_ref::<ResponseHeadersExceeded>() {
        tracing::warn!(component, request_id, "{exceeded}");
        return Failure {
            status: 500,
            code: 500,
            message: format!("component `{component}` failed: {exceeded}"),
            kind: FailureKind::Limit,
        };
    }
    if let Some(
        exceeded @ (wasmtime_wasi_http::FieldMapError::TotalSizeTooBig
        | wasmtime_wasi_http::FieldMapError::TooManyFields),
    ) = error.downcast_ref::<wasmtime_wasi_http::FieldMapError>()
    {
        tracing::warn!(
            component,
            request_id,
            "wasi:http fields over their cap: {exceeded}"
        );
        return Failure {
            status: 500,
            code: 500,
            message: format!(
                "component `{component}` failed: wasi:http fields may hold at most {} KiB \
                 ({exceeded})",
                MAX_RESPONSE_HEADER_BYTES >> 10
            ),
            kind: FailureKind::Limit,
        };
    }
    if let Some(exhausted) = error.downcast_ref::<MemoryBudgetExhausted>() {
        tracing::warn!(component, request_id, "{exhausted}");
        loaded.metrics.count_refusal(Refusal::Memory);
        return overloaded("the server's guest memory is in use; retry shortly");
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        tracing::warn!(component, request_id, "instance pool exhausted: {error}");
        loaded.metrics.count_refusal(Refusal::Instances);
        return overloaded("the server is at capacity; retry shortly");
    }
    tracing::error!(
        component,
        request_id,
        error = format!("{error:?}"),
        "component trapped"
    );
    Failure {
        status: 500,
        code: 500,
        message: format!("component `{component}` trapped"),
        kind: FailureKind::Trap,
    }
}

/// 503: the host is full (instances or guest memory), not the guest at fault; retry later.
fn overloaded(message: &str) -> Failure {
    Failure {
        status: 503,
        code: 503,
        message: message.into(),
        kind: FailureKind::Overloaded,
    }
}
