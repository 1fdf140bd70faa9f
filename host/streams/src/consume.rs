//! The loop every polled source shares: take a message only when one of the handler's slots is
//! free (`maxInFlight`), run it in its own task, and on shutdown stop taking messages and wait
//! for those in flight. The tasks are detached and only counted (no join handle per message
//! to reap): a run that panics ends its task and frees its slot all the same. When the loop
//! itself is dropped (the source's task aborted, as a crash would), its runs are abandoned:
//! each stops at its next poll, so nothing more is acknowledged or published.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use futures_util::{Stream, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio_util::task::TaskTracker;

/// Runs `handle` for each item of `messages`, each holding one of `slots`, until the stream
/// ends or `shutdown` turns true; then waits for the runs in flight.
pub(crate) async fn consume<S, M, F, Fut>(
    mut messages: S,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    handle: F,
) where
    S: Stream<Item = M> + Unpin,
    F: Fn(M) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let running = TaskTracker::new();
    let abandoned = Abandon::default();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let slot = tokio::select! {
            _ = shutdown.changed() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let message = tokio::select! {
            _ = shutdown.changed() => break,
            message = messages.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let run = handle(message);
        let abandoned = abandoned.0.clone();
        running.spawn(async move {
            let _slot = slot;
            let mut run = pin!(run);
            std::future::poll_fn(|cx| {
                if abandoned.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                run.as_mut().poll(cx)
            })
            .await;
        });
    }
    drop(messages);
    running.close();
    running.wait().await;
}

/// Set when the loop is dropped: its runs still in flight stop at their next poll.
#[derive(Default)]
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}
