//! The threads that serve HTTP connections: one per core by default, each with a
//! single-threaded async runtime of its own. A connection is handed to one of them when it is
//! accepted (that of the CPU its packets came in on, while the threads' shares stay even: see
//! [`ConnectionThreads::spawn`]) and stays there for its whole life: its socket's wake-ups, its
//! requests, and the instances they run stay on one thread, instead of moving between the
//! worker threads of a shared work-stealing runtime with every wake-up (see bench/README.md,
//! "One thread per connection's life").
//!
//! A thread with few connections polls on for a moment after their last read or write before
//! it sleeps, so that a client sending its next request at once finds it awake (see [`spin`]).
//!
//! Everything else (accepting, the admin listener, streams, schedules, backends) stays on the
//! main runtime. A long-running guest still yields its thread at every epoch tick, so the other
//! connections of its thread are served meanwhile.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle};
use tokio::sync::{Notify, oneshot};

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
    /// when `count` is 0. A thread with few connections keeps polling for `spin` after its
    /// connections' last read or write before it sleeps (see [`spin`]); zero turns that off.
    pub(crate) fn start(count: usize, spin: Duration) -> std::io::Result<Self> {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            count => count,
        };
        let threads = (0..count)
            .map(|index| {
                let open = Arc::new(AtomicUsize::new(0));
                let woken = Arc::new(Notify::new());
                let mut runtime = Builder::new_current_thread();
                runtime.enable_all();
                if !spin.is_zero() {
                    let woken = woken.clone();
                    runtime.on_thread_unpark(move || woken.notify_one());
                }
                let runtime = runtime.build()?;
                let handle = runtime.handle().clone();
                let (stop, stopped) = oneshot::channel::<()>();
                let spinning = self::spin(spin, woken, open.clone());
                let thread = std::thread::Builder::new()
                    .name(format!("karman-http-{index}"))
                    .spawn(move || {
                        runtime.block_on(async {
                            tokio::select! {
                                _ = stopped => {}
                                () = spinning => {}
                            }
                        });
                        // Drops the connections still open without waiting for blocking work
                        // (a static file being read) they started.
                        runtime.shutdown_background();
                    })?;
                Ok(ConnectionThread {
                    handle,
                    open,
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

thread_local! {
    /// Reads and writes of the connections served on this thread, counted.
    static TRAFFIC: Cell<u64> = const { Cell::new(0) };
}

/// Notes that a connection served on this thread read or wrote bytes: the thread spins on
/// (see [`spin`]).
pub(crate) fn note_traffic() {
    TRAFFIC.with(|traffic| traffic.set(traffic.get().wrapping_add(1)));
}

/// Threads serving at most this many connections spin before they sleep.
const SPIN_MAX_OPEN: usize = 4;

/// Keeps its thread polling (for I/O, timers and tasks) instead of sleeping, until `window`
/// has passed without a connection of the thread reading or writing (see [`note_traffic`]),
/// from each time the thread wakes up, as long as it serves at most [`SPIN_MAX_OPEN`]
/// connections; never with a zero `window`.
///
/// A client that sends its next request as soon as it has the response then finds the thread
/// awake on its core: a sleeping thread has to be woken by the kernel, from the client's core
/// when the two are on different cores, at a cost of tens of microseconds each time (see
/// bench/README.md, "Spinning before sleeping"). The price is up to `window` of CPU per
/// wake-up; with more connections a thread rarely waits long between requests, and its cores
/// are better left to whatever else needs them.
async fn spin(window: Duration, woken: Arc<Notify>, open: Arc<AtomicUsize>) {
    if window.is_zero() {
        return std::future::pending().await;
    }
    let few = || open.load(Ordering::Relaxed) <= SPIN_MAX_OPEN;
    let traffic = || TRAFFIC.with(Cell::get);
    loop {
        woken.notified().await;
        let (mut seen, mut last) = (traffic(), Instant::now());
        while few() {
            // Deferred: the runtime polls its driver and runs what became ready first.
            tokio::task::yield_now().await;
            // A thread waiting for this core (the client's, when it runs on this machine)
            // gets it.
            std::thread::yield_now();
            let (now, count) = (Instant::now(), traffic());
            if count != seen {
                (seen, last) = (count, now);
            } else if now - last >= window {
                break;
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
        let threads = ConnectionThreads::start(2, Duration::ZERO).unwrap();
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
        let threads = ConnectionThreads::start(2, Duration::ZERO).unwrap();
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
        let threads = ConnectionThreads::start(2, Duration::ZERO).unwrap();
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
        let threads = |count| {
            let threads = ConnectionThreads::start(count, Duration::ZERO).unwrap();
            threads.threads.len()
        };
        assert_eq!(threads(0), cores);
        assert_eq!(threads(3), 3);
    }

    /// The CPU time (user and system, in clock ticks) the thread of `task`
    /// (`/proc/<pid>/task/<tid>`) has used.
    #[cfg(target_os = "linux")]
    fn cpu_ticks(task: &std::path::Path) -> u64 {
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// Serves one connection on `threads` that reads or writes once and ends; returns its
    /// thread's `/proc` directory.
    #[cfg(target_os = "linux")]
    async fn one_exchange(threads: &ConnectionThreads) -> std::path::PathBuf {
        let (sender, receiver) = oneshot::channel();
        threads.spawn(None, async move {
            note_traffic();
            let _ = sender.send(std::fs::read_link("/proc/thread-self").unwrap());
        });
        std::path::Path::new("/proc").join(receiver.await.unwrap())
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_thread_with_few_connections_polls_on_after_traffic_then_sleeps() {
        let threads = ConnectionThreads::start(1, Duration::from_millis(300)).unwrap();
        let task = one_exchange(&threads).await;
        let start = cpu_ticks(&task);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let spun = cpu_ticks(&task) - start;
        // About 30 ticks of 10 ms; less when the machine is busy (it yields its core).
        assert!(
            spun >= 3,
            "the thread polled for {spun} ticks after the traffic"
        );
        let start = cpu_ticks(&task);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            cpu_ticks(&task) - start <= 1,
            "the thread sleeps once the window passed"
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_thread_with_many_connections_sleeps_at_once() {
        let threads = ConnectionThreads::start(1, Duration::from_millis(300)).unwrap();
        let (_end, ended) = watch::channel(());
        for _ in 0..=SPIN_MAX_OPEN {
            let mut ended = ended.clone();
            threads.spawn(None, async move {
                let _ = ended.changed().await;
            });
        }
        open_on(&threads, 0, SPIN_MAX_OPEN + 1).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let task = one_exchange(&threads).await;
        let start = cpu_ticks(&task);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(cpu_ticks(&task) - start <= 1, "the thread slept");
    }

    #[tokio::test]
    async fn dropping_the_threads_drops_their_connections() {
        let open = Arc::new(AtomicUsize::new(0));
        let threads = ConnectionThreads::start(2, Duration::ZERO).unwrap();
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
