//! Where a stream handler publishes: results to `respondTo` and failed messages to
//! `deadLetter`, on the handler's own source (the bus, NATS, JetStream, or a Kafka producer).
//!
//! A publish returns only once the broker has taken the message: JetStream's publish ack (a
//! stream must cover the subject), Kafka's delivery report. The caller acks or commits the
//! message it came from only after that, so a message the broker refused is never lost.
//! Header values pass through [`escape_controls`]: text a guest controls (an error message)
//! cannot end a header and add another (`Nats-Msg-Id`, which JetStream deduplicates on).

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use karman_directive::KafkaConnection;
use karman_protocol::escape_controls;
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::StreamsError;
use crate::bus::{Bus, BusMessage};

/// Where results are published: the handler's own source.
#[derive(Clone)]
pub(crate) enum Outlet {
    /// The in-process bus (also for WebSocket handlers, which cannot have `respondTo`).
    Bus(Bus),
    /// Core NATS (at most once: no acknowledgement).
    Nats(async_nats::Client),
    /// JetStream, for JetStream handlers: each publish waits for the stream's ack.
    JetStream(jetstream::Context),
    /// A Kafka producer.
    Kafka(FutureProducer),
}

impl Outlet {
    /// Publishes `payload` with `headers` to `subject` (a topic for Kafka).
    pub(crate) async fn publish(
        &self,
        subject: &str,
        payload: Bytes,
        headers: &[(String, String)],
    ) -> Result<(), String> {
        match self {
            Self::Bus(bus) => {
                bus.publish(BusMessage {
                    subject: subject.to_string(),
                    payload,
                    headers: headers.to_vec(),
                })
                .await;
                Ok(())
            }
            Self::Kafka(producer) => produce(producer, subject, payload, headers).await,
            // Without headers, a plain `PUB`: no empty header block for the server and every
            // subscriber to parse.
            Self::Nats(client) if headers.is_empty() => client
                .publish(subject.to_string(), payload)
                .await
                .map_err(|e| e.to_string()),
            Self::Nats(client) => client
                .publish_with_headers(subject.to_string(), nats_headers(headers), payload)
                .await
                .map_err(|e| e.to_string()),
            Self::JetStream(context) => {
                let sent = if headers.is_empty() {
                    context.publish(subject.to_string(), payload).await
                } else {
                    let headers = nats_headers(headers);
                    context
                        .publish_with_headers(subject.to_string(), headers, payload)
                        .await
                };
                let ack = sent.map_err(|e| {
                    format!("JetStream did not take the message for `{subject}`: {e}")
                })?;
                ack.await.map(drop).map_err(|e| {
                    format!("no JetStream stream acknowledged the message on `{subject}`: {e}")
                })
            }
        }
    }
}

/// NATS headers, their values escaped.
fn nats_headers(headers: &[(String, String)]) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in headers {
        map.insert(name.as_str(), &*escape_controls(value));
    }
    map
}

/// A librdkafka client error without the value of the property it is about (which may be a
/// secret of `connections.kafka.properties`).
pub(crate) fn client_error(error: rdkafka::error::KafkaError) -> String {
    match error {
        rdkafka::error::KafkaError::ClientConfig(_, description, name, value) => {
            let description = if value.is_empty() {
                description
            } else {
                description.replace(&value, "<hidden>")
            };
            format!("the property `{name}`: {description}")
        }
        other => other.to_string(),
    }
}

/// The longest pause between two attempts of a Kafka client to reach a broker that went away.
/// librdkafka's default, 10 s, can keep a handler idle that long after its broker is back; a
/// Directive's `connections.kafka.properties` can set another.
pub(crate) const RECONNECT_BACKOFF_MAX_MS: &str = "1000";

/// A producer for results and dead letters.
pub(crate) fn producer(connection: &KafkaConnection) -> Result<FutureProducer, StreamsError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", connection.brokers.join(","))
        .set("message.timeout.ms", "10000")
        .set("reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS);
    config.extend(connection.properties.iter().cloned());
    config.create().map_err(|e| StreamsError::Connect {
        location: connection.location.to_string(),
        message: format!(
            "cannot create a Kafka producer for {}: {}",
            connection.brokers.join(","),
            client_error(e)
        ),
    })
}

/// Produces `payload` to `topic`, header values escaped; returns once the delivery report says
/// the broker has it.
pub(crate) async fn produce(
    producer: &FutureProducer,
    topic: &str,
    payload: Bytes,
    headers: &[(String, String)],
) -> Result<(), String> {
    let mut owned = OwnedHeaders::new();
    for (key, value) in headers {
        owned = owned.insert(Header {
            key,
            value: Some(&*escape_controls(value)),
        });
    }
    let record = FutureRecord::<(), [u8]>::to(topic)
        .payload(&payload[..])
        .headers(owned);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map(drop)
        .map_err(|(error, _)| error.to_string())
}
