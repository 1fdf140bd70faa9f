//! The threads that serve HTTP connections: one per core by default, each with a
//! single-threaded async runtime of its own. A connection is handed to one of them when it is
//! accepted (that of the CPU its packets came in on, while the threads' shares stay even: see
//! [`ConnectionThreads::spawn`]) and stays there for its whole life: its socket's wake-ups, its
//! requests, and the instances they run stay on one thread, instead of moving between the
//! worker threads of a shared work-stealing runtime with every wake-up (see bench/README.md,
//! "One thread per connection's life").
//!
//! Everything else (accepting, the admin listener, streams, schedules, backends) stays on the
//! main runtime. A long-running guest still yields its thread at every epoch tick, so the other
//! connections of its thread are served meanwhile.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Threads serving connections; stopped (their connections dropped) when this is dropped.
pub(crate) struct ConnectionThreads {
    threads: Vec<ConnectionThread>,
}

struct ConnectionThread {
    handle: Handle,
    /// Connections it serves now.
    open: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// One connection counted as open on its thread until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionThreads {
    /// Starts `count` threads, or one per core (as many as the CPUs this process may use)
    /// when `count` is 0.
    pub(crate) fn start(count: usize) -> std::io::Result<Self> {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            count => count,
        };
        let threads = (0..count)
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
                    open: Arc::new(AtomicUsize::new(0)),
                    stop: Some(stop),
                    thread: Some(thread),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { threads })
    }

    /// Serves `connection` on the thread of `cpu` (the CPU its packets came in on, modulo the
    /// threads) unless that thread has more than [`NEAR_SLACK`] connections open beyond the
    /// fewest any thread has; else, or with no `cpu`, on the thread with the fewest open (the
    /// first of them on a tie).
    ///
    /// Two threads exchanging messages wake each other fastest on one core: a client thread
    /// whose connections are all served by one thread of ours, the two ending up on the same
    /// core, wakes no other core (on the loopback, `SO_INCOMING_CPU` is the CPU of the client's
    /// thread). The slack keeps the threads' shares of connections even when the clients'
    /// CPUs are not.
    pub(crate) fn spawn<F>(&self, cpu: Option<usize>, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let open = |thread: &ConnectionThread| thread.open.load(Ordering::Relaxed);
        let fewest = self
            .threads
            .iter()
            .min_by_key(|thread| open(thread))
            .expect("at least one thread");
        let thread = match cpu.map(|cpu| &self.threads[cpu % self.threads.len()]) {
            Some(near) if open(near) <= open(fewest) + NEAR_SLACK => near,
            _ => fewest,
        };
        thread.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(thread.open.clone());
        drop(thread.handle.spawn(async move {
            let _open = open;
            connection.await;
        }));
    }
}

/// How many more connections than the least busy thread a connection's own thread may have
/// and still be given it.
const NEAR_SLACK: usize = 1;

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
    use std::time::Duration;

    use tokio::sync::{mpsc, watch};

    use super::*;

    /// The name of the thread a task runs on.
    fn thread_name() -> String {
        std::thread::current()
            .name()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until `thread` serves `count` connections.
    async fn open_on(threads: &ConnectionThreads, thread: usize, count: usize) {
        for _ in 0..1000 {
            if threads.threads[thread].open.load(Ordering::Relaxed) == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("thread {thread} never had {count} connections open");
    }

    #[tokio::test]
    async fn connections_are_shared_out_and_stay_on_their_thread() {
        let threads = ConnectionThreads::start(2).unwrap();
        let (go, ready) = watch::channel(false);
        let (sender, mut names) = mpsc::unbounded_channel();
        for _ in 0..4 {
            let (sender, mut ready) = (sender.clone(), ready.clone());
            threads.spawn(None, async move {
                let _ = ready.wait_for(|go| *go).await;
                let first = thread_name();
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
                let _ = sender.send((first, thread_name()));
            });
        }
        go.send(true).unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (first, after) = names.recv().await.unwrap();
            assert_eq!(first, after, "a connection moved between threads");
            seen.push(first);
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
    async fn a_new_connection_goes_to_the_thread_with_the_fewest_open() {
        let threads = ConnectionThreads::start(2).unwrap();
        let (sender, mut names) = mpsc::unbounded_channel();
        // Placed as they come: the first on thread 0, the second on 1, the third on 0 (a tie).
        let mut ends = Vec::new();
        for _ in 0..3 {
            let (end, ended) = oneshot::channel::<()>();
            let sender = sender.clone();
            threads.spawn(None, async move {
                let _ = sender.send(thread_name());
                let _ = ended.await;
            });
            ends.push(end);
        }
        let mut placed = Vec::new();
        for _ in 0..3 {
            placed.push(names.recv().await.unwrap());
        }
        placed.sort();
        assert_eq!(placed, ["karman-http-0", "karman-http-0", "karman-http-1"]);
        // Thread 0's two connections end: the next one goes there, not to thread 1.
        drop(ends.remove(2));
        drop(ends.remove(0));
        open_on(&threads, 0, 0).await;
        threads.spawn(None, async move {
            let _ = sender.send(thread_name());
        });
        assert_eq!(names.recv().await.unwrap(), "karman-http-0");
        assert_eq!(threads.threads[1].open.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_connection_goes_to_the_thread_of_its_cpu_while_the_shares_stay_even() {
        let threads = ConnectionThreads::start(2).unwrap();
        let (sender, mut names) = mpsc::unbounded_channel();
        let (_end, ended) = watch::channel(());
        // Every connection from CPU 3 (thread 1): thread 1 takes them while it has at most
        // one more open than thread 0, then they alternate.
        for _ in 0..5 {
            let (sender, mut ended) = (sender.clone(), ended.clone());
            threads.spawn(Some(3), async move {
                let _ = sender.send(thread_name());
                let _ = ended.changed().await;
            });
        }
        let mut placed = Vec::new();
        for _ in 0..5 {
            placed.push(names.recv().await.unwrap());
        }
        placed.sort();
        assert_eq!(
            placed,
            [
                "karman-http-0",
                "karman-http-0",
                "karman-http-1",
                "karman-http-1",
                "karman-http-1"
            ]
        );
        assert_eq!(threads.threads[0].open.load(Ordering::Relaxed), 2);
        assert_eq!(threads.threads[1].open.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn no_count_means_one_thread_per_core() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(ConnectionThreads::start(0).unwrap().threads.len(), cores);
        assert_eq!(ConnectionThreads::start(3).unwrap().threads.len(), 3);
    }

    #[tokio::test]
    async fn dropping_the_threads_drops_their_connections() {
        let open = Arc::new(AtomicUsize::new(0));
        let threads = ConnectionThreads::start(2).unwrap();
        let (started, mut running) = mpsc::unbounded_channel();
        for _ in 0..3 {
            open.fetch_add(1, Ordering::SeqCst);
            let (open, started) = (Open(open.clone()), started.clone());
            threads.spawn(None, async move {
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
