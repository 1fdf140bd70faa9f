//! Host bindings of the `karman:runnable` WIT package (the crate's `wit/`, a copy of the
//! repository's `wit/`), generated in this one place.
//!
//! Imports are synchronous except where the host does I/O (`cache`, `sql`, `http`, `graphql`,
//! `file`); `run` is called asynchronously so that a guest can be interrupted (epoch yields)
//! and timed out. The interfaces whose functions return `cap-error` (`resp`, `cache`, `sql`,
//! `http`, `file`) are trappable, with [`crate::capabilities::CapFailure`] as their error: a host function returns
//! either the guest's `cap-error` or a trap (a `sql` transaction handle the guest does not own
//! traps, as resource misuse should).
//!
//! The `route` world (custom routes) adds `principal` to what a `wasi:http` proxy imports; its
//! other interfaces are those generated here and by wasmtime-wasi(-http), so only `principal`
//! is generated for it.
//!
//! The standard interfaces Karman serves under the same grants, `wasi:keyvalue` (on the cache),
//! `wasi:logging` (on the log) and `wasi:config` (the Directive's `config:`), are generated from
//! their worlds in `wit/deps`. `wasi:keyvalue` is trappable with [`CapFailure`] too, so its
//! functions share the cache's code; a bucket handle the guest does not own traps.
//!
//! [`CapFailure`]: crate::capabilities::CapFailure

wasmtime::component::bindgen!({
    path: "wit",
    world: "karman:runnable/runnable",
    imports: {
        "karman:runnable/resp": trappable,
        "karman:runnable/cache": async | trappable,
        "karman:runnable/sql": async | trappable,
        "karman:runnable/http": async | trappable,
        "karman:runnable/graphql": async,
        "karman:runnable/file": async | trappable,
    },
    exports: { default: async },
    trappable_error_type: {
        "karman:runnable/types.cap-error" => crate::capabilities::failure::CapFailure,
    },
    with: {
        "karman:runnable/sql.transaction": crate::capabilities::sql::access::SqlTransaction,
    },
});

/// The `route` world: only `principal` is new.
mod route {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "karman:runnable/route",
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "karman:runnable/types": super::karman::runnable::types,
            "karman:runnable/cache": super::karman::runnable::cache,
            "karman:runnable/sql": super::karman::runnable::sql,
            "karman:runnable/graphql": super::karman::runnable::graphql,
            "karman:runnable/log": super::karman::runnable::log,
            "karman:runnable/file": super::karman::runnable::file,
        },
    });
}

/// `wasi:keyvalue` (store, atomics, batch).
mod keyvalue_world {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::capabilities::cache::keyvalue::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::capabilities::failure::CapFailure,
        },
    });
}

/// `wasi:logging`.
mod logging_world {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "wasi:logging/imports",
    });
}

/// `wasi:config/store`.
mod config_world {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "wasi:config/imports",
    });
}

pub(crate) use config_world::wasi::config::store as config_store;
pub(crate) use karman::runnable::{cache, file, graphql, http, log, req, resp, sql, types};
pub(crate) use keyvalue_world::wasi::keyvalue::{atomics, batch, store as keyvalue_store};
pub(crate) use logging_world::wasi::logging::logging;
pub(crate) use route::karman::runnable::principal;
