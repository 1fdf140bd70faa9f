//! The capability API, one module per WIT interface, each with the same shape: a context held
//! in the step's store, the grant check, and the `Host` implementation.
//!
//! | interface | module | backends | grant |
//! |-----------|--------|----------|-------|
//! | `req`, `resp` | [`request`] | the request | always |
//! | `log`, `wasi:logging` (+ stdout/stderr) | [`log`] | the host log, rate-limited | on unless `log: false` |
//! | `wasi:config/store` | [`config`] | the component's `config:` in the Directive | always (empty without `config:`) |
//! | `cache`, `wasi:keyvalue` | [`cache`] | in memory, Redis | `cache: true` or `{ prefix }` |
//! | `sql` | [`sql`] | SQLite, PostgreSQL, MySQL | `sql: { queries, raw, write }` |
//! | `http` | [`http`] | reqwest (rustls), credentials per domain | `http: { allow, allowPrivate }` |
//! | `graphql` | [`graphql`] | POST JSON over [`http`]'s policy | `graphql: { allow, allowPrivate }` |
//! | `wasi:http/outgoing-handler` | [`http`] (`wasi`) | the same policy as `http` | `http: { … }` |
//! | `file` | [`file`] | the app's static directory, read-only | `files: true` or `{ path }` |
//! | `principal` | [`principal`] | the verified JWT of a custom route's caller | always (empty outside routes) |

pub(crate) mod cache;
pub(crate) mod config;
pub(crate) mod failure;
pub(crate) mod file;
pub(crate) mod graphql;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod principal;
pub(crate) mod request;
pub(crate) mod sql;

pub(crate) use failure::CapFailure;

/// The span of one capability call (`cache.get`, `sql.query`, `http.send`, …), a child of its
/// step's span: exported when traces are on, free otherwise.
pub(crate) fn call_span(name: &'static str) -> tracing::Span {
    tracing::info_span!(
        target: crate::TRACE_TARGET,
        "capability",
        otel.name = name,
        otel.kind = "client",
    )
}

use wasmtime::component::{HasSelf, Linker};

use crate::bindings;
use crate::store::StepState;

// Every interface that returns a `cap-error` converts it through `types` (the bindings ask
// it of each one's data).
failure::convert_cap_error!(
    StepState,
    request::RequestCtx,
    cache::CacheCtx,
    http::HttpCtx,
    file::FileCtx,
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
    // `wasi:keyvalue`, on the cache under its grant.
    fn keyvalue(state: &mut StepState) -> cache::keyvalue::KeyvalueView<'_> {
        cache::keyvalue::KeyvalueView {
            cache: &mut state.cache,
            table: &mut state.table,
        }
    }
    bindings::keyvalue_store::add_to_linker::<StepState, cache::keyvalue::Keyvalue>(
        linker, keyvalue,
    )?;
    bindings::atomics::add_to_linker::<StepState, cache::keyvalue::Keyvalue>(linker, keyvalue)?;
    bindings::batch::add_to_linker::<StepState, cache::keyvalue::Keyvalue>(linker, keyvalue)?;
    bindings::logging::add_to_linker::<StepState, HasSelf<log::LogCtx>>(linker, |state| {
        &mut state.log
    })?;
    bindings::config_store::add_to_linker::<StepState, HasSelf<config::ConfigCtx>>(
        linker,
        |state| &mut state.config,
    )?;
    bindings::sql::add_to_linker::<StepState, sql::Sql>(linker, |state| sql::SqlView {
        ctx: &mut state.sql,
        table: &mut state.table,
    })?;
    bindings::http::add_to_linker::<StepState, HasSelf<http::HttpCtx>>(linker, |state| {
        &mut state.http
    })?;
    bindings::graphql::add_to_linker::<StepState, HasSelf<graphql::GraphqlCtx>>(linker, |state| {
        &mut state.graphql
    })?;
    bindings::file::add_to_linker::<StepState, HasSelf<file::FileCtx>>(linker, |state| {
        &mut state.file
    })?;
    bindings::principal::add_to_linker::<StepState, HasSelf<principal::PrincipalCtx>>(
        linker,
        |state| &mut state.principal,
    )?;
    Ok(())
}
