//! Where a stream handler publishes: results to `respondTo` and failed messages to
//! `deadLetter`, on the handler's own source (the bus, NATS, or a Kafka producer).

use std::time::Duration;

use bytes::Bytes;
use karman_directive::KafkaConnection;
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
    /// NATS (core publish).
    Nats(async_nats::Client),
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
            Self::Nats(client) => {
                let mut map = async_nats::HeaderMap::new();
                for (name, value) in headers {
                    map.insert(name.as_str(), value.as_str());
                }
                client
                    .publish_with_headers(subject.to_string(), map, payload)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// A producer for results and dead letters.
pub(crate) fn producer(connection: &KafkaConnection) -> Result<FutureProducer, StreamsError> {
    ClientConfig::new()
        .set("bootstrap.servers", connection.brokers.join(","))
        .set("message.timeout.ms", "10000")
        .create()
        .map_err(|e| StreamsError::Connect {
            location: connection.location.to_string(),
            message: format!(
                "cannot create a Kafka producer for {}: {e}",
                connection.brokers.join(",")
            ),
        })
}

/// Produces `payload` to `topic`.
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
            value: Some(value.as_str()),
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
