//! Host bindings of the `karman:runnable` WIT package (`wit/`), generated in this one place.
//!
//! Imports are synchronous except where the host does I/O (`cache`, `sql`,
//! `http`, `graphql`); `run` is called
//! asynchronously so that a guest can be interrupted (epoch yields) and timed out. `sql` is
//! trappable: a transaction handle the guest does not own traps, as resource misuse should.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "karman:runnable/runnable",
    imports: {
        "karman:runnable/cache": async,
        "karman:runnable/sql": async | trappable,
        "karman:runnable/http": async,
        "karman:runnable/graphql": async,
    },
    exports: { default: async },
    with: {
        "karman:runnable/sql.transaction": crate::capabilities::sql::SqlTransaction,
    },
});

pub(crate) use karman::runnable::{cache, graphql, http, log, req, resp, sql, types};
