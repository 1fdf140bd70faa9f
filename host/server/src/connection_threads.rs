//! The threads that serve HTTP connections: one per core, each with a single-threaded async
//! runtime of its own. A connection is handed to one of them when it is accepted and stays
//! there for its whole life: its socket's wake-ups, its requests, and the instances they run
//! stay on one thread, instead of moving between the worker threads of a shared work-stealing
//! runtime with every wake-up (see bench/README.md, "One thread per connection's life").
//!
//! Everything else (accepting, the admin listener, streams, schedules, backends) stays on the
//! main runtime. A long-running guest still yields its thread at every epoch tick, so the other
//! connections of its thread are served meanwhile.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Threads serving connections; stopped (their connections dropped) when this is dropped.
pub(crate) struct ConnectionThreads {
    threads: Vec<ConnectionThread>,
    next: usize,
}

struct ConnectionThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ConnectionThreads {
    /// Starts `count` threads (at least one).
    pub(crate) fn start(count: usize) -> std::io::Result<Self> {
        let threads = (0..count.max(1))
            .map(|index| {
                let runtime = Builder::new_current_thread().enable_all().build()?;
                let handle = runtime.handle().clone();
                let (stop, stopped) = oneshot::channel::<()>();
                let thread = std::thread::Builder::new()
                    .name(format!("karman-http-{index}"))
                    .spawn(move || {
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                        // Drops the connections still open without waiting for blocking work
                        // (a static file being read) they started.
                        runtime.shutdown_background();
                    })?;
                Ok(ConnectionThread {
                    handle,
                    stop: Some(stop),
                    thread: Some(thread),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { threads, next: 0 })
    }

    /// One thread per core (as the main runtime has workers).
    pub(crate) fn per_core() -> std::io::Result<Self> {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs `connection` on the next thread, in turn.
    pub(crate) fn spawn<F>(&mut self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let thread = &self.threads[self.next];
        self.next = (self.next + 1) % self.threads.len();
        drop(thread.handle.spawn(connection));
    }
}

impl Drop for ConnectionThreads {
    fn drop(&mut self) {
        for thread in &mut self.threads {
            drop(thread.stop.take());
        }
        for thread in &mut self.threads {
            if let Some(thread) = thread.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn connections_go_to_the_threads_in_turn_and_stay_there() {
        let mut threads = ConnectionThreads::start(2).unwrap();
        let (sender, mut names) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..4 {
            let sender = sender.clone();
            threads.spawn(async move {
                let first = std::thread::current().name().map(str::to_string);
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let after = std::thread::current().name().map(str::to_string);
                let _ = sender.send((first, after));
            });
        }
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (first, after) = names.recv().await.unwrap();
            assert_eq!(first, after, "a connection moved between threads");
            seen.push(first.unwrap());
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "karman-http-0",
                "karman-http-0",
                "karman-http-1",
                "karman-http-1"
            ]
        );
    }

    #[tokio::test]
    async fn dropping_the_threads_drops_their_connections() {
        struct Open(Arc<AtomicUsize>);
        impl Drop for Open {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let open = Arc::new(AtomicUsize::new(0));
        let mut threads = ConnectionThreads::start(2).unwrap();
        let (started, mut running) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..3 {
            open.fetch_add(1, Ordering::SeqCst);
            let (open, started) = (Open(open.clone()), started.clone());
            threads.spawn(async move {
                let _open = open;
                let _ = started.send(());
                std::future::pending::<()>().await;
            });
        }
        for _ in 0..3 {
            running.recv().await.unwrap();
        }
        assert_eq!(open.load(Ordering::SeqCst), 3);
        drop(threads);
        assert_eq!(open.load(Ordering::SeqCst), 0);
    }
}
