//! Karman: a WebAssembly application host.
//!
//! This crate is the HTTP server and the `karman` command line; the Directive model lives in
//! `karman-directive`, the engine in `karman-runtime` and the stream handlers in
//! `karman-streams`.
//!
//! [`start`] runs the start-up sequence — connect the backends, load the components, start the
//! streams — and [`Running::serve`] serves an already-bound listener until a shutdown future
//! resolves, so the app can be embedded and tested on port 0:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let app = karman_directive::load("examples/hello/Directive.yaml".as_ref())?;
//! let running = karman::start(app, karman::Launch::default()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! running.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! Layout: [`cli`] parses the command line and hands over to one module per command
//! ([`commands`]); `config` holds the server's settings; `startup` is the start-up sequence;
//! `listen` accepts connections (`connection` bounds each one's idle time);
//! `service` answers a request, routing it (`karman_directive::routing`) to a handler, a custom route
//! (`custom_routes`, with `auth` for JWTs), a WebSocket endpoint (`websocket`) or `/health`;
//! `responses` makes the server's own answers; [`bundle`] builds and opens bundles
//! (`app.karman`).

#![warn(missing_docs)]

pub mod admin;
mod auth;
pub mod bundle;
pub mod cli;
pub mod commands;
mod config;
mod connection;
mod connection_threads;
mod custom_routes;
pub mod headless;
mod health;
mod listen;
mod log_text;
pub mod metrics;
mod rate_limit;
mod reload;
mod responses;
mod service;
mod startup;
mod static_files;
pub mod tls;
pub mod traces;
mod websocket;

pub use config::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE, DEFAULT_TOTAL_REQUEST_TIMEOUT,
    HEADER_READ_TIMEOUT, ServerConfig,
};
pub use health::ServerStatus;
pub use listen::{LiveService, serve, serve_live};
pub use metrics::Metrics;
pub use service::{REQUEST_ID_HEADER, Service};
pub use startup::{Connect, Launch, Running, Serving, load, start};
pub use tls::TlsFiles;
