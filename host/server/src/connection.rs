//! One connection's activity, for its idle timeout: the requests in flight (each held until its
//! response body is dropped, so a streaming response is never idle) and when the last one
//! ended. A connection with nothing in flight for the idle timeout is closed, whatever its
//! protocol or state (a client that sends nothing, an HTTP/2 connection kept open, a
//! keep-alive HTTP/1 connection).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// The activity of one connection.
#[derive(Clone)]
pub(crate) struct Activity(Arc<Mutex<State>>);

struct State {
    in_flight: usize,
    last_ended: Instant,
}

/// A request in flight: ends when dropped.
pub(crate) struct InFlight(Activity);

impl Activity {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(State {
            in_flight: 0,
            last_ended: Instant::now(),
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request started.
    pub(crate) fn start(&self) -> InFlight {
        self.state().in_flight += 1;
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let deadline = {
                let state = self.state();
                if state.in_flight == 0 && state.last_ended.elapsed() >= timeout {
                    return;
                }
                if state.in_flight == 0 {
                    state.last_ended + timeout
                } else {
                    Instant::now() + timeout
                }
            };
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        state.last_ended = Instant::now();
    }
}

/// A response body that keeps its request in flight until it is dropped.
pub(crate) struct TrackedBody<B> {
    pub(crate) inner: B,
    pub(crate) _in_flight: InFlight,
}

impl<B: Body<Data = Bytes> + Unpin> Body for TrackedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
