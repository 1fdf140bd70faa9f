//! `karman:runnable/log`, the standard `wasi:logging`, and the guest's stdout/stderr: all go to
//! the host log, tagged with the component and the request id, through one per-component rate
//! limiter, and only with the `log` grant (on unless `log: false`).
//!
//! A guest cannot flood the host log: past [`LOG_BURST`] lines, at most [`LOG_LINES_PER_SECOND`]
//! lines a second get through, and the number dropped is reported once lines flow again.

use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::bindings::log::{Host, Level};
use crate::bindings::logging;

/// Lines a component may log at once before the rate limit applies.
pub const LOG_BURST: NonZeroU32 = NonZeroU32::new(200).expect("not zero");
/// Lines per second a component may log in the long run.
pub const LOG_LINES_PER_SECOND: NonZeroU32 = NonZeroU32::new(100).expect("not zero");
/// Longest line kept; longer lines are cut (stdout) or truncated (log calls).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// The log of one component: its name, whether it may log, and its rate limiter.
#[derive(Debug)]
pub(crate) struct ComponentLog {
    component: Arc<str>,
    enabled: bool,
    limiter: DefaultDirectRateLimiter,
    /// Lines dropped since the last one that got through.
    dropped: AtomicU64,
}

impl ComponentLog {
    pub(crate) fn new(component: Arc<str>, enabled: bool) -> Self {
        Self {
            component,
            enabled,
            limiter: RateLimiter::direct(
                Quota::per_second(LOG_LINES_PER_SECOND).allow_burst(LOG_BURST),
            ),
            dropped: AtomicU64::new(0),
        }
    }

    /// Takes a token; returns `None` when the line must be dropped, else how many lines were
    /// dropped since the last one that got through.
    fn admit(&self) -> Option<u64> {
        if self.limiter.check().is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.dropped.swap(0, Ordering::Relaxed))
    }

    /// Writes one line of the guest to the host log.
    pub(crate) fn write(
        &self,
        request_id: &str,
        level: Level,
        source: &'static str,
        message: &str,
    ) {
        if !self.enabled {
            return;
        }
        let Some(dropped) = self.admit() else {
            return;
        };
        let component = &*self.component;
        if dropped > 0 {
            tracing::warn!(target: "karman::guest", component, dropped, "rate limit: dropped {dropped} log lines of component `{component}`");
        }
        let message = truncate(message, MAX_LINE_BYTES);
        match level {
            Level::Trace => {
                tracing::trace!(target: "karman::guest", component, request_id, source, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "karman::guest", component, request_id, source, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "karman::guest", component, request_id, source, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "karman::guest", component, request_id, source, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "karman::guest", component, request_id, source, "{message}")
            }
        }
    }
}

fn truncate(message: &str, max: usize) -> &str {
    if message.len() <= max {
        return message;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The id of the request an instance is serving, which its log lines carry. A warm (reused)
/// instance serves one request after another, so the id is replaceable.
#[derive(Clone)]
pub(crate) struct CurrentRequest(Arc<Mutex<Arc<str>>>);

impl CurrentRequest {
    pub(crate) fn new(id: Arc<str>) -> Self {
        Self(Arc::new(Mutex::new(id)))
    }

    pub(crate) fn set(&self, id: Arc<str>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    pub(crate) fn get(&self) -> Arc<str> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The `log` capability of an instance.
pub(crate) struct LogCtx {
    pub(crate) log: Arc<ComponentLog>,
    pub(crate) request: CurrentRequest,
}

impl Host for LogCtx {
    fn log(&mut self, level: Level, message: String) {
        self.log.write(&self.request.get(), level, "log", &message);
    }
}

/// `wasi:logging`: the same log, grant and rate limit; `critical` is logged as an error, and a
/// non-empty `context` leads the message (`context: message`).
impl logging::Host for LogCtx {
    fn log(&mut self, level: logging::Level, context: String, message: String) {
        let level = match level {
            logging::Level::Trace => Level::Trace,
            logging::Level::Debug => Level::Debug,
            logging::Level::Info => Level::Info,
            logging::Level::Warn => Level::Warn,
            logging::Level::Error | logging::Level::Critical => Level::Error,
        };
        let line = if context.is_empty() {
            message
        } else {
            format!("{context}: {message}")
        };
        self.log
            .write(&self.request.get(), level, "wasi:logging", &line);
    }
}

/// A guest's stdout or stderr: complete lines go to the host log.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    log: Arc<ComponentLog>,
    request: CurrentRequest,
    source: &'static str,
    level: Level,
}

impl GuestOutput {
    pub(crate) fn stdout(log: Arc<ComponentLog>, request: CurrentRequest) -> Self {
        Self {
            log,
            request,
            source: "stdout",
            level: Level::Info,
        }
    }

    pub(crate) fn stderr(log: Arc<ComponentLog>, request: CurrentRequest) -> Self {
        Self {
            log,
            request,
            source: "stderr",
            level: Level::Warn,
        }
    }

    fn writer(&self) -> LineWriter {
        LineWriter {
            output: self.clone(),
            pending: Vec::new(),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.writer())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.writer())
    }
}

/// Buffers output until a newline (or [`MAX_LINE_BYTES`]) and logs each line.
struct LineWriter {
    output: GuestOutput,
    pending: Vec<u8>,
}

impl LineWriter {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(newline) => {
                    self.pending.extend_from_slice(&bytes[..newline]);
                    self.emit();
                    bytes = &bytes[newline + 1..];
                }
                None => {
                    self.pending.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
            if self.pending.len() >= MAX_LINE_BYTES {
                self.emit();
            }
        }
    }

    fn emit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.pending);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let output = &self.output;
        output
            .log
            .write(&output.request.get(), output.level, output.source, line);
        self.pending.clear();
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().emit();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_drops_lines_past_the_burst_and_counts_them() {
        let log = ComponentLog::new("noisy".into(), true);
        let admitted = (0..1000).filter(|_| log.admit().is_some()).count();
        // The burst, plus what refilled while the loop ran (well under a line per loop).
        assert!((200..260).contains(&admitted), "admitted {admitted}");
        let dropped = log.dropped.load(Ordering::Relaxed);
        assert_eq!(dropped as usize, 1000 - admitted);
    }

    #[test]
    fn truncates_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }
}
