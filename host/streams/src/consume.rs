//! The loop every polled source shares: take a message only when one of the handler's slots is
//! free (`maxInFlight`), run it in its own task, and on shutdown stop taking messages and wait
//! for those in flight.

use std::future::Future;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

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
    let mut running = JoinSet::new();
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
        running.spawn(async move {
            run.await;
            drop(slot);
        });
        while running.try_join_next().is_some() {}
    }
    drop(messages);
    while running.join_next().await.is_some() {}
}
