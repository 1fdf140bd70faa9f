//! Host bindings of the `karman:runnable` WIT package (`wit/`), generated in this one place.
//!
//! Imports are synchronous except where the host does I/O (`cache`); `run` is called
//! asynchronously so that a guest can be interrupted (epoch yields) and timed out.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "karman:runnable/runnable",
    imports: {
        "karman:runnable/cache": async,
    },
    exports: { default: async },
});

pub(crate) use karman::runnable::{cache, log, req, resp, types};
