//! Karman: a WebAssembly application host.
//!
//! This crate is the HTTP server and the `karman` command line; the Directive model lives in
//! `karman-directive` and the engine in `karman-runtime`.
//!
//! The server takes an already-bound listener and a shutdown future, so it can be embedded and
//! tested on port 0:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use karman::{serve, ServerConfig, Service};
//! use karman_runtime::{Runtime, RuntimeConfig};
//!
//! let app = karman_directive::load("examples/hello/Directive.yaml".as_ref())?;
//! let runtime = tokio::task::spawn_blocking(move || Runtime::load(app, RuntimeConfig::default())).await??;
//! let service = Arc::new(Service::new(Arc::new(runtime), ServerConfig::default())?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, service, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod auth;
pub mod build;
pub mod cli;
mod ext;
pub mod new;
mod router;
mod server;
mod websocket;
pub mod wit;

pub use server::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_SHUTDOWN_GRACE, HEADER_READ_TIMEOUT, REQUEST_ID_HEADER,
    ServerConfig, Service, serve,
};
