//! One stream handler at run time: turns a message into a run of its steps, and publishes the
//! result where the Directive says.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use karman_directive::StreamHandler;
use karman_runtime::{Failure, Reply, Request, Runtime};

use crate::bus::{Bus, BusMessage};

/// Where results are published: the handler's own source.
#[derive(Clone)]
pub(crate) enum Outlet {
    Bus(Bus),
    Nats(async_nats::Client),
    Kafka(rdkafka::producer::FutureProducer),
}

impl Outlet {
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
            Self::Kafka(producer) => {
                crate::kafka::produce(producer, subject, payload, headers).await
            }
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

/// A message as the steps see it: `req.url()` is the subject, `req.body()` the payload.
pub(crate) struct Incoming {
    pub(crate) subject: String,
    pub(crate) payload: Bytes,
    pub(crate) headers: Vec<(String, String)>,
}

/// Counts of one handler's runs (for logs, tests and benches).
#[derive(Debug, Default)]
pub struct HandlerStats {
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl HandlerStats {
    /// Messages whose steps succeeded.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Messages whose steps failed (each delivery counts).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

pub(crate) struct Handler {
    pub(crate) index: usize,
    pub(crate) spec: StreamHandler,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) outlet: Outlet,
    pub(crate) stats: Arc<HandlerStats>,
}

impl Handler {
    /// Runs the steps for `message`; on success publishes the result to `respondTo`.
    pub(crate) async fn run(&self, message: Incoming) -> Result<Reply, Failure> {
        let request = Request {
            method: "STREAM".into(),
            url: message.subject,
            id: uuid::Uuid::new_v4().simple().to_string(),
            headers: message.headers,
            body: message.payload,
            params: Vec::new(),
        };
        let id = request.id.clone();
        let subject = request.url.clone();
        let result = self.runtime.run_stream(self.index, request).await;
        match &result {
            Ok(reply) => {
                self.stats.succeeded.fetch_add(1, Ordering::Relaxed);
                if let Some(target) = &self.spec.respond_to
                    && let Err(error) = self.outlet.publish(target, reply.body.clone(), &[]).await
                {
                    tracing::warn!(request_id = %id, respond_to = %target, %error, "cannot publish the result");
                }
            }
            Err(failure) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    request_id = %id,
                    source = %self.spec.source,
                    %subject,
                    status = failure.status,
                    "message failed: {}",
                    failure.message
                );
            }
        }
        result
    }
}
