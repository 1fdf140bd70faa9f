//! The warm instances of a component that opts into `reuse:`.
//!
//! A warm instance keeps its linear memory between the steps it runs (so only components
//! written for it opt in); between two steps it holds no request data, and it is dropped —
//! never reused — after a trap, a timeout, its `maxUses`-th run, or `idleTimeout` without use
//! (a sweeper task drops idle ones, so an idle warm instance does not keep its pool slot from
//! other components).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use karman_directive::Reuse;
use prometheus_client::metrics::gauge::Gauge;
use wasmtime::Store;

use crate::bindings::Runnable;
use crate::capabilities::request::RequestCtx;
use crate::store::StepState;

/// The warm instances of a component that opted into reuse.
pub(crate) struct WarmPool {
    reuse: Reuse,
    idle: Mutex<Vec<Warm>>,
    /// `karman_instances_warm` of the component: how many are idle.
    gauge: Gauge,
    /// Whether a sweeper task is watching the idle instances.
    sweeping: AtomicBool,
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(|e| e.into_inner());
        self.gauge
            .dec_by(i64::try_from(idle.len()).unwrap_or(i64::MAX));
    }
}

/// An instance between two steps.
pub(crate) struct Warm {
    /// The instance's store.
    pub(crate) store: Store<StepState>,
    /// Its `run` export.
    pub(crate) runnable: Runnable,
    /// Steps it has run.
    pub(crate) uses: u32,
    idle_since: Instant,
}

impl WarmPool {
    pub(crate) fn new(reuse: Reuse, gauge: Gauge) -> Self {
        Self {
            reuse,
            idle: Mutex::new(Vec::new()),
            gauge,
            sweeping: AtomicBool::new(false),
        }
    }

    /// Takes the instances idle for `idleTimeout` or longer out of `idle` (oldest first), to be
    /// dropped once the lock is released.
    fn expired(&self, idle: &mut Vec<Warm>) -> Vec<Warm> {
        let now = Instant::now();
        let fresh_from = idle
            .iter()
            .position(|warm| now.duration_since(warm.idle_since) < self.reuse.idle_timeout)
            .unwrap_or(idle.len());
        self.gauge
            .dec_by(i64::try_from(fresh_from).unwrap_or(i64::MAX));
        idle.drain(..fresh_from).collect()
    }

    /// Drops the instances idle for `idleTimeout` or longer; returns how many stay.
    fn sweep(&self) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let expired = self.expired(&mut idle);
        let left = idle.len();
        drop(idle);
        drop(expired);
        left
    }

    /// Starts a task that sweeps the pool every `idleTimeout` while it holds instances.
    fn watch(self: &Arc<Self>) {
        // A load first: while a sweeper runs (nearly always, under load) a put writes nothing
        // to the line the other threads read.
        if self.sweeping.load(Ordering::Acquire) || self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = Arc::downgrade(self);
        let period = self.reuse.idle_timeout;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(pool) = pool.upgrade() else { return };
                if pool.sweep() == 0 {
                    pool.sweeping.store(false, Ordering::Release);
                    // An instance put back meanwhile started no sweeper of its own: look again.
                    if pool
                        .idle
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_empty()
                        || pool.sweeping.swap(true, Ordering::AcqRel)
                    {
                        return;
                    }
                }
            }
        });
    }

    /// The most recently used warm instance that has not idled out, if any.
    pub(crate) fn take(&self) -> Option<Warm> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let expired = self.expired(&mut idle);
        let warm = idle.pop();
        if warm.is_some() {
            self.gauge.dec();
        }
        drop(idle);
        drop(expired);
        warm
    }

    /// Keeps an instance that ended a step cleanly, unless it has run its last use or the pool
    /// is full.
    pub(crate) fn put(
        self: &Arc<Self>,
        mut store: Store<StepState>,
        runnable: Runnable,
        uses: u32,
    ) {
        if uses >= self.reuse.max_uses {
            return;
        }
        let data = store.data_mut();
        data.request = RequestCtx::idle();
        // A transaction the step left open must not be there for the next request to commit.
        data.sql.end_run(&mut data.table);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.reuse.pool_size as usize {
            idle.push(Warm {
                store,
                runnable,
                uses,
                idle_since: Instant::now(),
            });
            self.gauge.inc();
            drop(idle);
            self.watch();
        }
    }
}
