//! The settings of the HTTP server ([`ServerConfig`]) and their defaults: body size, the
//! slow-client timeouts, the connection cap, the connection threads and the shutdown grace.

use std::time::Duration;

/// Default cap on request bodies.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 << 20;
/// Default time in-flight requests get to finish after a shutdown signal.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Default time a client has to send a request head, from its first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client has to send a request body that the server reads whole.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default longest time from a request's head to its response head.
pub const DEFAULT_TOTAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time a connection may stay open with no request in flight.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default time a connection thread with few connections polls on after its last traffic.
pub const DEFAULT_CONNECTION_SPIN: Duration = Duration::from_micros(100);

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Request bodies larger than this are answered with 413.
    pub max_body_bytes: u64,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request head, from its first byte (HTTP/1, and an
    /// HTTP/2 connection's first request); the connection is closed after it.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a body the server reads whole: 408 after it.
    pub body_read_timeout: Duration,
    /// The longest from a request's head to its response head: 504 after it.
    pub total_request_timeout: Duration,
    /// How long a connection (HTTP/1 or HTTP/2) may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Most connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Threads serving connections, each with a single-threaded runtime of its own (see
    /// `--connection-threads`); 0: one per core.
    pub connection_threads: usize,
    /// How long a connection thread serving few connections keeps polling after its last
    /// read or write before it sleeps (see `--connection-spin`); zero: it sleeps at once.
    pub connection_spin: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            total_request_timeout: DEFAULT_TOTAL_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connection_threads: 0,
            connection_spin: DEFAULT_CONNECTION_SPIN,
        }
    }
}
