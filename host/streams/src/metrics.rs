//! The metrics of stream handlers and schedules, made once per server (see
//! [`StreamsConfig::metrics`](crate::StreamsConfig::metrics)) and registered once, so that
//! the counts go on across reloads.
//!
//! | metric | type | labels |
//! |--------|------|--------|
//! | `karman_stream_messages_received_total` | counter | `handler` |
//! | `karman_stream_messages_total` | counter | `handler`, `outcome` (`succeeded`, `failed`) |
//! | `karman_stream_messages_retried_total` | counter | `handler` |
//! | `karman_stream_messages_dead_lettered_total` | counter | `handler` |
//! | `karman_stream_messages_dropped_total` | counter | `handler` |
//! | `karman_stream_messages_in_flight` | gauge | `handler` |
//! | `karman_schedule_runs_total` | counter | `schedule` (runs started) |
//! | `karman_schedule_failures_total` | counter | `schedule` |
//! | `karman_schedule_skips_total` | counter | `schedule` |
//!
//! A handler is labelled with its source and resource (`nats orders.created`).
//!
//! ```
//! let metrics = karman_streams::StreamMetrics::default();
//! let mut registry = prometheus_client::registry::Registry::with_prefix("karman");
//! metrics.register(&mut registry);
//! ```

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::handler::HandlerStats;
use crate::schedule::ScheduleStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabels {
    handler: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    handler: Arc<str>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleLabels {
    schedule: Arc<str>,
}

/// The counters of every stream handler and schedule.
#[derive(Clone, Default)]
pub struct StreamMetrics {
    received: Family<HandlerLabels, Counter>,
    handled: Family<OutcomeLabels, Counter>,
    retried: Family<HandlerLabels, Counter>,
    dead_lettered: Family<HandlerLabels, Counter>,
    dropped: Family<HandlerLabels, Counter>,
    in_flight: Family<HandlerLabels, Gauge>,
    runs: Family<ScheduleLabels, Counter>,
    failures: Family<ScheduleLabels, Counter>,
    skips: Family<ScheduleLabels, Counter>,
}

impl std::fmt::Debug for StreamMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMetrics").finish_non_exhaustive()
    }
}

impl StreamMetrics {
    /// Registers every metric in `registry` (once per server).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "stream_messages_received",
            "Messages a stream handler took from its source (first deliveries)",
            self.received.clone(),
        );
        registry.register(
            "stream_messages",
            "Runs of a stream handler's steps, by outcome (succeeded, failed; each delivery \
             and retry counts)",
            self.handled.clone(),
        );
        registry.register(
            "stream_messages_retried",
            "Runs of a message after its first: JetStream redeliveries and Kafka retries",
            self.retried.clone(),
        );
        registry.register(
            "stream_messages_dead_lettered",
            "Failed messages published to the handler's deadLetter",
            self.dead_lettered.clone(),
        );
        registry.register(
            "stream_messages_dropped",
            "Core NATS messages dropped before they ran: the handler could not keep up",
            self.dropped.clone(),
        );
        registry.register(
            "stream_messages_in_flight",
            "Messages whose steps are running now",
            self.in_flight.clone(),
        );
        registry.register("schedule_runs", "Scheduled runs started", self.runs.clone());
        registry.register(
            "schedule_failures",
            "Scheduled runs that failed",
            self.failures.clone(),
        );
        registry.register(
            "schedule_skips",
            "Scheduled runs skipped because the previous run was still going",
            self.skips.clone(),
        );
    }

    /// The counters of the handler labelled `handler`.
    pub(crate) fn handler(&self, handler: &str) -> HandlerStats {
        let handler: Arc<str> = handler.into();
        let labels = HandlerLabels {
            handler: handler.clone(),
        };
        let outcome = |outcome| OutcomeLabels {
            handler: handler.clone(),
            outcome,
        };
        // One statement each: a family's read guard lives to the end of its statement, and a
        // second `get_or_create` on the same family waits for it to end.
        let succeeded = self.handled.get_or_create(&outcome("succeeded")).clone();
        let failed = self.handled.get_or_create(&outcome("failed")).clone();
        HandlerStats {
            received: self.received.get_or_create(&labels).clone(),
            succeeded,
            failed,
            retried: self.retried.get_or_create(&labels).clone(),
            dead_lettered: self.dead_lettered.get_or_create(&labels).clone(),
            dropped: self.dropped.get_or_create(&labels).clone(),
            running: self.in_flight.get_or_create(&labels).clone(),
        }
    }

    /// The counters of the schedule named `schedule`.
    pub(crate) fn schedule(&self, schedule: &str) -> ScheduleStats {
        let labels = ScheduleLabels {
            schedule: schedule.into(),
        };
        ScheduleStats {
            started: self.runs.get_or_create(&labels).clone(),
            failed: self.failures.get_or_create(&labels).clone(),
            skipped: self.skips.get_or_create(&labels).clone(),
        }
    }
}
