//! Schedules: each runs its steps on a timer (`every`, or a cron expression in UTC), with
//! `req.method()` = `SCHED` and `req.url()` = the schedule's name. A run still going when the
//! next is due makes that one skip (logged and counted), so runs never overlap.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use karman_directive::{Schedule, Trigger};
use karman_runtime::{Request, Runtime};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Counts of one schedule's runs since the server started (its metrics, see
/// [`StreamMetrics`](crate::StreamMetrics)).
#[derive(Debug, Clone)]
pub struct ScheduleStats {
    pub(crate) started: Counter,
    pub(crate) skipped: Counter,
    pub(crate) failed: Counter,
}

impl ScheduleStats {
    /// Runs started.
    pub fn started(&self) -> u64 {
        self.started.get()
    }

    /// Runs skipped because the previous one was still going.
    pub fn skipped(&self) -> u64 {
        self.skipped.get()
    }

    /// Runs that failed.
    pub fn failed(&self) -> u64 {
        self.failed.get()
    }
}

/// Runs `schedule` (at `index` in the app) until `shutdown`, then waits for a run in flight.
pub(crate) async fn run(
    runtime: Arc<Runtime>,
    index: usize,
    schedule: Schedule,
    stats: ScheduleStats,
    mut shutdown: watch::Receiver<bool>,
) {
    let cron = match &schedule.trigger {
        Trigger::Cron(expression) => match cron::Schedule::from_str(expression) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                // The Directive validated it; this cannot happen.
                tracing::error!(schedule = %schedule.name, %error, "invalid cron expression");
                return;
            }
        },
        Trigger::Every(_) => None,
    };
    let mut interval = match schedule.trigger {
        Trigger::Every(every) => {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            Some(interval)
        }
        Trigger::Cron(_) => None,
    };
    let running = Arc::new(AtomicBool::new(false));
    let mut runs = JoinSet::new();
    loop {
        let due = async {
            match (&mut interval, &cron) {
                (Some(interval), _) => {
                    interval.tick().await;
                }
                (None, Some(cron)) => {
                    let wait = cron
                        .upcoming(chrono::Utc)
                        .next()
                        .and_then(|at| (at - chrono::Utc::now()).to_std().ok())
                        .unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
                (None, None) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            () = due => {}
        }
        while runs.try_join_next().is_some() {}
        if running.swap(true, Ordering::AcqRel) {
            stats.skipped.inc();
            tracing::warn!(schedule = %schedule.name, "skipped: the previous run is still going");
            continue;
        }
        stats.started.inc();
        let (runtime, running, stats, name) = (
            runtime.clone(),
            running.clone(),
            stats.clone(),
            schedule.name.clone(),
        );
        runs.spawn(async move {
            let request = Request::scheduled(name.clone());
            let id = request.id.clone();
            if let Err(failure) = runtime.run_schedule(index, request).await {
                stats.failed.inc();
                tracing::warn!(schedule = %name, request_id = %id, status = failure.status, "scheduled run failed: {}", failure.message);
            }
            running.store(false, Ordering::Release);
        });
    }
    while runs.join_next().await.is_some() {}
}
