//! The task a `wasi:http` guest runs in, stopped when nobody waits for it any more: while the
//! response head is awaited, dropping the [`GuestTask`] (the client went away) aborts it; once
//! the head is sent, the body it streams ([`GuardedBody`]) aborts it when dropped before its
//! end. Aborting drops the instance (and rolls back what it held, e.g. an SQL transaction), so
//! an abandoned request frees its pool slot at once instead of at its timeout.

use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::task::{AbortHandle, JoinHandle};

/// A spawned guest, aborted on drop unless its abort was handed to a [`GuardedBody`].
pub(crate) struct GuestTask<T> {
    pub(crate) handle: JoinHandle<T>,
    abort: Option<AbortHandle>,
}

impl<T> GuestTask<T> {
    pub(crate) fn new(handle: JoinHandle<T>) -> Self {
        let abort = Some(handle.abort_handle());
        Self { handle, abort }
    }

    /// Hands the abort to the response body: the guest now lives as long as its body is read.
    pub(crate) fn guard_body<B>(&mut self, body: B) -> GuardedBody<B> {
        GuardedBody {
            inner: body,
            abort: self.abort.take(),
            ended: Cell::new(false),
        }
    }
}

impl<T> Drop for GuestTask<T> {
    fn drop(&mut self) {
        if let Some(abort) = self.abort.take() {
            abort.abort();
        }
    }
}

/// A response body that aborts its guest when dropped before its end.
pub(crate) struct GuardedBody<B> {
    inner: B,
    abort: Option<AbortHandle>,
    /// Whether the body was read to its end: the guest may then finish what it does after
    /// responding.
    ended: Cell<bool>,
}

impl<B> Drop for GuardedBody<B> {
    fn drop(&mut self) {
        if let Some(abort) = self.abort.take()
            && !self.ended.get()
        {
            abort.abort();
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for GuardedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.ended.set(true);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let ended = self.inner.is_end_stream();
        if ended {
            self.ended.set(true);
        }
        ended
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
