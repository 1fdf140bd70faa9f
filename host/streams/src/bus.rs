//! The in-process bus: subjects as in NATS (`a.b`, `*` for one token, a final `>` for the
//! rest), no broker. The embedded default for development and tests, and how `respondTo` of one
//! handler feeds another in the same process.
//!
//! Delivery waits for room in each subscriber's queue, so a slow handler slows its publishers
//! rather than piling up messages.

use std::sync::{Arc, RwLock};

use bytes::Bytes;
pub use karman_directive::subject_matches;
use tokio::sync::mpsc;

/// A message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// The subject it was published to.
    pub subject: String,
    /// The payload.
    pub payload: Bytes,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
}

impl BusMessage {
    /// A message without headers.
    pub fn new(subject: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            subject: subject.into(),
            payload: payload.into(),
            headers: Vec::new(),
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Subscription {
    pattern: String,
    sender: mpsc::Sender<BusMessage>,
}

/// The bus; clones share it.
#[derive(Clone, Default)]
pub struct Bus {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.subscriptions.read().map_or(0, |s| s.len());
        f.debug_struct("Bus")
            .field("subscriptions", &count)
            .finish()
    }
}

impl Bus {
    /// Receives every message published to a subject matching `pattern`, with room for
    /// `capacity` messages waiting.
    pub fn subscribe(&self, pattern: &str, capacity: usize) -> mpsc::Receiver<BusMessage> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        self.subscriptions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Subscription {
                pattern: pattern.to_string(),
                sender,
            });
        receiver
    }

    /// Delivers `message` to every matching subscriber, waiting for room in their queues;
    /// returns how many received it.
    pub async fn publish(&self, message: BusMessage) -> usize {
        let senders: Vec<mpsc::Sender<BusMessage>> = {
            let mut subscriptions = self
                .subscriptions
                .write()
                .unwrap_or_else(|e| e.into_inner());
            subscriptions.retain(|s| !s.sender.is_closed());
            subscriptions
                .iter()
                .filter(|s| subject_matches(&s.pattern, &message.subject))
                .map(|s| s.sender.clone())
                .collect()
        };
        let mut delivered = 0;
        for sender in senders {
            if sender.send(message.clone()).await.is_ok() {
                delivered += 1;
            }
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn publish_reaches_matching_subscribers_only() {
        let bus = Bus::default();
        let mut orders = bus.subscribe("orders.*", 4);
        let mut all = bus.subscribe(">", 4);
        assert_eq!(bus.publish(BusMessage::new("orders.new", "1")).await, 2);
        assert_eq!(bus.publish(BusMessage::new("users.new", "2")).await, 1);
        assert_eq!(orders.recv().await.unwrap().payload, "1");
        assert_eq!(all.recv().await.unwrap().payload, "1");
        assert_eq!(all.recv().await.unwrap().subject, "users.new");
        drop(orders);
        assert_eq!(bus.publish(BusMessage::new("orders.new", "3")).await, 1);
    }
}
