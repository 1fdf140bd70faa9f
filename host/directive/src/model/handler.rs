//! What starts a sequence: request handlers, stream handlers and schedules.

use std::fmt;
use std::time::Duration;

use crate::error::Location;
use crate::model::resource::Resource;
use crate::model::route::RateLimits;
use crate::model::sequence::Sequence;

/// A `type: request` handler: an HTTP route and the steps it runs.
#[derive(Debug, Clone)]
pub struct RequestHandler {
    /// Upper-case HTTP method.
    pub method: String,
    /// The resource pattern, e.g. `/users/:id`.
    pub resource: Resource,
    /// What runs.
    pub sequence: Sequence,
    /// Requests accepted per window, across all callers and per client address; beyond
    /// either, 429.
    pub rate_limit: RateLimits,
    /// Where the handler is declared.
    pub location: Location,
}

/// Where a stream handler's messages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSource {
    /// The in-process bus (no broker): fed by `respondTo` of other handlers.
    Bus,
    /// NATS (`connections.nats`): a queue-group subscription, or a JetStream consumer.
    Nats,
    /// A WebSocket endpoint of the HTTP server at `GET resource`.
    Server,
    /// Kafka (`connections.kafka`): a consumer group, offsets committed after success.
    Kafka,
}

impl fmt::Display for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bus => "bus",
            Self::Nats => "nats",
            Self::Server => "server",
            Self::Kafka => "kafka",
        })
    }
}

/// A JetStream consumer: at-least-once delivery with explicit acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// The stream (created if absent, over the handler's subject).
    pub stream: String,
    /// The durable consumer's name (shared by every Karman process of the app).
    pub durable: String,
}

/// Default for `maxDeliver`.
pub const DEFAULT_MAX_DELIVER: u32 = 5;
/// Default for `maxInFlight`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;

/// `type: stream`: each message runs the steps.
#[derive(Debug, Clone)]
pub struct StreamHandler {
    /// Where the messages come from.
    pub source: StreamSource,
    /// The subject (wildcards allowed), topic, or WebSocket path.
    pub resource: String,
    /// Where the result is published (same source), if anywhere.
    pub respond_to: Option<String>,
    /// For `source: nats`: consume through JetStream.
    pub jetstream: Option<JetStreamOptions>,
    /// Deliveries of a message before it goes to `deadLetter` (JetStream).
    pub max_deliver: u32,
    /// Where a message that failed `maxDeliver` times is published.
    pub dead_letter: Option<String>,
    /// Messages run at once, at most; more wait (backpressure).
    pub max_in_flight: usize,
    /// What runs.
    pub sequence: Sequence,
    /// Where the handler is declared.
    pub location: Location,
}

/// When a schedule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Every interval, from start-up.
    Every(Duration),
    /// At the times of a cron expression (seconds first: `0 */5 * * * *`), in UTC.
    Cron(String),
}

impl fmt::Display for Trigger {
    /// `every 5m` or ``cron `0 */5 * * * *` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Every(every) => write!(f, "every {}", humantime::format_duration(*every)),
            Trigger::Cron(cron) => write!(f, "cron `{cron}`"),
        }
    }
}

/// `schedules:`: steps run on a timer (`method()` is `SCHED`).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name (in logs, and as the request's url).
    pub name: String,
    /// When it runs.
    pub trigger: Trigger,
    /// What runs.
    pub sequence: Sequence,
    /// Where it is declared.
    pub location: Location,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_display_their_interval_or_cron_expression() {
        assert_eq!(
            Trigger::Every(Duration::from_secs(300)).to_string(),
            "every 5m"
        );
        assert_eq!(
            Trigger::Every(Duration::from_millis(1500)).to_string(),
            "every 1s 500ms"
        );
        assert_eq!(
            Trigger::Cron("0 */5 * * * *".to_string()).to_string(),
            "cron `0 */5 * * * *`"
        );
    }
}
