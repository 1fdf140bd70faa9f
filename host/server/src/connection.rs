//! One connection's activity, for its two slow-client timeouts, kept by the connection's own
//! task instead of a timer per request:
//!
//! - **idle**: a connection with no request in flight for the idle timeout is closed, whatever
//!   its protocol or state (a client that sends nothing, an HTTP/2 connection kept open, a
//!   keep-alive HTTP/1 connection between requests). A request is in flight from its head until
//!   its response body is dropped, so a streaming response is never idle.
//! - **head**: a request head (HTTP/1, and the first request of an HTTP/2 connection) must
//!   arrive whole within the header-read timeout of its first byte ([`Watched`] notes when that
//!   byte came), else the connection is closed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::connection_threads::note_traffic;

/// The activity of one connection.
#[derive(Clone)]
pub(crate) struct Activity(Arc<Mutex<State>>);

struct State {
    in_flight: usize,
    last_ended: Instant,
    /// When the first byte of a request head arrived, until that request starts.
    head_started: Option<Instant>,
    /// An HTTP/2 connection past its first request: its frames (pings, window updates,
    /// settings) flow between requests, so only the idle timeout applies.
    multiplexed: bool,
}

/// Why a connection is closed by its activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// No request in flight for the idle timeout.
    Idle,
    /// A request head not whole within the header-read timeout of its first byte.
    HeadTooSlow,
}

/// A request in flight: ends when dropped.
pub(crate) struct InFlight(Activity);

impl Activity {
    /// A connection just accepted: nothing in flight, idle from now.
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(State {
            in_flight: 0,
            last_ended: Instant::now(),
            head_started: None,
            multiplexed: false,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request started (its head is whole); `http2` when it came on an HTTP/2 connection.
    pub(crate) fn start(&self, http2: bool) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        state.multiplexed |= http2;
        drop(state);
        InFlight(self.clone())
    }

    /// Bytes came from the client: with no request in flight, the first of them start a head.
    pub(crate) fn bytes_arrived(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() && !state.multiplexed {
            state.head_started = Some(Instant::now());
        }
    }

    /// Resolves when the connection should be closed: after `idle` with no request in flight,
    /// or `head` after the first byte of a request head that is still not whole.
    pub(crate) async fn closing(&self, head: Duration, idle: Duration) -> Closing {
        loop {
            let next_check = {
                let state = self.state();
                let now = Instant::now();
                // No head can be due before a head starts: look again then at the latest.
                let mut next = now + head.min(idle);
                if state.in_flight == 0 {
                    if now >= state.last_ended + idle {
                        return Closing::Idle;
                    }
                    next = next.min(state.last_ended + idle);
                    if let Some(started) = state.head_started {
                        if now >= started + head {
                            return Closing::HeadTooSlow;
                        }
                        next = next.min(started + head);
                    }
                }
                next
            };
            tokio::time::sleep_until(next_check).await;
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

/// A connection's stream, telling its [`Activity`] when bytes arrive.
pub(crate) struct Watched<S> {
    stream: S,
    activity: Activity,
}

impl<S> Watched<S> {
    /// `stream`, watched for `activity`.
    pub(crate) fn new(stream: S, activity: Activity) -> Self {
        Self { stream, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
            note_traffic();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        written(Pin::new(&mut self.stream).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        written(Pin::new(&mut self.stream).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// `polled`, a write, noted as traffic when it wrote bytes.
fn written(polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
        note_traffic();
    }
    polled
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

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(60);

    /// How long `closing` takes (in paused time), and why.
    async fn closes_after(activity: &Activity) -> (Duration, Closing) {
        let started = Instant::now();
        let closing = activity.closing(HEAD, IDLE).await;
        (started.elapsed(), closing)
    }

    #[tokio::test(start_paused = true)]
    async fn a_keep_alive_connection_between_requests_stays_for_the_idle_timeout() {
        let activity = Activity::new();
        drop(activity.start(false));
        assert_eq!(closes_after(&activity).await, (IDLE, Closing::Idle));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_not_whole_in_time_is_cut_off_from_its_first_byte() {
        let activity = Activity::new();
        drop(activity.start(false));
        // The next head's first byte comes 50 s later, then nothing: that head would be due at
        // 80 s, but the idle timeout (60 s after the last request ended) comes first.
        let watched = activity.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(50)).await;
            watched.bytes_arrived();
            tokio::time::sleep(Duration::from_secs(1)).await;
            watched.bytes_arrived();
        });
        assert_eq!(
            closes_after(&activity).await,
            (IDLE, Closing::Idle),
            "the idle timeout comes first"
        );

        let activity = Activity::new();
        let watched = activity.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            watched.bytes_arrived();
        });
        assert_eq!(
            closes_after(&activity).await,
            (Duration::from_secs(40), Closing::HeadTooSlow)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_the_connection_open() {
        let activity = Activity::new();
        let in_flight = activity.start(false);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(500)).await;
            drop(in_flight);
        });
        // Bytes while it runs (a body, a pipelined head) start no head.
        activity.bytes_arrived();
        assert_eq!(
            closes_after(&activity).await,
            (Duration::from_secs(560), Closing::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn http2_frames_between_requests_start_no_head() {
        let activity = Activity::new();
        activity.bytes_arrived();
        drop(activity.start(true));
        tokio::time::sleep(Duration::from_secs(5)).await;
        activity.bytes_arrived(); // a ping
        assert_eq!(
            closes_after(&activity).await,
            (Duration::from_secs(55), Closing::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_after_a_long_request_is_timed_from_its_first_byte() {
        let activity = Activity::new();
        let in_flight = activity.start(false);
        let watched = activity.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(100)).await;
            drop(in_flight);
            tokio::time::sleep(Duration::from_secs(5)).await;
            watched.bytes_arrived();
        });
        // The last look before the end was at 90 s (every 30 s while in flight); the head came
        // at 105 s: due at 135 s.
        assert_eq!(
            closes_after(&activity).await,
            (Duration::from_secs(135), Closing::HeadTooSlow)
        );
    }
}
