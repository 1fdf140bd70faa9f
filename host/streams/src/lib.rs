//! Karman's message and timer inputs: stream handlers (`type: stream`) and `schedules:` run
//! the same step sequences as HTTP requests.
//!
//! | source | delivery | shared by several processes |
//! |--------|----------|-----------------------------|
//! | `bus` (default) | in process; `respondTo` of one handler feeds another | no |
//! | `nats` | core NATS queue group named after the app: at most once | yes, each message to one process |
//! | `nats` + `stream:` | JetStream durable consumer: at least once, acked after the steps succeed | yes |
//! | `kafka` | consumer group: at least once, offsets committed after the steps succeed | yes |
//!
//! | `server` | a WebSocket endpoint of the HTTP server (which runs it through [`Handler`]) | — |
//!
//! A failed message goes to the handler's `deadLetter`, if it has one: after its one run on the
//! bus and core NATS, after `maxDeliver` runs on JetStream and Kafka.
//!
//! Every handler takes at most `maxInFlight` messages at once; a slow step slows consumption.
//! [`Streams::shutdown`] stops taking messages and waits for those in flight (JetStream acks
//! them as they finish).
//!
//! # Examples
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use karman_runtime::{Runtime, RuntimeConfig};
//! use karman_streams::{BusMessage, Streams, StreamsConfig};
//!
//! let app = karman_directive::load("examples/login-events/Directive.yaml".as_ref())?;
//! let runtime = Arc::new(Runtime::load(app, RuntimeConfig::default())?);
//! let streams = Streams::start(runtime, StreamsConfig::default()).await?;
//! streams.bus().publish(BusMessage::new("user.login", r#"{"user":"ada"}"#)).await;
//! streams.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`bus`](Bus) is the in-process broker; `handler` runs one message through a
//! handler's steps and `outlet` publishes its result; `consume` is the loop every polled source
//! shares; `nats` and `kafka` are the brokers; `schedule` runs the timers.

#![warn(missing_docs)]

mod bus;
mod consume;
mod handler;
mod kafka;
pub mod lease;
mod metrics;
mod nats;
mod outlet;
mod schedule;

use std::collections::HashMap;
use std::sync::Arc;

use karman_directive::StreamSource;
use karman_runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bus::{Bus, BusMessage, subject_matches};
pub use handler::{Handler, HandlerStats, Incoming};
pub use lease::ScheduleLease;
pub use metrics::StreamMetrics;
pub use schedule::ScheduleStats;

use outlet::Outlet;

/// How to start the streams.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// Whether this process runs the schedules at all (`--run-schedules false` turns them off).
    pub run_schedules: bool,
    /// Where the processes of a deployment share the schedules' ticks, so each runs once (see
    /// [`lease`]): the Redis URL of `--schedule-lease`. Without it, every process that runs
    /// schedules runs every tick.
    pub schedule_lease: Option<String>,
    /// The in-process bus (shared with whoever publishes to it).
    pub bus: Bus,
    /// Where handlers and schedules are counted: one per server, kept across reloads.
    pub metrics: StreamMetrics,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        Self {
            run_schedules: true,
            schedule_lease: None,
            bus: Bus::default(),
            metrics: StreamMetrics::default(),
        }
    }
}

/// A stream source that cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// The broker cannot be reached.
    #[error("{location}: {message}")]
    Connect {
        /// Where the connection is declared.
        location: String,
        /// What went wrong (no credentials).
        message: String,
    },
    /// A subscription or consumer cannot be set up.
    #[error("{location}: {message}")]
    Subscribe {
        /// Where the handler is declared.
        location: String,
        /// What went wrong.
        message: String,
    },
}

/// The running stream handlers and schedules.
pub struct Streams {
    /// The running sources and schedules; emptied by a shutdown.
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
    bus: Bus,
    /// Every stream handler, in Directive order.
    handlers: Vec<Arc<Handler>>,
    schedule_stats: HashMap<String, ScheduleStats>,
    nats: Option<async_nats::Client>,
    /// The Kafka consumers, in their group until every handler has committed.
    kafka_members: kafka::Members,
}

impl Streams {
    /// Subscribes every stream handler of the runtime's app and starts the schedules.
    pub async fn start(runtime: Arc<Runtime>, config: StreamsConfig) -> Result<Self, StreamsError> {
        let app = runtime.app().clone();
        let (stop, shutdown) = watch::channel(false);
        let nats = match (
            &app.connections.nats,
            app.streams.iter().any(|s| s.source == StreamSource::Nats),
        ) {
            (Some(connection), true) => Some(nats::connect(connection).await?),
            _ => None,
        };
        let kafka = match (
            &app.connections.kafka,
            app.streams.iter().any(|s| s.source == StreamSource::Kafka),
        ) {
            (Some(connection), true) => Some((connection.clone(), outlet::producer(connection)?)),
            _ => None,
        };
        let kafka_members = kafka::Members::default();
        let mut tasks = Vec::new();
        let mut handlers = Vec::new();
        for (index, spec) in app.streams.iter().enumerate() {
            let outlet = match spec.source {
                StreamSource::Nats => {
                    let client = nats.clone().expect("connected above");
                    match spec.jetstream {
                        Some(_) => Outlet::JetStream(async_nats::jetstream::new(client)),
                        None => Outlet::Nats(client),
                    }
                }
                StreamSource::Kafka => {
                    Outlet::Kafka(kafka.as_ref().expect("created above").1.clone())
                }
                StreamSource::Bus | StreamSource::Server => Outlet::Bus(config.bus.clone()),
            };
            let label: Arc<str> = handler_label(&app.streams, index).into();
            let stats = config.metrics.handler(&label);
            let handler = Arc::new(Handler::new(
                index,
                spec.clone(),
                runtime.clone(),
                outlet,
                label,
                stats,
            ));
            handlers.push(handler.clone());
            let task = match spec.source {
                StreamSource::Bus => serve_bus(handler, &config.bus, shutdown.clone()),
                StreamSource::Nats => {
                    let client = nats.clone().expect("connected above");
                    match &spec.jetstream {
                        None => {
                            let connection =
                                app.connections.nats.as_ref().expect("connected above");
                            nats::serve_core(
                                handler,
                                connection,
                                app.identifier.clone(),
                                shutdown.clone(),
                            )
                            .await?
                        }
                        Some(options) => {
                            nats::serve_jetstream(
                                handler,
                                client,
                                options.clone(),
                                shutdown.clone(),
                            )
                            .await?
                        }
                    }
                }
                StreamSource::Kafka => {
                    let (connection, producer) = kafka.as_ref().expect("created above");
                    // One group per handler: each handler is its own consumer function.
                    let group = format!(
                        "{}.{}",
                        connection.group.as_deref().unwrap_or(&app.identifier),
                        spec.resource
                    );
                    kafka::serve(
                        handler,
                        connection,
                        &group,
                        producer.clone(),
                        &kafka_members,
                        shutdown.clone(),
                    )?
                }
                StreamSource::Server => continue,
            };
            tracing::info!(source = %spec.source, resource = %spec.resource, "stream handler started");
            tasks.push(task);
        }
        let mut schedule_stats = HashMap::new();
        if config.run_schedules && !app.schedules.is_empty() {
            let lease = match &config.schedule_lease {
                Some(url) => Some(ScheduleLease::connect(url).await?),
                None => None,
            };
            for (index, spec) in app.schedules.iter().enumerate() {
                let stats = config.metrics.schedule(&spec.name);
                schedule_stats.insert(spec.name.clone(), stats.clone());
                tasks.push(tokio::spawn(schedule::run(
                    runtime.clone(),
                    index,
                    spec.clone(),
                    stats,
                    lease.clone(),
                    shutdown.clone(),
                )));
            }
        } else if !app.schedules.is_empty() {
            tracing::info!(
                count = app.schedules.len(),
                "schedules are off in this process"
            );
        }
        Ok(Self {
            tasks: std::sync::Mutex::new(tasks),
            stop,
            bus: config.bus,
            handlers,
            schedule_stats,
            nats,
            kafka_members,
        })
    }

    /// The in-process bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Counts of the stream handler at `index` (in `App::streams`).
    pub fn handler_stats(&self, index: usize) -> Option<&HandlerStats> {
        self.handlers.get(index).map(|handler| handler.stats())
    }

    /// The WebSocket endpoints (`source: server`): the HTTP server runs their messages.
    pub fn websocket_handlers(&self) -> impl Iterator<Item = &Arc<Handler>> {
        self.handlers
            .iter()
            .filter(|handler| handler.spec().source == StreamSource::Server)
    }

    /// Counts of the schedule named `name` (when this process runs schedules).
    pub fn schedule_stats(&self, name: &str) -> Option<&ScheduleStats> {
        self.schedule_stats.get(name)
    }

    /// Stops taking messages and starting scheduled runs, waits for those in flight, and
    /// flushes what they published.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        self.kafka_members.leave();
        if let Some(client) = &self.nats
            && let Err(error) = client.flush().await
        {
            tracing::warn!(%error, "cannot flush NATS");
        }
    }

    /// Stops at once, abandoning messages in flight (as a crash would: JetStream redelivers
    /// what was not acked). For tests of at-least-once delivery.
    pub fn abort(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
        self.kafka_members.leave();
    }
}

/// The metric label and span name of the handler at `index`: its source and resource (`nats orders.created`),
/// and its position when an earlier handler has the same ones.
fn handler_label(handlers: &[karman_directive::StreamHandler], index: usize) -> String {
    let label =
        |spec: &karman_directive::StreamHandler| format!("{} {}", spec.source, spec.resource);
    let own = label(&handlers[index]);
    if handlers[..index]
        .iter()
        .any(|earlier| label(earlier) == own)
    {
        format!("{own} #{}", index + 1)
    } else {
        own
    }
}

fn serve_bus(handler: Arc<Handler>, bus: &Bus, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let receiver = bus.subscribe(&handler.spec.resource, handler.spec.max_in_flight);
    let messages = tokio_stream_of(receiver);
    tokio::spawn(async move {
        let slots = handler.slots();
        consume::consume(
            messages,
            slots,
            shutdown,
            consume::Spread::Lanes,
            move |message: BusMessage| {
                let handler = handler.clone();
                async move {
                    let incoming = Incoming {
                        subject: message.subject,
                        payload: message.payload,
                        headers: message.headers,
                    };
                    handler.run(incoming, 1).await;
                }
            },
        )
        .await;
    })
}

/// A receiver as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Unpin {
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx)
    }))
}
