//! One stream handler at run time: turns a message into a run of its steps, at most
//! `maxInFlight` at once, counts the outcome, and publishes the result where the Directive says.
//! On the sources that deliver a message once (the bus, core NATS), a message whose steps
//! failed goes to `deadLetter` here; JetStream and Kafka do it after their last delivery.

use std::sync::Arc;

use bytes::Bytes;
use karman_directive::{StreamHandler, StreamSource};
use karman_runtime::{Failure, FailureKind, Reply, Request, Runtime, trace_context};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::outlet::Outlet;

/// A message as the steps see it: `req.url()` is the subject (topic, WebSocket path),
/// `req.body()` the payload, `req.header()` its headers.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The subject, topic or path it arrived on.
    pub subject: String,
    /// The payload: every step's input.
    pub payload: Bytes,
    /// Its headers, lower-case names first.
    pub headers: Vec<(String, String)>,
}

/// Counts of one handler's runs since the server started (its metrics, see
/// [`StreamMetrics`](crate::StreamMetrics)).
#[derive(Debug, Clone)]
pub struct HandlerStats {
    pub(crate) received: Counter,
    pub(crate) succeeded: Counter,
    pub(crate) failed: Counter,
    pub(crate) retried: Counter,
    pub(crate) dead_lettered: Counter,
    pub(crate) dropped: Counter,
    pub(crate) running: Gauge,
}

impl HandlerStats {
    /// Messages taken from the source (first deliveries).
    pub fn received(&self) -> u64 {
        self.received.get()
    }

    /// Runs of a message after its first (JetStream redeliveries, Kafka retries).
    pub fn retried(&self) -> u64 {
        self.retried.get()
    }

    /// Failed messages published to `deadLetter`.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.get()
    }

    /// Messages whose steps succeeded.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.get()
    }

    /// Messages whose steps failed (each delivery counts).
    pub fn failed(&self) -> u64 {
        self.failed.get()
    }

    /// Core NATS messages dropped before they ran: the subscription's queue was full (a slow
    /// consumer; core NATS is at most once).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Messages whose steps are running now (each holds one of the `maxInFlight` slots).
    pub fn running(&self) -> u64 {
        u64::try_from(self.running.get()).unwrap_or(0)
    }

    /// Counts one dropped message; returns the count so far.
    pub(crate) fn count_dropped(&self) -> u64 {
        self.dropped.inc() + 1
    }
}

/// What a run of a message gave: the steps' result, and the trace context of its span (empty when
/// traces are off) for what is published about it later (a dead letter).
pub(crate) struct Ran {
    pub(crate) result: Result<Reply, Failure>,
    pub(crate) trace: Vec<(String, String)>,
}

/// Counts a run in [`HandlerStats::running`] while it lives.
struct Running<'a>(&'a HandlerStats);

impl<'a> Running<'a> {
    fn start(stats: &'a HandlerStats) -> Self {
        stats.running.inc();
        Self(stats)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.dec();
    }
}

/// A stream handler of the app, ready to run messages.
pub struct Handler {
    pub(crate) index: usize,
    pub(crate) spec: StreamHandler,
    pub(crate) runtime: Arc<Runtime>,
    /// Its name in metrics and traces (`nats orders.created`).
    label: Arc<str>,
    outlet: Outlet,
    stats: HandlerStats,
    /// One permit per message that may run at once (`maxInFlight`).
    slots: Arc<Semaphore>,
}

impl Handler {
    pub(crate) fn new(
        index: usize,
        spec: StreamHandler,
        runtime: Arc<Runtime>,
        outlet: Outlet,
        label: Arc<str>,
        stats: HandlerStats,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(spec.max_in_flight.max(1)));
        Self {
            index,
            spec,
            runtime,
            label,
            outlet,
            stats,
            slots,
        }
    }

    /// The handler as the Directive declares it.
    pub fn spec(&self) -> &StreamHandler {
        &self.spec
    }

    /// Counts of its runs.
    pub fn stats(&self) -> &HandlerStats {
        &self.stats
    }

    /// Where it publishes.
    pub(crate) fn outlet(&self) -> &Outlet {
        &self.outlet
    }

    /// The permits of the messages that may run at once: a source takes one before it takes a
    /// message off its broker, so a slow step slows consumption.
    pub(crate) fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// Runs `message` once one of the `maxInFlight` slots is free: for sources that push
    /// messages rather than being polled (WebSocket sessions).
    pub async fn run_when_free(&self, message: Incoming) -> Result<Reply, Failure> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.run(message, 1).await.result
    }

    /// Runs the steps for `message` (the caller holds a slot); on success publishes the result
    /// to `respondTo`. A result the broker did not take (no JetStream ack, no Kafka delivery
    /// report) makes the run a failure (503): the source does not ack or commit the message, so
    /// it runs again rather than being lost. `delivery` counts the runs of this message, from 1.
    pub(crate) async fn run(&self, message: Incoming, delivery: u64) -> Ran {
        if delivery > 1 {
            self.stats.retried.inc();
        } else {
            self.stats.received.inc();
        }
        let _running = Running::start(&self.stats);
        let span = tracing::info_span!(
            target: karman_runtime::TRACE_TARGET,
            "message",
            otel.name = %self.label,
            otel.kind = "consumer",
            messaging.system = %self.spec.source,
            messaging.destination.name = %message.subject,
            karman.delivery = delivery,
        );
        trace_context::continue_from(&span, &message.headers);
        let mut trace = Vec::new();
        trace_context::inject(&span, &mut trace);
        let payload = message.payload.clone();
        let request = Request::message(message.subject, message.headers, message.payload);
        let id = request.id.clone();
        let subject = request.url.clone();
        let mut result = self
            .runtime
            .run_stream(self.index, request)
            .instrument(span)
            .await;
        if let (Ok(reply), Some(target)) = (&result, &self.spec.respond_to)
            && let Err(error) = self
                .outlet
                .publish(target, reply.body.clone(), &trace)
                .await
        {
            result = Err(Failure {
                status: 503,
                code: 503,
                message: format!("the result could not be published to `{target}`: {error}"),
                kind: FailureKind::Internal,
            });
        }
        match &result {
            Ok(_) => {
                self.stats.succeeded.inc();
            }
            Err(failure) => {
                self.stats.failed.inc();
                tracing::warn!(
                    request_id = %id,
                    source = %self.spec.source,
                    %subject,
                    status = failure.status,
                    "message failed: {}",
                    failure.message
                );
                if self.delivers_once() {
                    self.dead_letter(&subject, payload, failure, &trace).await;
                }
            }
        }
        Ran { result, trace }
    }

    /// Whether the source delivers each message once (the bus, core NATS): its failed messages
    /// are dead-lettered after their one run.
    fn delivers_once(&self) -> bool {
        match self.spec.source {
            StreamSource::Bus => true,
            StreamSource::Nats => self.spec.jetstream.is_none(),
            StreamSource::Kafka | StreamSource::Server => false,
        }
    }

    /// Publishes a failed message to the handler's `deadLetter` (if it has one), with headers
    /// saying why: `karman-error` (the status), `karman-error-message`, `karman-subject` (where
    /// it arrived) and `karman-deliveries` (1).
    async fn dead_letter(
        &self,
        subject: &str,
        payload: Bytes,
        failure: &Failure,
        trace: &[(String, String)],
    ) {
        let Some(dead_letter) = &self.spec.dead_letter else {
            return;
        };
        let headers = dead_letter_headers(failure, ("karman-subject", subject), 1, trace);
        match self.outlet.publish(dead_letter, payload, &headers).await {
            Ok(()) => {
                self.stats.dead_lettered.inc();
                tracing::warn!(%subject, %dead_letter, "the failed message was dead-lettered")
            }
            Err(error) => {
                tracing::error!(%error, %subject, %dead_letter, "the failed message could not be dead-lettered: it is lost")
            }
        }
    }
}

/// The headers of a dead letter: `karman-error` (the status), `karman-error-message`, where
/// the message arrived (`karman-subject` or `karman-topic`), `karman-deliveries`, and the trace
/// context of its last run.
pub(crate) fn dead_letter_headers(
    failure: &Failure,
    (source_header, source): (&str, &str),
    deliveries: u64,
    trace: &[(String, String)],
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("karman-error".to_string(), failure.status.to_string()),
        ("karman-error-message".to_string(), failure.message.clone()),
        (source_header.to_string(), source.to_string()),
        ("karman-deliveries".to_string(), deliveries.to_string()),
    ];
    headers.extend_from_slice(trace);
    headers
}
