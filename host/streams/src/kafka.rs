//! `source: kafka`: a consumer in the app's consumer group (`connections.kafka.group`, default
//! the app's identifier), so several Karman processes share the partitions.
//!
//! At least once: a message's offset is committed only after its steps succeed (or it went to
//! `deadLetter`). Messages of a partition may run concurrently (`maxInFlight`), so the offset
//! committed for a partition is the lowest one still running: a crash redelivers every message
//! that had not finished, never skips one. A failed run is retried in place (`maxDeliver` runs
//! in all, with a backoff), then the message is produced to `deadLetter` with headers saying
//! why, and the partition moves on. Offsets are committed every 500 ms while running, and
//! explicitly, synchronously, at shutdown once the messages in flight are done. The app's
//! consumers stay in the group until every one of them has committed ([`Members`]): a member
//! leaving starts a rebalance, and a commit made during one fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use karman_directive::KafkaConnection;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::{ClientConfig, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::StreamsError;
use crate::consume::{Spread, consume};
use crate::handler::{Handler, Incoming, dead_letter_headers};
use crate::outlet::{RECONNECT_BACKOFF_MAX_MS, produce};

/// Offsets of one consumer: per partition, those running, and the next after the last done.
#[derive(Default)]
struct Offsets {
    running: BTreeMap<(String, i32), BTreeSet<i64>>,
    next_after_done: BTreeMap<(String, i32), i64>,
}

impl Offsets {
    fn started(&mut self, topic: &str, partition: i32, offset: i64) {
        self.running
            .entry((topic.to_string(), partition))
            .or_default()
            .insert(offset);
    }

    /// Marks `offset` done; returns the offset now safe to commit for its partition.
    fn finished(&mut self, topic: &str, partition: i32, offset: i64) -> i64 {
        let key = (topic.to_string(), partition);
        let running = self.running.entry(key.clone()).or_default();
        running.remove(&offset);
        let next = self.next_after_done.entry(key).or_insert(0);
        *next = (*next).max(offset + 1);
        running.first().copied().unwrap_or(*next)
    }

    /// Per partition that finished a message, the offset safe to commit: the lowest one still
    /// running, or the one after the last done.
    fn safe_positions(&self) -> Vec<(String, i32, i64)> {
        self.next_after_done
            .iter()
            .map(|((topic, partition), next)| {
                let running = self
                    .running
                    .get(&(topic.clone(), *partition))
                    .and_then(|running| running.first().copied());
                (topic.clone(), *partition, running.unwrap_or(*next))
            })
            .collect()
    }
}

fn headers_of(message: &OwnedMessage) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "kafka-partition".to_string(),
            message.partition().to_string(),
        ),
        ("kafka-offset".to_string(), message.offset().to_string()),
    ];
    if let Some(key) = message.key() {
        headers.push((
            "kafka-key".to_string(),
            String::from_utf8_lossy(key).into_owned(),
        ));
    }
    if let Some(own) = message.headers() {
        for header in own.iter() {
            headers.push((
                header.key.to_ascii_lowercase(),
                String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
            ));
        }
    }
    headers
}

/// The consumers of an app's Kafka handlers (one per handler, all in one group), kept until
/// every handler has made its final commit. Without it the first handler to stop would leave
/// the group while another still commits: the rebalance that starts makes that commit fail, and
/// the messages after the last automatic commit run again in the next member.
#[derive(Clone, Default)]
pub(crate) struct Members(Arc<Mutex<Vec<Arc<StreamConsumer>>>>);

impl Members {
    fn join(&self, consumer: Arc<StreamConsumer>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(consumer);
    }

    /// Lets every consumer leave its group: call once the handlers have stopped.
    pub(crate) fn leave(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Subscribes the handler's topic in the app's consumer group and runs its messages.
pub(crate) fn serve(
    handler: Arc<Handler>,
    connection: &KafkaConnection,
    group: &str,
    producer: FutureProducer,
    members: &Members,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StreamsError> {
    let spec = &handler.spec;
    let setup = |message: String| StreamsError::Subscribe {
        location: spec.location.to_string(),
        message,
    };
    let longest_run = handler.runtime.stream_timeout(handler.index);
    let session = connection.session_timeout;
    let max_poll = (longest_run * 2 + Duration::from_secs(5)).max(session);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", connection.brokers.join(","))
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", session.as_millis().to_string())
        .set("max.poll.interval.ms", max_poll.as_millis().to_string())
        .set("reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS);
    config.extend(connection.properties.iter().cloned());
    let consumer: StreamConsumer = config.create().map_err(|e| {
        setup(format!(
            "cannot create a Kafka consumer: {}",
            crate::outlet::client_error(e)
        ))
    })?;
    consumer.subscribe(&[spec.resource.as_str()]).map_err(|e| {
        setup(format!(
            "cannot subscribe to the topic `{}`: {e}",
            spec.resource
        ))
    })?;
    let consumer = Arc::new(consumer);
    members.join(consumer.clone());
    let offsets = Arc::new(Mutex::new(Offsets::default()));
    let max_deliver = spec.max_deliver;
    Ok(tokio::spawn(async move {
        let messages = consumer.stream().filter_map(|received| async move {
            match received {
                Ok(message) => Some(message.detach()),
                Err(error) => {
                    tracing::warn!(%error, "Kafka consumer error");
                    None
                }
            }
        });
        let slots = handler.slots();
        let run_consumer = consumer.clone();
        let finished = offsets.clone();
        consume(Box::pin(messages), slots, shutdown, Spread::Lanes, move |message: OwnedMessage| {
            let (handler, consumer, offsets, producer) =
                (handler.clone(), run_consumer.clone(), offsets.clone(), producer.clone());
            let (topic, partition, offset) =
                (message.topic().to_string(), message.partition(), message.offset());
            offsets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .started(&topic, partition, offset);
            async move {
                let payload = Bytes::copy_from_slice(message.payload().unwrap_or_default());
                let headers = headers_of(&message);
                let mut attempt = 1;
                loop {
                    let incoming = Incoming {
                        subject: topic.clone(),
                        payload: payload.clone(),
                        headers: headers.clone(),
                    };
                    let ran = handler.run(incoming, u64::from(attempt)).await;
                    match ran.result {
                        Ok(_) => break,
                        Err(failure) if attempt >= max_deliver => {
                            if let Some(dead_letter) = &handler.spec.dead_letter {
                                let why = dead_letter_headers(
                                    &failure,
                                    ("karman-topic", &topic),
                                    u64::from(attempt),
                                    &ran.trace,
                                );
                                if let Err(error) = produce(&producer, dead_letter, payload.clone(), &why).await {
                                    // Not committed: the message comes back after a restart.
                                    tracing::error!(%error, "cannot produce to the dead letter topic");
                                    return;
                                }
                                handler.stats().dead_lettered.inc();
                            }
                            tracing::warn!(%topic, partition, offset, attempt, "giving up on a message");
                            break;
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
                            attempt += 1;
                        }
                    }
                }
                // Stored under the lock: two messages finishing at once store their positions in
                // the order they were computed, so a later one is never overwritten by an
                // earlier one (which librdkafka would commit, at the latest when it closes).
                let mut offsets = offsets.lock().unwrap_or_else(|e| e.into_inner());
                let safe = offsets.finished(&topic, partition, offset);
                // librdkafka commits the stored offset + 1: store the last one to skip.
                if safe > 0
                    && let Err(error) = consumer.store_offset(&topic, partition, safe - 1)
                {
                    tracing::warn!(%error, "cannot store a Kafka offset");
                }
            }
        })
        .await;
        commit_final(
            &consumer,
            &finished.lock().unwrap_or_else(|e| e.into_inner()),
        );
    }))
}

/// On shutdown, commits what finished explicitly and synchronously, so that the next member of
/// the group starts right after it (auto-commit alone may not have run since the last message).
fn commit_final(consumer: &StreamConsumer, offsets: &Offsets) {
    let mut positions = TopicPartitionList::new();
    for (topic, partition, offset) in offsets.safe_positions() {
        if let Err(error) =
            positions.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset))
        {
            tracing::warn!(%error, %topic, partition, "cannot record a Kafka offset to commit");
        }
    }
    if positions.count() == 0 {
        return;
    }
    if let Err(error) = consumer.commit(&positions, CommitMode::Sync) {
        tracing::warn!(%error, "final Kafka commit failed: messages after the last automatic commit will run again");
    }
}

#[cfg(test)]
mod tests {
    use super::Offsets;

    #[test]
    fn the_committed_offset_never_passes_a_running_message() {
        let mut offsets = Offsets::default();
        for offset in [10, 11, 12] {
            offsets.started("t", 0, offset);
        }
        assert_eq!(offsets.finished("t", 0, 12), 10, "10 and 11 still run");
        assert_eq!(offsets.finished("t", 0, 10), 11);
        assert_eq!(
            offsets.finished("t", 0, 11),
            13,
            "all done: after the highest"
        );
    }

    #[test]
    fn the_final_commit_stops_at_the_lowest_running_message() {
        let mut offsets = Offsets::default();
        for offset in [0, 1, 2] {
            offsets.started("t", 0, offset);
        }
        offsets.started("t", 1, 7);
        offsets.finished("t", 0, 0);
        offsets.finished("t", 0, 2);
        assert_eq!(
            offsets.safe_positions(),
            vec![("t".to_string(), 0, 1)],
            "partition 1 finished nothing: nothing to commit there"
        );
        offsets.finished("t", 0, 1);
        assert_eq!(offsets.safe_positions(), vec![("t".to_string(), 0, 3)]);
    }
}
