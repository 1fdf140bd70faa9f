//! The loop every polled source shares: take a message only when one of the handler's slots is
//! free (`maxInFlight`), run it, and on shutdown stop taking messages and wait for those in
//! flight.
//!
//! The runs go to a few long-lived *lanes*, one per worker thread of the runtime (at most
//! `maxInFlight`), in turn: each lane is a task that runs many messages at once and polls those
//! that are ready one after the other. Compared with a task per message, nothing is spawned per
//! message and no worker is woken to steal it, and the results a lane's runs publish in one
//! pass reach the broker's connection together, in one write. The lanes still spread the runs
//! over every core.
//!
//! A source can ask for a task per message instead ([`Spread::TaskPerMessage`]): JetStream's
//! pull consumer does (see there).
//!
//! A run that panics is caught and logged; its slot is freed and its lane goes on. When the
//! loop itself is dropped (the source's task aborted, as a crash would), its runs are
//! abandoned: each lane stops at its next poll, so nothing more is acknowledged or published.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_util::task::TaskTracker;

/// How a loop spreads its runs over the runtime's worker threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spread {
    /// A few long-lived lanes, one per worker thread (see the module doc).
    Lanes,
    /// A task per message. JetStream's pull consumer keeps this: with lanes, async-nats 0.51's
    /// pull stream stopped asking for messages in 4 of 16 runs of the stream bench (0 of 9
    /// with a task per message), until its pull request expired.
    TaskPerMessage,
}

/// One message's run, holding its slot until it ends or is dropped.
///
/// The work is boxed once, where the handler makes it: a run's future holds the whole
/// sequence (kilobytes), and every move of it by value, into a wrapper, a channel or a task,
/// would copy all of it.
struct Run {
    work: Pin<Box<dyn Future<Output = ()> + Send>>,
    _slot: OwnedSemaphorePermit,
}

impl Future for Run {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        self.work.as_mut().poll(cx)
    }
}

/// Runs `handle` for each item of `messages`, each holding one of `slots`, until the stream
/// ends or `shutdown` turns true; then waits for the runs in flight.
pub(crate) async fn consume<S, M, F, Fut>(
    mut messages: S,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    spread: Spread,
    handle: F,
) where
    S: Stream<Item = M> + Unpin,
    F: Fn(M) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let lanes = match spread {
        Spread::Lanes => lane_count(slots.available_permits()),
        Spread::TaskPerMessage => 0,
    };
    let mut lanes = Lanes::start(lanes);
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
        lanes.send(Run {
            work: Box::pin(handle(message)),
            _slot: slot,
        });
    }
    drop(messages);
    lanes.finish().await;
}

/// How many lanes: one per worker thread of the runtime, at most `max_in_flight`.
fn lane_count(max_in_flight: usize) -> usize {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    workers.min(max_in_flight).max(1)
}

/// The lanes of one loop, fed in turn; with none, a task per run.
struct Lanes {
    senders: Vec<mpsc::UnboundedSender<Run>>,
    next: usize,
    tasks: TaskTracker,
    /// Stops the lanes when the loop is dropped before it finished.
    abandoned: Abandon,
}

impl Lanes {
    fn start(count: usize) -> Self {
        let tasks = TaskTracker::new();
        let abandoned = Abandon::default();
        let senders = (0..count)
            .map(|_| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tasks.spawn(lane(receiver, abandoned.0.clone()));
                sender
            })
            .collect();
        Self {
            senders,
            next: 0,
            tasks,
            abandoned,
        }
    }

    /// Hands `run` to the next lane, or to a task of its own when there are no lanes.
    fn send(&mut self, mut run: Run) {
        if self.senders.is_empty() {
            let abandoned = self.abandoned.0.clone();
            self.tasks.spawn(async move {
                std::future::poll_fn(|cx| {
                    if abandoned.load(Ordering::Acquire) {
                        return Poll::Ready(());
                    }
                    Pin::new(&mut run).poll(cx)
                })
                .await;
            });
            return;
        }
        let lane = &self.senders[self.next];
        self.next = (self.next + 1) % self.senders.len();
        // A lane ends only when its sender is dropped or the loop is abandoned: never here.
        let _ = lane.send(run);
    }

    /// Waits for every run handed out so far.
    async fn finish(mut self) {
        self.senders.clear();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// One lane: runs what it is sent, many at once, until its sender is dropped and its runs
/// have finished, or the loop is abandoned.
async fn lane(mut incoming: mpsc::UnboundedReceiver<Run>, abandoned: Arc<AtomicBool>) {
    let mut running = FuturesUnordered::new();
    let mut open = true;
    std::future::poll_fn(|cx| {
        if abandoned.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        while open {
            match incoming.poll_recv(cx) {
                Poll::Ready(Some(run)) => running.push(AssertUnwindSafe(run).catch_unwind()),
                Poll::Ready(None) => open = false,
                Poll::Pending => break,
            }
        }
        while let Poll::Ready(Some(ran)) = running.poll_next_unpin(cx) {
            if ran.is_err() {
                tracing::error!("a stream handler's run panicked; its message was not finished");
            }
        }
        if !open && running.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// Set when the loop is dropped: its lanes stop at their next poll, abandoning their runs.
#[derive(Default)]
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    /// The messages 0..count, then the end of the stream.
    fn messages(count: usize) -> impl Stream<Item = usize> + Unpin {
        futures_util::stream::iter(0..count)
    }

    const SPREADS: [Spread; 2] = [Spread::Lanes, Spread::TaskPerMessage];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_message_runs_at_most_max_in_flight_at_once_and_the_end_waits_for_them() {
        for spread in SPREADS {
            all_run_within_the_slots(spread).await;
        }
    }

    async fn all_run_within_the_slots(spread: Spread) {
        let (running, most, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (_stop, shutdown) = watch::channel(false);
        let (r, m, d) = (running.clone(), most.clone(), done.clone());
        consume(
            messages(200),
            Arc::new(Semaphore::new(8)),
            shutdown,
            spread,
            move |_| {
                let (running, most, done) = (r.clone(), m.clone(), d.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .await;
        assert_eq!(
            done.load(Ordering::SeqCst),
            200,
            "{spread:?}: every run finished first"
        );
        let most = most.load(Ordering::SeqCst);
        assert!(
            (2..=8).contains(&most),
            "{spread:?}: {most} ran at once (maxInFlight 8)"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_that_panics_frees_its_slot_and_the_others_go_on() {
        for spread in SPREADS {
            panic_frees_its_slot(spread).await;
        }
    }

    async fn panic_frees_its_slot(spread: Spread) {
        let done = Arc::new(AtomicUsize::new(0));
        let (_stop, shutdown) = watch::channel(false);
        let counted = done.clone();
        // One slot: the messages after the panic run only if its slot was given back.
        consume(
            messages(10),
            Arc::new(Semaphore::new(1)),
            shutdown,
            spread,
            move |n| {
                let done = counted.clone();
                async move {
                    assert_ne!(n, 3, "message 3 panics");
                    done.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .await;
        assert_eq!(done.load(Ordering::SeqCst), 9, "{spread:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_stops_taking_messages_and_waits_for_those_in_flight() {
        for spread in SPREADS {
            shutdown_waits(spread).await;
        }
    }

    /// A loop over an endless stream whose runs wait for `release`, once 4 (its slots) started.
    struct Blocked {
        consuming: tokio::task::JoinHandle<()>,
        stop: watch::Sender<bool>,
        started: Arc<AtomicUsize>,
        finished: Arc<AtomicUsize>,
        release: Arc<Notify>,
    }

    async fn four_blocked_runs(spread: Spread) -> Blocked {
        let (stop, shutdown) = watch::channel(false);
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let release = Arc::new(Notify::new());
        let (s, f, r) = (started.clone(), finished.clone(), release.clone());
        let consuming = tokio::spawn(consume(
            futures_util::stream::iter(0..),
            Arc::new(Semaphore::new(4)),
            shutdown,
            spread,
            move |_| {
                let (started, finished, release) = (s.clone(), f.clone(), r.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    finished.fetch_add(1, Ordering::SeqCst);
                }
            },
        ));
        while started.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        Blocked {
            consuming,
            stop,
            started,
            finished,
            release,
        }
    }

    async fn shutdown_waits(spread: Spread) {
        let blocked = four_blocked_runs(spread).await;
        blocked.stop.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !blocked.consuming.is_finished(),
            "it waits for the 4 runs in flight"
        );
        blocked.release.notify_waiters();
        blocked.consuming.await.unwrap();
        assert_eq!(
            blocked.started.load(Ordering::SeqCst),
            4,
            "{spread:?}: none taken after shutdown"
        );
        assert_eq!(blocked.finished.load(Ordering::SeqCst), 4, "{spread:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_loop_abandons_its_runs_at_their_next_poll() {
        for spread in SPREADS {
            dropping_abandons(spread).await;
        }
    }

    async fn dropping_abandons(spread: Spread) {
        let blocked = four_blocked_runs(spread).await;
        blocked.consuming.abort();
        assert!(blocked.consuming.await.unwrap_err().is_cancelled());
        blocked.release.notify_waiters();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            blocked.finished.load(Ordering::SeqCst),
            0,
            "{spread:?}: no run went on"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn one_lane_per_worker_thread_at_most_max_in_flight() {
        assert_eq!(lane_count(64), 3);
        assert_eq!(lane_count(2), 2);
        assert_eq!(lane_count(0), 1);
    }
}
