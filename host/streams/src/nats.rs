//! `source: nats`: a core NATS queue-group subscription (several Karman processes of one app
//! share the messages; at most once; a failed message goes to `deadLetter` after its one run, see
//! [`Handler`](crate::Handler)), or, with `stream:`, a durable JetStream pull consumer
//! (at least once: acked after the steps succeed and their result is published, redelivered
//! after a failure or a crash, and sent to `deadLetter` after `maxDeliver` deliveries).
//!
//! A JetStream handler publishes its `respondTo` results and dead letters through JetStream and
//! waits for the stream's ack: a message is acked only once its result is stored, and
//! terminated only once its dead letter is. When no stream takes them (none covers the subject,
//! or the broker is unreachable), the message is not acked but redelivered after a backoff, so
//! nothing is dropped silently. Karman counts the deliveries itself: the consumer's own
//! `max_deliver` is unlimited, so the broker cannot give up on a message whose dead letter
//! could not be stored.
//!
//! A message with a reply subject (a NATS request) gets the result as its reply, or, when the
//! steps fail, a JSON error with the header `Karman-Error: <status>`.
//!
//! A core NATS handler has a connection of its own, whose subscription queues at most
//! [`QUEUED_PER_SLOT`] × `maxInFlight` messages (not async-nats's 65,536): a handler that cannot
//! keep up drops what arrives beyond that, as core NATS (at most once) allows, and counts
//! ([`HandlerStats::dropped`](crate::HandlerStats::dropped)) and logs the drops.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use bytes::Bytes;
use karman_directive::{JetStreamOptions, NatsConnection, redact_url};
use karman_runtime::Failure;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::StreamsError;
use crate::consume::{Spread, consume};
use crate::handler::{Handler, Incoming, dead_letter_headers};

/// Messages a core NATS subscription queues per `maxInFlight` slot before it drops.
pub(crate) const QUEUED_PER_SLOT: usize = 8;

/// Connects to NATS, naming the connection and its address when it cannot.
pub(crate) async fn connect(
    connection: &NatsConnection,
) -> Result<async_nats::Client, StreamsError> {
    connect_with(connection, async_nats::ConnectOptions::new()).await
}

/// Connects with `options` (a subscription capacity, an event callback).
async fn connect_with(
    connection: &NatsConnection,
    options: async_nats::ConnectOptions,
) -> Result<async_nats::Client, StreamsError> {
    let shown: Vec<String> = connection.addresses.iter().map(|a| redact_url(a)).collect();
    let mut options = options
        .name("karman")
        .connection_timeout(Duration::from_secs(5));
    if let Some(token) = &connection.token {
        options = options.token(token.clone());
    }
    if let (Some(user), Some(password)) = (&connection.user, &connection.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    let fail = |message: String| StreamsError::Connect {
        location: connection.location.to_string(),
        message,
    };
    if let Some(seed) = &connection.nkey {
        // Checked here: async-nats would only fail at the handshake, saying less.
        nkeys::KeyPair::from_seed(seed)
            .map_err(|e| fail(format!("`nkey` is not an NKey seed: {e}")))?;
        options = options.nkey(seed.clone());
    }
    if let Some(file) = &connection.credentials {
        options = options.credentials_file(file).await.map_err(|e| {
            fail(format!(
                "cannot use the NATS credentials file {}: {e}",
                file.display()
            ))
        })?;
    }
    if let Some(tls) = &connection.tls {
        options = options.require_tls(tls.required);
        // async-nats reads these only while connecting, with a vaguer message: check them here.
        let readable = |file: &std::path::Path, what: &str| {
            std::fs::read(file).map(drop).map_err(|e| {
                fail(format!(
                    "cannot read the NATS {what} {}: {e}",
                    file.display()
                ))
            })
        };
        if let Some(file) = &tls.ca_file {
            readable(file, "CA file")?;
            options = options.add_root_certificates(file.clone());
        }
        if let Some(client) = &tls.client_certificate {
            readable(&client.cert_file, "client certificate")?;
            readable(&client.key_file, "client key")?;
            options =
                options.add_client_certificate(client.cert_file.clone(), client.key_file.clone());
        }
    }
    let addresses: Vec<async_nats::ServerAddr> = connection
        .addresses
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| StreamsError::Connect {
            location: connection.location.to_string(),
            message: format!("`{}` is not a NATS address: {e}", shown.join(", ")),
        })?;
    options
        .connect(addresses)
        .await
        .map_err(|e| StreamsError::Connect {
            location: connection.location.to_string(),
            message: format!("cannot connect to NATS at {}: {e}", shown.join(", ")),
        })
}

fn headers_of(message: &async_nats::Message) -> Vec<(String, String)> {
    message
        .headers
        .iter()
        .flat_map(|headers| headers.iter())
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string().to_ascii_lowercase(), value.to_string()))
        })
        .collect()
}

fn error_body(failure: &Failure) -> Bytes {
    serde_json::json!({ "code": failure.code, "message": failure.message })
        .to_string()
        .into()
}

/// Core NATS: a queue subscription named after the app, on a connection of the handler's own
/// whose subscription queue is bounded by `maxInFlight`.
pub(crate) async fn serve_core(
    handler: Arc<Handler>,
    connection: &NatsConnection,
    queue_group: String,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StreamsError> {
    let capacity = QUEUED_PER_SLOT * handler.spec.max_in_flight.max(1);
    let counted = handler.clone();
    let options = async_nats::ConnectOptions::new()
        .subscription_capacity(capacity)
        .event_callback(move |event| {
            let handler = counted.clone();
            async move {
                if let async_nats::Event::SlowConsumer(_) = event {
                    let dropped = handler.stats().count_dropped();
                    // 1, 2, 4, 8, …: a flood of drops is not a flood of log lines.
                    if dropped.is_power_of_two() {
                        tracing::warn!(
                            subject = %handler.spec.resource,
                            dropped,
                            capacity,
                            "core NATS messages dropped: the handler cannot keep up (maxInFlight {} and {capacity} queued)",
                            handler.spec.max_in_flight
                        );
                    }
                }
            }
        });
    let client = connect_with(connection, options).await?;
    let subject = handler.spec.resource.clone();
    let subscriber = client
        .queue_subscribe(subject.clone(), queue_group)
        .await
        .map_err(|e| StreamsError::Subscribe {
            location: handler.spec.location.to_string(),
            message: format!("cannot subscribe to `{subject}`: {e}"),
        })?;
    // The subscription leaves the client's buffer before start-up goes on: once `Streams::start`
    // returns (and `/readyz` answers `ready`), what is published to the subject is delivered.
    client.flush().await.map_err(|e| StreamsError::Subscribe {
        location: handler.spec.location.to_string(),
        message: format!("cannot subscribe to `{subject}`: {e}"),
    })?;
    let flushed = client.clone();
    // Shared by the runs: cloning a client per message costs several reference counts.
    let client = Arc::new(client);
    Ok(tokio::spawn(async move {
        consume(
            subscriber,
            handler.slots(),
            shutdown,
            Spread::Lanes,
            move |message| {
                let (handler, client) = (handler.clone(), client.clone());
                async move {
                    let reply_to = message.reply.clone();
                    let incoming = Incoming {
                        subject: message.subject.to_string(),
                        headers: headers_of(&message),
                        payload: message.payload,
                    };
                    let result = handler.run(incoming, 1).await.result;
                    if let Some(reply_to) = reply_to {
                        let sent = match result {
                            Ok(reply) => client.publish(reply_to, reply.body).await,
                            Err(failure) => {
                                let mut headers = async_nats::HeaderMap::new();
                                headers.insert("Karman-Error", failure.status.to_string().as_str());
                                client
                                    .publish_with_headers(reply_to, headers, error_body(&failure))
                                    .await
                            }
                        };
                        if let Err(error) = sent {
                            tracing::warn!(%error, "cannot send the reply");
                        }
                    }
                }
            },
        )
        .await;
        if let Err(error) = flushed.flush().await {
            tracing::warn!(%error, "cannot flush NATS");
        }
    }))
}

/// JetStream: a durable pull consumer on a stream over the handler's subject (both created
/// when absent), acked after the steps succeed.
pub(crate) async fn serve_jetstream(
    handler: Arc<Handler>,
    client: async_nats::Client,
    options: JetStreamOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StreamsError> {
    let spec = &handler.spec;
    let setup = |message: String| StreamsError::Subscribe {
        location: spec.location.to_string(),
        message,
    };
    let context = jetstream::new(client.clone());
    let stream = context
        .get_or_create_stream(stream::Config {
            name: options.stream.clone(),
            subjects: vec![spec.resource.clone()],
            ..Default::default()
        })
        .await
        .map_err(|e| {
            setup(format!(
                "cannot open the JetStream stream `{}`: {e}",
                options.stream
            ))
        })?;
    // Long enough for the steps to finish: a message is redelivered only when its run is lost.
    let ack_wait = handler.runtime.stream_timeout(handler.index) + Duration::from_secs(5);
    let consumer = stream
        .get_or_create_consumer(
            &options.durable,
            consumer::pull::Config {
                durable_name: Some(options.durable.clone()),
                filter_subject: spec.resource.clone(),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait,
                // Karman gives up itself, once the dead letter is stored (see the module doc).
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            setup(format!(
                "cannot open the JetStream consumer `{}`: {e}",
                options.durable
            ))
        })?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(spec.max_in_flight)
        .messages()
        .await
        .map_err(|e| setup(format!("cannot consume from `{}`: {e}", options.stream)))?;
    let max_deliver = spec.max_deliver;
    Ok(tokio::spawn(async move {
        let slots = handler.slots();
        consume(messages, slots, shutdown, Spread::TaskPerMessage, move |message| {
            let handler = handler.clone();
            async move {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::warn!(%error, "JetStream consumer error");
                        return;
                    }
                };
                let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
                let incoming = Incoming {
                    subject: message.subject.to_string(),
                    headers: headers_of(&message.message),
                    payload: message.payload.clone(),
                };
                let ran = handler.run(incoming, delivered.try_into().unwrap_or(1)).await;
                let acked = match ran.result {
                    Ok(_) => message.ack().await,
                    Err(failure) if delivered >= i64::from(max_deliver) => {
                        match dead_letter(&handler, &message, &failure, delivered, &ran.trace).await {
                            Ok(()) => {
                                tracing::warn!(subject = %message.subject, delivered, "giving up on a message");
                                message.ack_with(AckKind::Term).await
                            }
                            Err(error) => {
                                tracing::error!(%error, subject = %message.subject, delivered, "the dead letter was not stored: the message will be redelivered");
                                message.ack_with(AckKind::Nak(Some(backoff(delivered)))).await
                            }
                        }
                    }
                    Err(_) => message.ack_with(AckKind::Nak(Some(backoff(delivered)))).await,
                };
                if let Err(error) = acked {
                    tracing::warn!(%error, "cannot acknowledge a JetStream message");
                }
            }
        })
        .await;
    }))
}

/// Publishes `message` to the handler's `deadLetter` (if it has one) with headers saying why,
/// and waits for the stream's ack.
async fn dead_letter(
    handler: &Handler,
    message: &jetstream::Message,
    failure: &Failure,
    delivered: i64,
    trace: &[(String, String)],
) -> Result<(), String> {
    let Some(dead_letter) = &handler.spec.dead_letter else {
        return Ok(());
    };
    let headers = dead_letter_headers(
        failure,
        ("karman-subject", &message.subject),
        delivered.try_into().unwrap_or(0),
        trace,
    );
    handler
        .outlet()
        .publish(dead_letter, message.payload.clone(), &headers)
        .await?;
    handler.stats().dead_lettered.inc();
    Ok(())
}

/// The wait before a failed message is redelivered: 100 ms, doubling with each delivery, at most
/// 12.8 s.
fn backoff(delivered: i64) -> Duration {
    Duration::from_millis(100 * 2u64.pow(delivered.clamp(1, 8) as u32 - 1))
}
