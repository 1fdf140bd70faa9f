//! Messages per second through a one-step stream handler (the `echo` Runnable with
//! `respondTo`, a fresh instance per message and with `reuse:`) against a raw client loop doing
//! the same moves without WebAssembly, for core NATS, JetStream and Kafka, in one run:
//!
//! | source | raw loop |
//! |--------|----------|
//! | `nats` | async-nats subscribe → publish |
//! | `jetstream` | async-nats durable pull consumer → JetStream publish (awaiting its ack) → ack |
//! | `kafka` | rdkafka consumer → produce (awaiting the delivery report) → store the offset |
//!
//! Every loop and handler runs at most 64 messages at once (`maxInFlight: 64`); on core NATS,
//! which drops what a subscriber has no room for, at most 256 messages are on their way at once
//! (published and not yet answered). The targets of
//! a source are measured in turns (`ROUNDS` rounds, each target once per round) and the median
//! is reported. Before measuring, each target is probed until it answers, so no measurement
//! publishes before its handler has subscribed.
//!
//! ```sh
//! scripts/services && scripts/build-guests
//! cargo run --release -p karman-bench --bin stream-throughput
//! MESSAGES=50000 ROUNDS=5 SOURCES=nats,kafka cargo run --release -p karman-bench --bin stream-throughput
//! ```
//!
//! `TARGETS=reuse` (or `raw`, `fresh`, a comma-separated list) measures only those targets, to
//! profile one of them; the ratios are printed against the first one measured.
//!
//! With `RESULTS=<file>` the ratios are also appended there as `measure|result|target` lines
//! (bench/all.sh).
//!
//! NATS is `NATS_URL` (default `127.0.0.1:4222`, with JetStream); Kafka is a tansu broker the
//! bench starts on a free port (`scripts/services` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use futures_util::StreamExt;
use karman_bench::record_result;
use karman_directive::ParseOptions;
use karman_runtime::{Backends, Runtime, RuntimeConfig};
use karman_streams::{Streams, StreamsConfig};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Semaphore;

/// Messages a loop or handler runs at once.
const IN_FLIGHT: usize = 64;
/// Core NATS messages on their way at once (published, their result not yet received): below
/// what a Karman handler queues (8 × `maxInFlight`), beyond which core NATS drops messages.
const WINDOW: usize = 256;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The payload of message `n` of a measurement tagged `tag`.
fn payload(tag: &str, n: usize) -> Bytes {
    Bytes::from(format!("{tag}:{n}"))
}

fn tagged(payload: &[u8], tag: &str) -> bool {
    payload.starts_with(tag.as_bytes()) && payload.get(tag.len()) == Some(&b':')
}

/// One thing measured: its label and where its messages go.
struct Target {
    label: String,
    wire: Wire,
}

/// Where a target's messages go in and come out.
#[derive(Clone)]
enum Wire {
    /// Published to `input` on core NATS (a JetStream stream may take them), results read
    /// from `output` on core NATS.
    Nats {
        client: async_nats::Client,
        input: String,
        output: String,
    },
    /// Produced to topic `input`, results read from topic `output`.
    Kafka {
        brokers: String,
        producer: FutureProducer,
        input: String,
        results: Arc<StreamConsumer>,
    },
}

impl Wire {
    /// Sends probes until one comes back: the loop or handler behind is listening.
    async fn until_answering(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = match self {
                Wire::Nats { .. } => {
                    let mut results = self.nats_results().await;
                    self.send("probe", 1).await;
                    let answer =
                        tokio::time::timeout(Duration::from_millis(200), results.next()).await;
                    matches!(answer, Ok(Some(_)))
                }
                Wire::Kafka { results, .. } => {
                    self.send("probe", 1).await;
                    let answer = tokio::time::timeout(Duration::from_secs(2), results.recv()).await;
                    matches!(answer, Ok(Ok(_)))
                }
            };
            if answered {
                return;
            }
            assert!(Instant::now() < deadline, "no answer to probes in 60 s");
        }
    }

    async fn nats_results(&self) -> async_nats::Subscriber {
        let Wire::Nats { client, output, .. } = self else {
            unreachable!()
        };
        let results = client.subscribe(output.clone()).await.unwrap();
        client.flush().await.unwrap();
        results
    }

    /// Sends messages `0..count` tagged `tag`.
    async fn send(&self, tag: &str, count: usize) {
        match self {
            Wire::Nats { client, input, .. } => {
                for n in 0..count {
                    client
                        .publish(input.clone(), payload(tag, n))
                        .await
                        .unwrap();
                }
                client.flush().await.unwrap();
            }
            Wire::Kafka {
                producer, input, ..
            } => {
                // Enqueued at once (librdkafka batches them), then every delivery report awaited.
                let mut deliveries = Vec::with_capacity(count);
                for n in 0..count {
                    let body = payload(tag, n);
                    let record = FutureRecord::<(), [u8]>::to(input).payload(&body[..]);
                    let delivery = producer
                        .send_result(record)
                        .unwrap_or_else(|(e, _)| panic!("cannot enqueue a message: {e}"));
                    deliveries.push(delivery);
                }
                for delivery in futures_util::future::join_all(deliveries).await {
                    match delivery {
                        Ok(Ok(_)) => {}
                        Ok(Err((e, _))) => panic!("cannot produce: {e}"),
                        Err(_) => panic!("the producer went away"),
                    }
                }
            }
        }
    }

    /// Sends `count` messages and waits for as many results; messages/s.
    async fn measure(self, tag: String, count: usize) -> f64 {
        let started;
        let mut received = 0;
        match &self {
            Wire::Nats { client, input, .. } => {
                let mut results = self.nats_results().await;
                started = Instant::now();
                let mut sent = 0;
                while received < count {
                    // Core NATS drops what a subscriber has no room for: at most `WINDOW`
                    // messages are on their way at once.
                    while sent < count && sent - received < WINDOW {
                        client
                            .publish(input.clone(), payload(&tag, sent))
                            .await
                            .unwrap();
                        sent += 1;
                    }
                    match tokio::time::timeout(Duration::from_secs(30), results.next()).await {
                        Ok(Some(message)) if tagged(&message.payload, &tag) => received += 1,
                        Ok(Some(_)) => {}
                        _ => panic!("{tag}: only {received} of {count} results arrived"),
                    }
                }
            }
            Wire::Kafka {
                results, brokers, ..
            } => {
                started = Instant::now();
                let publisher = {
                    let (wire, tag) = (self.clone(), tag.clone());
                    tokio::spawn(async move { wire.send(&tag, count).await })
                };
                while received < count {
                    match tokio::time::timeout(Duration::from_secs(30), results.recv()).await {
                        Ok(Ok(message)) if tagged(message.payload().unwrap_or_default(), &tag) => {
                            received += 1
                        }
                        Ok(_) => {}
                        Err(_) => {
                            panic!("{tag}: only {received} of {count} results arrived ({brokers})")
                        }
                    }
                }
                publisher.await.unwrap();
            }
        }
        count as f64 / started.elapsed().as_secs_f64()
    }
}

fn target(label: &str, wire: Wire) -> Target {
    Target {
        label: label.to_string(),
        wire,
    }
}

/// Karman with the `echo` Runnable as a one-step handler: `source` is the handler's YAML
/// (`source: nats, resource: …`), `connections` the app's.
async fn karman(name: &str, connections: &str, source: &str, reuse: bool) -> Streams {
    let echo = root().join("target/wasm32-wasip2/guest/echo.wasm");
    assert!(echo.exists(), "run scripts/build-guests first");
    let yaml = format!(
        r#"
identifier: bench.streams.{name}
appVersion: v1
connections: {connections}
components:
  - {{ name: echo, source: "{echo}", reuse: {reuse} }}
handlers:
  - {{ type: stream, {source}, maxInFlight: {IN_FLIGHT}, steps: [ {{ fn: echo }} ] }}
"#,
        echo = echo.display(),
    );
    let app = karman_directive::parse(&yaml, &ParseOptions::new("bench.yaml", root()))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = RuntimeConfig {
        backends: Backends::connect(&app).await.unwrap(),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::load(app, config).unwrap();
    Streams::start(Arc::new(runtime), StreamsConfig::default())
        .await
        .unwrap()
}

/// What keeps a source's targets alive until the end of the run.
#[derive(Default)]
struct Running {
    streams: Vec<Streams>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    broker: Option<Child>,
}

impl Running {
    async fn stop(mut self) {
        for streams in &self.streams {
            streams.shutdown().await;
        }
        for task in &self.tasks {
            task.abort();
        }
        if let Some(broker) = &mut self.broker {
            let _ = broker.kill();
            let _ = broker.wait();
        }
    }
}

async fn nats_targets(url: &str, run: u32, running: &mut Running) -> Vec<Target> {
    let client = async_nats::connect(url).await.expect("NATS is reachable");
    let wire = |prefix: &str| Wire::Nats {
        client: client.clone(),
        input: format!("{prefix}.in"),
        output: format!("{prefix}.out"),
    };
    let prefix = format!("bench.{run}.nats.raw");
    let mut inputs = client.subscribe(format!("{prefix}.in")).await.unwrap();
    let (echo, output) = (client.clone(), format!("{prefix}.out"));
    running.tasks.push(tokio::spawn(async move {
        while let Some(message) = inputs.next().await {
            echo.publish(output.clone(), message.payload).await.unwrap();
        }
    }));
    let mut targets = vec![target("raw async-nats loop", wire(&prefix))];
    for reuse in [false, true] {
        let prefix = format!("bench.{run}.nats.{}", kind(reuse));
        let connections = format!(r#"{{ nats: {{ serverAddress: "{url}" }} }}"#);
        let source = format!("source: nats, resource: {prefix}.in, respondTo: {prefix}.out");
        let name = format!("nats-{}", kind(reuse));
        running
            .streams
            .push(karman(&name, &connections, &source, reuse).await);
        targets.push(target(&karman_label(reuse), wire(&prefix)));
    }
    targets
}

async fn jetstream_targets(url: &str, run: u32, running: &mut Running) -> Vec<Target> {
    let client = async_nats::connect(url).await.expect("NATS is reachable");
    let js = jetstream::new(client.clone());
    let wire = |prefix: &str| Wire::Nats {
        client: client.clone(),
        input: format!("{prefix}.in"),
        output: format!("{prefix}.out"),
    };
    let mut targets = Vec::new();
    for which in ["raw", "fresh", "reuse"] {
        let prefix = format!("bench.{run}.js.{which}");
        let stream = format!("BENCH_{run}_{}", which.to_uppercase());
        // One stream over the input and the results (a JetStream handler's results must be
        // stored), kept in memory and removed at the end of the run.
        js.create_stream(jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![format!("{prefix}.in"), format!("{prefix}.out")],
            storage: jetstream::stream::StorageType::Memory,
            max_age: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .unwrap();
        if which == "raw" {
            running.tasks.push(tokio::spawn(raw_jetstream(
                js.clone(),
                stream,
                prefix.clone(),
            )));
            targets.push(target("raw JetStream loop", wire(&prefix)));
        } else {
            let reuse = which == "reuse";
            let connections = format!(r#"{{ nats: {{ serverAddress: "{url}" }} }}"#);
            let source = format!(
                "source: nats, stream: {stream}, resource: {prefix}.in, respondTo: {prefix}.out"
            );
            let name = format!("js-{which}");
            running
                .streams
                .push(karman(&name, &connections, &source, reuse).await);
            targets.push(target(&karman_label(reuse), wire(&prefix)));
        }
    }
    targets
}

/// Pull-consumes `prefix.in` from `stream`, publishes each payload to `prefix.out` through
/// JetStream (awaiting the stream's ack), then acks the message; 64 at once.
async fn raw_jetstream(js: jetstream::Context, stream: String, prefix: String) {
    let stream = js.get_stream(&stream).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("raw".into()),
            filter_subject: format!("{prefix}.in"),
            max_ack_pending: IN_FLIGHT as i64,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(IN_FLIGHT)
        .messages()
        .await
        .unwrap();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let output = format!("{prefix}.out");
    while let Some(Ok(message)) = messages.next().await {
        let slot = slots.clone().acquire_owned().await.unwrap();
        let (js, output) = (js.clone(), output.clone());
        tokio::spawn(async move {
            let ack = js.publish(output, message.payload.clone()).await.unwrap();
            ack.await.unwrap();
            message.ack().await.unwrap();
            drop(slot);
        });
    }
}

async fn kafka_targets(run: u32, running: &mut Running) -> Option<Vec<Target>> {
    let tansu = std::env::var("KARMAN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/karman/tools")
        })
        .join("tansu");
    if !tansu.exists() {
        eprintln!(
            "kafka: {} is missing (scripts/services installs it); skipped",
            tansu.display()
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let brokers = format!("127.0.0.1:{port}");
    let url = format!("tcp://{brokers}");
    let child = Command::new(&tansu)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    running.broker = Some(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&brokers).is_err() {
        assert!(Instant::now() < deadline, "tansu did not come up on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = |group: Option<&str>| {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &brokers);
        if let Some(group) = group {
            config
                .set("group.id", group)
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.offset.store", "false");
        }
        config
    };
    let admin: AdminClient<DefaultClientContext> = config(None).create().unwrap();
    let names: Vec<String> = ["raw", "fresh", "reuse"]
        .iter()
        .flat_map(|which| [format!("{which}-in"), format!("{which}-out")])
        .collect();
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|name| NewTopic::new(name, 1, TopicReplication::Fixed(1)))
        .collect();
    for created in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        created.unwrap();
    }
    let producer: FutureProducer = config(None).create().unwrap();
    let wire = |which: &str| {
        let results: StreamConsumer = config(Some(&format!("results-{which}-{run}")))
            .create()
            .unwrap();
        results.subscribe(&[&format!("{which}-out")]).unwrap();
        Wire::Kafka {
            brokers: brokers.clone(),
            producer: producer.clone(),
            input: format!("{which}-in"),
            results: Arc::new(results),
        }
    };

    let raw: StreamConsumer = config(Some("raw")).create().unwrap();
    raw.subscribe(&["raw-in"]).unwrap();
    running
        .tasks
        .push(tokio::spawn(raw_kafka(Arc::new(raw), producer.clone())));
    let mut targets = vec![target("raw rdkafka loop", wire("raw"))];
    for reuse in [false, true] {
        let which = kind(reuse);
        let connections =
            format!(r#"{{ kafka: {{ brokers: "{brokers}", group: karman-{which} }} }}"#);
        let source = format!("source: kafka, resource: {which}-in, respondTo: {which}-out");
        running
            .streams
            .push(karman(&format!("kafka-{which}"), &connections, &source, reuse).await);
        targets.push(target(&karman_label(reuse), wire(which)));
    }
    Some(targets)
}

/// Consumes `raw-in`, produces each payload to `raw-out` (awaiting the delivery report), then
/// stores the message's offset for the next automatic commit; 64 at once.
async fn raw_kafka(consumer: Arc<StreamConsumer>, producer: FutureProducer) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(message) = consumer.recv().await else {
            continue;
        };
        let message = message.detach();
        let slot = slots.clone().acquire_owned().await.unwrap();
        let (consumer, producer) = (consumer.clone(), producer.clone());
        tokio::spawn(async move {
            let record = FutureRecord::<(), [u8]>::to("raw-out")
                .payload(message.payload().unwrap_or_default());
            producer
                .send(record, Duration::from_secs(30))
                .await
                .unwrap_or_else(|(e, _)| panic!("cannot produce: {e}"));
            let _ = consumer.store_offset(message.topic(), message.partition(), message.offset());
            drop(slot);
        });
    }
}

fn kind(reuse: bool) -> &'static str {
    if reuse { "reuse" } else { "fresh" }
}

fn karman_label(reuse: bool) -> String {
    if reuse {
        "karman, reuse: true".into()
    } else {
        "karman, fresh instance".into()
    }
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

#[tokio::main]
async fn main() {
    // Karman's own warnings (a failed run, a redelivery) go to stderr; `KARMAN_LOG` sets the
    // filter (e.g. `debug`).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KARMAN_LOG")
                .unwrap_or_else(|_| "karman_runtime=warn,karman_streams=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let url = env_or("NATS_URL", "127.0.0.1:4222");
    let count: usize = env_or("MESSAGES", "20000")
        .parse()
        .expect("MESSAGES is a number");
    let rounds: usize = env_or("ROUNDS", "3").parse().expect("ROUNDS is a number");
    let sources = env_or("SOURCES", "nats,jetstream,kafka");
    let run = std::process::id();
    // The labels' words: "raw …", "karman, fresh instance", "karman, reuse: true".
    let only: Vec<String> = env_or("TARGETS", "raw,fresh,reuse")
        .split(',')
        .map(str::to_string)
        .collect();

    println!(
        "{count} messages per measurement, median of {rounds} interleaved rounds, one-step echo handler, maxInFlight {IN_FLIGHT}"
    );
    println!(
        "{:<10} {:<24} {:>10}  {:>7}",
        "source", "target", "msg/s", "vs raw"
    );
    for source in sources.split(',') {
        let mut running = Running::default();
        let targets = match source {
            "nats" => nats_targets(&url, run, &mut running).await,
            "jetstream" => jetstream_targets(&url, run, &mut running).await,
            "kafka" => match kafka_targets(run, &mut running).await {
                Some(targets) => targets,
                None => continue,
            },
            other => panic!("unknown source `{other}` in SOURCES (nats, jetstream, kafka)"),
        };
        let targets: Vec<Target> = targets
            .into_iter()
            .filter(|t| only.iter().any(|kind| t.label.contains(kind.as_str())))
            .collect();
        let mut rates = vec![Vec::new(); targets.len()];
        for (i, target) in targets.iter().enumerate() {
            // Until it answers, then a warm-up of a tenth (instances, connections, caches).
            target.wire.until_answering().await;
            let warm_up = (count / 10).max(1);
            target
                .wire
                .clone()
                .measure(format!("warm{i}"), warm_up)
                .await;
        }
        for round in 0..rounds {
            for (i, target) in targets.iter().enumerate() {
                let rate = target
                    .wire
                    .clone()
                    .measure(format!("r{round}t{i}"), count)
                    .await;
                rates[i].push(rate);
            }
        }
        let medians: Vec<f64> = rates.into_iter().map(median).collect();
        for (target, rate) in targets.iter().zip(&medians) {
            println!(
                "{source:<10} {:<24} {rate:>10.0}  {:>6.2}x",
                target.label,
                rate / medians[0]
            );
        }
        if targets.len() < 3 {
            drop(targets);
            running.stop().await;
            continue;
        }
        let (fresh_target, reuse_target) = match source {
            "nats" => (">= 0.30x", ">= 0.50x"),
            _ => ("—", "—"),
        };
        record_result(
            &format!("Streams, {source}: fresh instance / raw loop (msg/s)"),
            &format!("{:.2}x", medians[1] / medians[0]),
            fresh_target,
        );
        record_result(
            &format!("Streams, {source}: reuse: / raw loop (msg/s)"),
            &format!("{:.2}x", medians[2] / medians[0]),
            reuse_target,
        );
        // The clients go first, while their broker is still there to say goodbye to.
        drop(targets);
        running.stop().await;
    }
}
