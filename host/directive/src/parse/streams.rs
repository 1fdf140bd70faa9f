//! Stream handlers (`type: stream`): the same step sequences as request handlers, started by a
//! message.
//!
//! ```yaml
//! handlers:
//!   - type: stream
//!     source: nats                 # bus (default), nats, kafka, server (a WebSocket endpoint)
//!     resource: user.login         # subject (wildcards allowed), or a path for `server`
//!     respondTo: user.login.done   # publish the result here (bus, nats)
//!     stream: LOGINS               # nats only: consume through JetStream …
//!     durable: karman-logins       # … with this durable consumer
//!     maxDeliver: 5                # JetStream deliveries before `deadLetter`
//!     deadLetter: user.login.dead  # failed messages (any source but `server`)
//!     maxInFlight: 16              # messages run at once (backpressure)
//!     steps: [ { fn: record }, { fn: send-email } ]
//! ```

use marked_yaml::Node;

use crate::error::did_you_mean;
use crate::model::{
    Component, Connections, DEFAULT_MAX_DELIVER, DEFAULT_MAX_IN_FLIGHT, JetStreamOptions,
    StreamHandler, StreamSource, subject_matches,
};
use crate::parse::sequences::parse_sequence;
use crate::parse::values::positive;
use crate::yaml::{Fields, Reader, start};

/// Keys of a handler that only stream handlers take.
pub(crate) const STREAM_ONLY: &[&str] = &[
    "source",
    "respondTo",
    "stream",
    "durable",
    "maxDeliver",
    "deadLetter",
    "maxInFlight",
];
const SOURCES: &[&str] = &["bus", "nats", "kafka", "server"];

/// A `type: stream` handler, whose source needs its connection when `connections` is known.
pub(crate) fn parse_stream_handler(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: Fields<'_>,
    components: &[Component],
    connections: Option<&Connections>,
) -> Option<StreamHandler> {
    if let Some(method) = fields.get("method") {
        reader.error_with_hint(
            start(method),
            "`method` applies to request handlers, not to stream handlers",
            "remove it: a stream handler's `req.method()` is `STREAM`",
        );
    }
    if let Some(rate_limit) = fields.get("rateLimit") {
        reader.error_with_hint(
            start(rate_limit),
            "`rateLimit` applies to request handlers, not to stream handlers",
            "remove it: `maxInFlight` bounds a stream handler's concurrent runs",
        );
    }
    let source = match fields.get("source") {
        None => Some(StreamSource::Bus),
        Some(n) => parse_source(reader, n),
    };
    let resource_node = reader.required(fields, "resource", "a stream handler")?;
    let resource = reader.non_empty_string(resource_node, "`resource`")?;
    let resource = resource.trim().to_string();
    let source = source?;
    let what = format!("stream handler `{source} {resource}`");
    let mut ok = true;

    match source {
        StreamSource::Server => {
            if !resource.starts_with('/') || resource.contains(char::is_whitespace) {
                reader.error_with_hint(
                    resource_node.span(),
                    format!("the resource of {what} must be a path"),
                    "a WebSocket endpoint is served at `GET <resource>`, e.g. `/ws/chat`",
                );
                ok = false;
            } else if resource == "/health" || resource.starts_with("/ext/") {
                reader.error(
                    resource_node.span(),
                    format!("`{resource}` is reserved by Karman"),
                );
                ok = false;
            }
        }
        StreamSource::Kafka => {
            if !valid_topic(&resource) {
                reader.error_with_hint(
                    resource_node.span(),
                    format!("`{resource}` is not a Kafka topic"),
                    "use letters, digits, `.`, `_` and `-` (no wildcards)",
                );
                ok = false;
            }
        }
        StreamSource::Bus | StreamSource::Nats => {
            if !valid_subject(&resource) {
                reader.error_with_hint(
                    resource_node.span(),
                    format!("`{resource}` is not a subject"),
                    "write tokens separated by dots, e.g. `user.login`; `*` matches one token, a final `>` the rest",
                );
                ok = false;
            }
        }
    }
    if source == StreamSource::Kafka && connections.is_some_and(|c| c.kafka.is_none()) {
        reader.error_with_hint(
            resource_node.span(),
            format!("{what} needs a Kafka connection"),
            "add `connections: { kafka: { brokers: 127.0.0.1:9092 } }`",
        );
        ok = false;
    }
    if source == StreamSource::Nats && connections.is_some_and(|c| c.nats.is_none()) {
        reader.error_with_hint(
            resource_node.span(),
            format!("{what} needs a NATS connection"),
            "add `connections: { nats: { serverAddress: 127.0.0.1:4222 } }`",
        );
        ok = false;
    }

    let respond_to = match fields.get("respondTo") {
        None => None,
        Some(n) => {
            let subject = reader.string_or_env(n, "`respondTo`")?.trim().to_string();
            if source == StreamSource::Server {
                reader.error_with_hint(
                    start(n),
                    "`respondTo` does not apply to `source: server`",
                    "a WebSocket handler answers on the same socket",
                );
                ok = false;
            } else if !publishable(source.clone(), &subject) {
                reader.error(
                    start(n),
                    format!(
                        "`respondTo: {subject}` is not a {} to publish to",
                        target_kind(&source)
                    ),
                );
                ok = false;
            }
            Some(subject)
        }
    };

    let jetstream = match (fields.get("stream"), fields.get("durable")) {
        (None, None) => None,
        (stream, durable) => {
            if source != StreamSource::Nats {
                let key = if stream.is_some() {
                    "stream"
                } else {
                    "durable"
                };
                reader.error(
                    start(stream.or(durable).expect("one is set")),
                    format!("`{key}` (JetStream) applies to `source: nats` only"),
                );
                ok = false;
            }
            let name = |reader: &mut Reader<'_>, n: &Node, key: &str| -> Option<String> {
                let text = reader
                    .string_or_env(n, &format!("`{key}`"))?
                    .trim()
                    .to_string();
                let valid = !text.is_empty()
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    reader.error(
                        start(n),
                        format!("`{key}: {text}`: use letters, digits, `-` and `_`"),
                    );
                    return None;
                }
                Some(text)
            };
            let stream_name = match stream {
                Some(n) => name(reader, n, "stream"),
                None => {
                    reader.error(
                        start(durable.expect("set")),
                        "`durable` needs `stream` (the JetStream stream to consume)",
                    );
                    None
                }
            };
            let durable_name = match durable {
                Some(n) => name(reader, n, "durable"),
                None => stream_name.as_ref().map(|s| format!("karman-{s}")),
            };
            Some(JetStreamOptions {
                stream: stream_name?,
                durable: durable_name?,
            })
        }
    };
    let max_deliver = match fields.get("maxDeliver") {
        None => Some(DEFAULT_MAX_DELIVER),
        Some(n) => positive(reader, n, "`maxDeliver`", 1000).map(|n| n as u32),
    };
    let dead_letter = match fields.get("deadLetter") {
        None => None,
        Some(n) => {
            let subject = reader.string_or_env(n, "`deadLetter`")?.trim().to_string();
            if !publishable(source.clone(), &subject) {
                reader.error(
                    start(n),
                    format!(
                        "`deadLetter: {subject}` is not a {} to publish to",
                        target_kind(&source)
                    ),
                );
                ok = false;
            }
            Some(subject)
        }
    };
    if let Some(n) = fields.get("maxDeliver")
        && jetstream.is_none()
        && source != StreamSource::Kafka
    {
        reader.error_with_hint(
            start(n),
            "`maxDeliver` needs an at-least-once source",
            "core NATS and the bus deliver a message once: give its steps `retry:` to try them \
             again, or use `source: kafka`, or add `stream:` to consume through JetStream",
        );
        ok = false;
    }
    if let Some(n) = fields.get("deadLetter")
        && source == StreamSource::Server
    {
        reader.error_with_hint(
            start(n),
            "`deadLetter` does not apply to `source: server`",
            "a WebSocket handler answers a failed message with its error on the same socket",
        );
        ok = false;
    }
    let max_in_flight = match fields.get("maxInFlight") {
        None => Some(DEFAULT_MAX_IN_FLIGHT),
        Some(n) => positive(reader, n, "`maxInFlight`", 10_000).map(|n| n as usize),
    };
    let sequence = parse_sequence(reader, fields, &what, components)?;
    ok.then_some(())?;
    Some(StreamHandler {
        source,
        resource,
        respond_to,
        jetstream,
        max_deliver: max_deliver?,
        dead_letter,
        max_in_flight: max_in_flight?,
        sequence,
        location: reader.location_or_start(start(node)),
    })
}

/// Refuses `respondTo` and `deadLetter` cycles among bus handlers (`A → A`, `A → B → A`): a
/// result or a failed message published back into its own chain would run it forever, and once
/// a queue is full the chain would wait on itself. Each cycle is reported once, at its first
/// handler.
pub(crate) fn check_bus_cycles(reader: &mut Reader<'_>, streams: &[StreamHandler]) {
    let on_bus = |h: &StreamHandler| h.source == StreamSource::Bus;
    // Who each bus handler's results feed.
    let feeds: Vec<Vec<usize>> = streams
        .iter()
        .map(|from| {
            if !on_bus(from) {
                return Vec::new();
            }
            let targets: Vec<&String> = from.respond_to.iter().chain(&from.dead_letter).collect();
            (0..streams.len())
                .filter(|&to| {
                    on_bus(&streams[to])
                        && targets
                            .iter()
                            .any(|target| subject_matches(&streams[to].resource, target))
                })
                .collect()
        })
        .collect();
    for first in 0..streams.len() {
        // A cycle through `first` and handlers after it only: each cycle is found from its
        // first handler, once.
        let Some(path) = cycle_from(first, &feeds) else {
            continue;
        };
        let chain: Vec<String> = path
            .iter()
            .chain(std::iter::once(&first))
            .map(|&i| format!("`{}`", streams[i].resource))
            .collect();
        reader.error_at(
            &streams[first].location,
            format!(
                "the bus handlers {} form a `respondTo`/`deadLetter` cycle",
                chain.join(" → ")
            ),
            "a message published back into its own chain runs it forever: publish the last result (or dead letter) to a subject no handler of the chain listens on",
        );
    }
}

/// A path `first → … → first` through handlers at or after `first`, without `first`'s repeat.
fn cycle_from(first: usize, feeds: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut path = vec![first];
    let mut seen = vec![false; feeds.len()];
    seen[first] = true;
    let mut next = vec![0usize];
    while let Some(&at) = path.last() {
        let depth = path.len() - 1;
        let Some(&to) = feeds[at].get(next[depth]) else {
            path.pop();
            next.pop();
            continue;
        };
        next[depth] += 1;
        if to == first {
            return Some(path);
        }
        if to > first && !seen[to] {
            seen[to] = true;
            path.push(to);
            next.push(0);
        }
    }
    None
}

fn parse_source(reader: &mut Reader<'_>, node: &Node) -> Option<StreamSource> {
    let text = reader.string_or_env(node, "`source`")?;
    match text.trim() {
        "bus" => Some(StreamSource::Bus),
        "nats" => Some(StreamSource::Nats),
        "server" => Some(StreamSource::Server),
        "kafka" => Some(StreamSource::Kafka),
        other => {
            let hint = match did_you_mean(other, SOURCES.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("use one of: {}", SOURCES.join(", ")),
            };
            reader.error_with_hint(
                start(node),
                format!("unknown stream source `{other}`"),
                hint,
            );
            None
        }
    }
}

/// A Kafka topic name: letters, digits, `.`, `_`, `-`, at most 249 characters.
fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn publishable(source: StreamSource, target: &str) -> bool {
    match source {
        StreamSource::Kafka => valid_topic(target),
        _ => valid_subject(target) && !target.contains('*') && !target.ends_with('>'),
    }
}

fn target_kind(source: &StreamSource) -> &'static str {
    if *source == StreamSource::Kafka {
        "topic"
    } else {
        "subject"
    }
}

/// A NATS-style subject: dot-separated tokens, `*` for one token, a final `>` for the rest.
fn valid_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, token)| {
        !token.is_empty()
            && (*token == "*"
                || (*token == ">" && i == tokens.len() - 1)
                || token
                    .chars()
                    .all(|c| !c.is_whitespace() && c != '*' && c != '>'))
    })
}

#[cfg(test)]
mod tests {
    use super::valid_subject;

    #[test]
    fn subjects_are_dot_separated_tokens_with_wildcards() {
        for ok in ["user.login", "a", "orders.*.created", "events.>", "*"] {
            assert!(valid_subject(ok), "{ok}");
        }
        for bad in ["", "a..b", ".a", "a.", "a b", "a.>.b", "a*", "we>"] {
            assert!(!valid_subject(bad), "{bad}");
        }
    }
}
