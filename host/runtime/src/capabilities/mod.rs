//! The capability API, one module per WIT interface, each with the same shape: a context held
//! in the step's store, the grant check, and the `Host` implementation.
//!
//! | interface | module | backends | grant |
//! |-----------|--------|----------|-------|
//! | `req`, `resp` | [`request`] | the request | always |
//! | `log` (+ stdout/stderr) | [`log`] | the host log, rate-limited | on unless `log: false` |
//! | `cache` | [`cache`] | in memory, Redis | `cache: true` or `{ prefix }` |
//! | `sql` | [`sql`] | SQLite, PostgreSQL, MySQL | `sql: { queries, raw, write }` |
//! | `http` | [`http`] | reqwest (rustls), credentials per domain | `http: { allow, allowPrivate }` |
//! | `graphql` | [`graphql`] | POST JSON over [`http`]'s policy | `graphql: { allow, allowPrivate }` |
//! | `wasi:http/outgoing-handler` | [`http`] (`wasi`) | the same policy as `http` | `http: { … }` |
//! | `principal` | [`principal`] | the verified JWT of a custom route's caller | always (empty outside routes) |

pub(crate) mod cache;
pub(crate) mod graphql;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod principal;
pub(crate) mod request;
pub(crate) mod sql;

use wasmtime::component::{HasSelf, Linker, ResourceTableError};

use crate::bindings;
use crate::bindings::types::CapError;
use crate::store::StepState;

/// Why a capability call failed: a `cap-error` for the guest, or a trap.
///
/// The host functions of every interface whose functions return `result<_, cap-error>`
/// (`resp`, `cache`, `sql`, `http`) return this, so they use `?` on either kind; the bindings
/// (`trappable_error_type`) turn it back into the guest's `cap-error`, or trap.
#[derive(Debug)]
pub(crate) enum CapFailure {
    /// Returned to the guest as its `cap-error`.
    Guest(CapError),
    /// Traps the guest: resource misuse (a handle it does not own) or a host fault.
    Trap(wasmtime::Error),
}

impl From<CapError> for CapFailure {
    fn from(error: CapError) -> Self {
        Self::Guest(error)
    }
}

impl From<ResourceTableError> for CapFailure {
    fn from(error: ResourceTableError) -> Self {
        Self::Trap(error.into())
    }
}

impl From<wasmtime::Error> for CapFailure {
    fn from(error: wasmtime::Error) -> Self {
        Self::Trap(error)
    }
}

/// `types.convert-cap-error` for the data of every interface that returns a `cap-error` (the
/// bindings require it of each): the guest's error, or the trap.
macro_rules! convert_cap_error {
    ($($data:ty),+) => {$(
        impl bindings::types::Host for $data {
            fn convert_cap_error(&mut self, failure: CapFailure) -> wasmtime::Result<CapError> {
                match failure {
                    CapFailure::Guest(error) => Ok(error),
                    CapFailure::Trap(trap) => Err(trap),
                }
            }
        }
    )+};
}

convert_cap_error!(
    StepState,
    request::RequestCtx,
    cache::CacheCtx,
    http::HttpCtx,
    sql::SqlView<'_>
);

/// Adds WASI and every provided capability to the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<StepState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // `wasi:http/types` and `outgoing-handler`, sent through the `http` policy.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    bindings::types::add_to_linker::<StepState, HasSelf<StepState>>(linker, |state| state)?;
    bindings::req::add_to_linker::<StepState, HasSelf<request::RequestCtx>>(linker, |state| {
        &mut state.request
    })?;
    bindings::resp::add_to_linker::<StepState, HasSelf<request::RequestCtx>>(linker, |state| {
        &mut state.request
    })?;
    bindings::log::add_to_linker::<StepState, HasSelf<log::LogCtx>>(linker, |state| {
        &mut state.log
    })?;
    bindings::cache::add_to_linker::<StepState, HasSelf<cache::CacheCtx>>(linker, |state| {
        &mut state.cache
    })?;
    bindings::sql::add_to_linker::<StepState, sql::Sql>(linker, |state| sql::SqlView {
        ctx: &state.sql,
        table: &mut state.table,
    })?;
    bindings::http::add_to_linker::<StepState, HasSelf<http::HttpCtx>>(linker, |state| {
        &mut state.http
    })?;
    bindings::graphql::add_to_linker::<StepState, HasSelf<graphql::GraphqlCtx>>(linker, |state| {
        &mut state.graphql
    })?;
    bindings::principal::add_to_linker::<StepState, HasSelf<principal::PrincipalCtx>>(
        linker,
        |state| &mut state.principal,
    )?;
    Ok(())
}
