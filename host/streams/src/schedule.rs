//! Schedules: each runs its steps on a timer (`every`, or a cron expression in UTC), with
//! `req.method()` = `SCHED` and `req.url()` = the schedule's name. A run still going when the
//! next is due makes that one skip (logged and counted), so runs never overlap. Under a
//! [lease](crate::lease), the processes of a deployment share each tick: one runs it.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use karman_directive::{Schedule, Trigger};
use karman_runtime::{Request, Runtime};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::lease::{self, Claim, ScheduleLease};

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

/// When the ticks of a schedule come.
enum Timer {
    /// `every`, from start-up (a process on its own).
    Interval(tokio::time::Interval),
    /// `every`, at whole periods since the Unix epoch: the same instants in every process
    /// sharing the schedule under a lease.
    Aligned(Duration),
    /// A cron expression, in UTC.
    Cron(Box<cron::Schedule>),
}

impl Timer {
    fn new(trigger: &Trigger, shared: bool) -> Result<Self, cron::error::Error> {
        Ok(match trigger {
            Trigger::Every(every) if shared => Self::Aligned(*every),
            Trigger::Every(every) => {
                let start = tokio::time::Instant::now() + *every;
                let mut interval = tokio::time::interval_at(start, *every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                Self::Interval(interval)
            }
            Trigger::Cron(expression) => {
                Self::Cron(Box::new(cron::Schedule::from_str(expression)?))
            }
        })
    }

    /// Waits for the next tick: when it was due, and the time to the tick after it.
    async fn tick(&mut self) -> (SystemTime, Duration) {
        match self {
            Self::Interval(interval) => {
                interval.tick().await;
                (SystemTime::now(), interval.period())
            }
            Self::Aligned(period) => {
                let at = lease::next_aligned(SystemTime::now(), *period);
                sleep_until(at).await;
                (at, *period)
            }
            Self::Cron(cron) => {
                let mut upcoming = cron.upcoming(chrono::Utc);
                let Some(next) = upcoming.next() else {
                    // An expression with no future time (a past year): never again.
                    return std::future::pending().await;
                };
                let period = upcoming
                    .next()
                    .and_then(|after| (after - next).to_std().ok())
                    .unwrap_or(Duration::from_secs(1));
                let at = SystemTime::from(next);
                sleep_until(at).await;
                (at, period)
            }
        }
    }
}

async fn sleep_until(at: SystemTime) {
    let wait = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

/// Runs `schedule` (at `index` in the app) until `shutdown`, then waits for a run in flight.
/// Under a `lease`, a tick runs only in the process that claims it (see [`crate::lease`]).
pub(crate) async fn run(
    runtime: Arc<Runtime>,
    index: usize,
    schedule: Schedule,
    stats: ScheduleStats,
    lease: Option<ScheduleLease>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut timer = match Timer::new(&schedule.trigger, lease.is_some()) {
        Ok(timer) => timer,
        Err(error) => {
            // The Directive validated it; this cannot happen.
            tracing::error!(schedule = %schedule.name, %error, "invalid cron expression");
            return;
        }
    };
    let app: Arc<str> = runtime.app().identifier.as_str().into();
    let longest_run = runtime.schedule_timeout(index);
    let running = Arc::new(AtomicBool::new(false));
    let mut runs = JoinSet::new();
    loop {
        let (at, period) = tokio::select! {
            _ = shutdown.changed() => break,
            tick = timer.tick() => tick,
        };
        while runs.try_join_next().is_some() {}
        if let Some(lease) = &lease {
            match lease
                .claim(&app, &schedule.name, at, period, longest_run)
                .await
            {
                Ok(Claim::Run) => {}
                Ok(Claim::Elsewhere) => continue,
                Ok(Claim::Running) => {
                    stats.skipped.inc();
                    tracing::warn!(schedule = %schedule.name, "skipped: the previous run is still going (in this process or another)");
                    continue;
                }
                Err(error) => {
                    stats.skipped.inc();
                    tracing::warn!(schedule = %schedule.name, %error, "skipped: the schedule lease cannot be claimed");
                    continue;
                }
            }
        }
        if running.swap(true, Ordering::AcqRel) {
            stats.skipped.inc();
            tracing::warn!(schedule = %schedule.name, "skipped: the previous run is still going");
            continue;
        }
        stats.started.inc();
        let (runtime, running, stats, name, lease, app) = (
            runtime.clone(),
            running.clone(),
            stats.clone(),
            schedule.name.clone(),
            lease.clone(),
            app.clone(),
        );
        let span = tracing::info_span!(
            target: karman_runtime::TRACE_TARGET,
            "schedule",
            otel.name = %schedule.name,
            karman.schedule = %schedule.name,
        );
        runs.spawn(async move {
            let request = Request::scheduled(name.clone());
            let id = request.id.clone();
            let ran = runtime.run_schedule(index, request).instrument(span).await;
            if let Err(failure) = ran {
                stats.failed.inc();
                tracing::warn!(schedule = %name, request_id = %id, status = failure.status, "scheduled run failed: {}", failure.message);
            }
            if let Some(lease) = lease {
                lease.release(&app, &name).await;
            }
            running.store(false, Ordering::Release);
        });
    }
    while runs.join_next().await.is_some() {}
}
