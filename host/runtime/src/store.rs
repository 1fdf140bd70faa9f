//! The data of one step's store: WASI (nothing granted), `wasi:http` outgoing requests (under
//! the `http` grant), the capability contexts, and the memory limit.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capabilities::cache::CacheCtx;
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::file::FileCtx;
use crate::capabilities::graphql::GraphqlCtx;
use crate::capabilities::http::{HttpCtx, WasiHttpHooks};
use crate::capabilities::log::LogCtx;
use crate::capabilities::principal::PrincipalCtx;
use crate::capabilities::request::RequestCtx;
use crate::capabilities::sql::SqlCtx;
use crate::links::LinkedInstances;
use crate::memory_budget::Reservation;
use crate::metrics::InstanceInUse;

/// Everything a step's instance can reach.
pub(crate) struct StepState {
    /// WASI, with nothing granted.
    pub(crate) wasi: WasiCtx,
    /// The guest's resources (WASI's, `wasi:http`'s, `sql` transactions).
    pub(crate) table: ResourceTable,
    /// The memory limit.
    pub(crate) limits: MemoryLimit,
    /// `req` and `resp`.
    pub(crate) request: RequestCtx,
    /// `log` and `wasi:logging`.
    pub(crate) log: LogCtx,
    /// `cache` and `wasi:keyvalue`.
    pub(crate) cache: CacheCtx,
    /// `wasi:config/store`.
    pub(crate) config: ConfigCtx,
    /// `sql`.
    pub(crate) sql: SqlCtx,
    /// `http`.
    pub(crate) http: HttpCtx,
    /// `graphql`.
    pub(crate) graphql: GraphqlCtx,
    /// `file`.
    pub(crate) file: FileCtx,
    /// The verified caller of a custom route.
    pub(crate) principal: PrincipalCtx,
    /// The instances of the components it imports interfaces from, made at their first call.
    pub(crate) linked: LinkedInstances,
    /// `wasi:http/outgoing-handler`, under the `http` grant.
    pub(crate) wasi_http: WasiHttpCtx,
    /// The hooks that send `wasi:http` requests under the `http` grant.
    pub(crate) wasi_http_hooks: WasiHttpHooks,
    /// Counts the instance in `karman_instances_in_use` while it lives.
    pub(crate) _in_use: InstanceInUse,
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.wasi_http,
            table: &mut self.table,
            hooks: &mut self.wasi_http_hooks,
        }
    }
}

/// Caps the linear memory of an instance: growing past its cap traps with
/// [`MemoryLimitExceeded`], and past what the host-wide budget has left with
/// [`MemoryBudgetExhausted`].
pub(crate) struct MemoryLimit {
    /// The cap, in bytes.
    pub(crate) max_bytes: usize,
    /// This instance's share of the host-wide budget, returned when the store is dropped.
    pub(crate) budget: Reservation,
}

/// The trap raised when a guest grows its memory past its limit.
#[derive(Debug, thiserror::Error)]
#[error("the component exceeded its memory limit of {limit} bytes")]
pub(crate) struct MemoryLimitExceeded {
    /// The limit, in bytes.
    pub(crate) limit: usize,
}

/// Elements a table may grow to (function references; a large JS engine needs tens of
/// thousands).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(MemoryLimitExceeded {
                limit: self.max_bytes,
            }
            .into());
        }
        // Called for a memory's initial size too (`current` 0), so every byte is counted.
        self.budget.grow(desired.saturating_sub(current))?;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
