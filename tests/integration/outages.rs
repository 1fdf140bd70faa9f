//! Backends that go down under load and come back: a private Redis, PostgreSQL, NATS
//! JetStream server or Kafka-protocol broker (tansu) is killed (`SIGKILL`) while requests or
//! messages flow, then restarted on the same port. During the outage every request fails with
//! a clear 503 JSON error within its step's timeout; after the restart service recovers within
//! seconds; and no JetStream or Kafka message is lost or left unprocessed (counted).
//!
//! Each test prints its figures (`outage figures: …`, see docs/operations.md, "Backend
//! outages"); run with `--nocapture` to see them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::support::{
    Load, OutageNats, OutagePostgres, OutageRedis, OutageS3, OutageTansu, Phase, Restartable,
    Sample, TestServer, eventually, within,
};

/// Workers of the HTTP load.
const WORKERS: usize = 4;
/// Answers wanted during the outage before the backend is restarted.
const OUTAGE_ANSWERS: usize = 24;
/// The bound on each wait of a test.
const LIMIT: Duration = Duration::from_secs(20);

/// What one outage showed.
struct Figures {
    during: usize,
    statuses: BTreeSet<u16>,
    max_latency: Duration,
    recovered_after: Duration,
}

impl Figures {
    fn print(&self, backend: &str) {
        println!(
            "outage figures: {backend}: {} requests during the outage, statuses {:?}, max latency {:?}, recovered {:?} after the restart",
            self.during, self.statuses, self.max_latency, self.recovered_after
        );
    }
}

/// Sends `path` under load while `backend` is up, killed, and restarted, and checks what the
/// clients saw: 200 before; during the outage only 503 with a JSON error whose message starts
/// with `message`, each within `timeout`; after the restart, 200 again within [`LIMIT`].
async fn http_outage(
    server: &TestServer,
    backend: &mut impl Restartable,
    path: &str,
    message: &str,
    timeout: Duration,
) -> Figures {
    let load = Load::start(server.url(path), WORKERS);
    let count = |phase: Phase, ok: bool| {
        load.samples()
            .iter()
            .filter(|s| s.phase == phase && (s.status == 200) == ok)
            .count()
    };
    eventually("answers before the outage", LIMIT, || async {
        (count(Phase::Before, true) >= 8).then_some(())
    })
    .await;

    tokio::task::block_in_place(|| backend.kill());
    load.enter(Phase::Outage);
    eventually("answers during the outage", LIMIT, || async {
        let during = load
            .samples()
            .iter()
            .filter(|s| s.phase == Phase::Outage)
            .count();
        (during >= OUTAGE_ANSWERS).then_some(())
    })
    .await;

    let restarting = Instant::now();
    tokio::task::block_in_place(|| backend.restart());
    load.enter(Phase::Restarted);
    let recovered: Instant = eventually("service to recover after the restart", LIMIT, || async {
        load.samples()
            .iter()
            .filter(|s| s.phase == Phase::Restarted && s.status == 200)
            .map(|s| s.answered)
            .min()
    })
    .await;
    let samples = load.finish().await;

    // Sent during the outage and answered before the restart began; those answered later
    // may have been served by the restarted backend.
    let in_outage = |s: &Sample| s.phase == Phase::Outage && s.answered < restarting;
    for sample in samples.iter().filter(|s| s.phase == Phase::Before) {
        // Sent before the kill, some are answered after it.
        assert!(
            [200, 503].contains(&sample.status),
            "before the outage: {sample:?}"
        );
    }
    let during: Vec<&Sample> = samples.iter().filter(|s| in_outage(s)).collect();
    for sample in &during {
        assert_eq!(sample.status, 503, "during the outage: {sample:?}");
        let body: serde_json::Value = serde_json::from_str(&sample.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {sample:?}"));
        assert_eq!(body["code"], 503, "{sample:?}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message)),
            "the message does not start with `{message}`: {sample:?}"
        );
        assert!(
            sample.latency < timeout,
            "a request hung past its step's timeout of {timeout:?}: {sample:?}"
        );
    }
    for sample in samples
        .iter()
        .filter(|s| s.phase != Phase::Before && !in_outage(s))
    {
        assert!(
            [200, 503].contains(&sample.status),
            "after the restart: {sample:?}"
        );
    }
    Figures {
        during: during.len(),
        statuses: during.iter().map(|s| s.status).collect(),
        max_latency: during.iter().map(|s| s.latency).max().unwrap(),
        recovered_after: recovered.saturating_duration_since(restarting),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_under_load_answers_503_then_recovers() {
    let mut redis = OutageRedis::start();
    let server = TestServer::start(&format!(
        r#"
identifier: test.outages.redis
appVersion: v1
connections: {{ redis: {{ serverAddress: "{}" }} }}
components:
  - {{ name: cache-user, source: guest(cache-user), limits: {{ timeout: 2s }}, capabilities: {{ cache: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /cache, steps: [ {{ fn: cache-user }} ] }}
"#,
        redis.address()
    ))
    .await;
    let figures = http_outage(
        &server,
        &mut redis,
        "/cache?op=set&key=outage&value=v",
        "cache: the cache backend is unavailable",
        Duration::from_secs(2),
    )
    .await;
    figures.print("Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_under_load_answers_503_then_recovers() {
    let mut postgres = OutagePostgres::start();
    let server = TestServer::start(&format!(
        r#"
identifier: test.outages.postgres
appVersion: v1
connections:
  database: {{ type: postgresql, connectionString: "{}" }}
components:
  - name: sql-user
    source: guest(sql-user)
    limits: {{ timeout: 2s }}
    capabilities: {{ sql: {{ queries: [], raw: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /sql, steps: [ {{ fn: sql-user }} ] }}
"#,
        postgres.url()
    ))
    .await;
    let figures = http_outage(
        &server,
        &mut postgres,
        "/sql?op=query-raw&sql=SELECT%201",
        "sql: the database is unavailable",
        Duration::from_secs(2),
    )
    .await;
    figures.print("PostgreSQL");
}

/// Messages the JetStream test publishes.
const MESSAGES: usize = 300;

/// Publishes `0..MESSAGES` to `subject` in JetStream, one after the other, each retried until
/// the stream acknowledges it; what it saw.
#[derive(Default)]
struct Publisher {
    /// Payloads the stream acknowledged.
    sent: Mutex<BTreeSet<usize>>,
    /// Attempts that failed (the server was down).
    failed: AtomicUsize,
}

impl Publisher {
    fn sent(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    async fn run(self: Arc<Self>, jetstream: async_nats::jetstream::Context, subject: String) {
        for n in 0..MESSAGES {
            loop {
                let attempt = async {
                    let ack = jetstream
                        .publish(subject.clone(), n.to_string().into())
                        .await
                        .ok()?;
                    ack.await.ok()
                };
                if let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
                    break;
                }
                self.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.sent.lock().unwrap().insert(n);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The distinct payloads of the messages of `stream`.
async fn payloads(stream: &async_nats::jetstream::stream::Stream) -> Option<BTreeSet<usize>> {
    let last = stream.get_info().await.ok()?.state.last_sequence;
    let mut seen = BTreeSet::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.ok()?;
        seen.insert(std::str::from_utf8(&message.payload).ok()?.parse().ok()?);
    }
    Some(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_down_under_load_loses_no_message() {
    let mut nats = OutageNats::start();
    let client = async_nats::connect(nats.address()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    // The results are kept in a stream of their own, to be counted at the end.
    let results = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "RESULTS".into(),
            subjects: vec!["outage.done".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let streams = crate::support::start(crate::support::app(&format!(
        r#"
identifier: test.outages.jetstream
appVersion: v1
connections: {{ nats: {{ serverAddress: "{}" }} }}
components:
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 2s }} }}
handlers:
  - type: stream
    source: nats
    resource: outage.jobs
    stream: JOBS
    durable: workers
    respondTo: outage.done
    maxInFlight: 4
    steps: [ {{ fn: echo }} ]
"#,
        nats.address()
    )))
    .await
    .streams;
    let succeeded = || streams.handler_stats(0).unwrap().succeeded();

    let publisher = Arc::new(Publisher::default());
    let publishing = tokio::spawn(
        publisher
            .clone()
            .run(jetstream.clone(), "outage.jobs".into()),
    );
    eventually("messages to flow before the outage", LIMIT, || async {
        (publisher.sent() >= MESSAGES / 3 && succeeded() > 0).then_some(())
    })
    .await;

    tokio::task::block_in_place(|| nats.kill());
    let before = publisher.failed.load(Ordering::Relaxed);
    eventually("publishing to fail during the outage", LIMIT, || async {
        (publisher.failed.load(Ordering::Relaxed) >= before + 2).then_some(())
    })
    .await;
    let sent_before_restart = publisher.sent();

    let restarting = Instant::now();
    tokio::task::block_in_place(|| nats.restart());
    let at_restart = succeeded();
    eventually(
        "the handler to run messages after the restart",
        LIMIT,
        || async { (succeeded() > at_restart).then_some(()) },
    )
    .await;
    let recovered_after = restarting.elapsed();
    within("every message to be published", LIMIT, publishing)
        .await
        .unwrap();
    let processed = eventually("every message to be processed", LIMIT, || async {
        let seen = payloads(&results).await?;
        (seen.len() >= MESSAGES).then_some(seen)
    })
    .await;
    let all_processed_after = restarting.elapsed();

    assert_eq!(
        processed,
        (0..MESSAGES).collect::<BTreeSet<_>>(),
        "every message sent is processed"
    );
    assert_eq!(*publisher.sent.lock().unwrap(), processed);
    let runs = succeeded();
    assert!(
        runs >= MESSAGES as u64,
        "{runs} runs for {MESSAGES} messages"
    );
    println!(
        "outage figures: JetStream: {MESSAGES} messages sent ({sent_before_restart} before the restart), {} publish attempts failed during the outage, {} processed ({runs} runs), handler running again {recovered_after:?} after the restart, all processed {all_processed_after:?} after it",
        publisher.failed.load(Ordering::Relaxed),
        processed.len()
    );
    streams.shutdown().await;
}

/// Messages the Kafka test produces.
const KAFKA_MESSAGES: usize = 100;

/// Produces `messages` to `topic`, one after the other, each retried until the broker
/// acknowledges it.
async fn produce_all(
    publisher: Arc<Publisher>,
    brokers: String,
    topic: &'static str,
    messages: std::ops::Range<usize>,
) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("message.timeout.ms", "1000")
        .set("linger.ms", "0")
        .set("reconnect.backoff.max.ms", "1000")
        .create()
        .unwrap();
    for n in messages {
        let payload = n.to_string();
        while producer
            .send(
                FutureRecord::<str, str>::to(topic)
                    .key("k")
                    .payload(&payload),
                Duration::from_secs(1),
            )
            .await
            .is_err()
        {
            publisher.failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        publisher.sent.lock().unwrap().insert(n);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Collects the distinct payloads of `topic` into `seen`, from the start, until aborted.
async fn collect(brokers: String, topic: &'static str, seen: Arc<Mutex<BTreeSet<usize>>>) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set(
            "group.id",
            format!("count-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("reconnect.backoff.max.ms", "1000")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    loop {
        if let Ok(message) = consumer.recv().await
            && let Some(n) = message
                .payload()
                .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())
        {
            seen.lock().unwrap().insert(n);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_down_under_load_loses_no_message() {
    let s3 = OutageS3::start().await;
    let mut broker = tokio::task::block_in_place(|| OutageTansu::start(&s3));
    let brokers = broker.address();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for result in admin
        .create_topics(
            &[
                NewTopic::new("jobs", 1, TopicReplication::Fixed(1)),
                NewTopic::new("results", 1, TopicReplication::Fixed(1)),
            ],
            &AdminOptions::new(),
        )
        .await
        .unwrap()
    {
        result.unwrap_or_else(|(topic, e)| panic!("cannot create {topic}: {e}"));
    }
    let streams = crate::support::start(crate::support::app(&format!(
        r#"
identifier: test.outages.kafka
appVersion: v1
connections: {{ kafka: {{ brokers: "{brokers}", group: karman-outage }} }}
components:
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 2s }} }}
handlers:
  - {{ type: stream, source: kafka, resource: jobs, respondTo: results, maxInFlight: 4, steps: [ {{ fn: echo }} ] }}
"#
    )))
    .await
    .streams;
    let succeeded = || streams.handler_stats(0).unwrap().succeeded();
    let processed = Arc::new(Mutex::new(BTreeSet::new()));
    let counting = tokio::spawn(collect(brokers.clone(), "results", processed.clone()));

    // The first message, once run, shows the handler has joined its group.
    let publisher = Arc::new(Publisher::default());
    produce_all(publisher.clone(), brokers.clone(), "jobs", 0..1).await;
    eventually("the handler to run the first message", LIMIT, || async {
        (succeeded() > 0).then_some(())
    })
    .await;
    let producing = tokio::spawn(produce_all(
        publisher.clone(),
        brokers.clone(),
        "jobs",
        1..KAFKA_MESSAGES,
    ));
    eventually("messages to flow before the outage", LIMIT, || async {
        (publisher.sent() >= KAFKA_MESSAGES / 3).then_some(())
    })
    .await;

    tokio::task::block_in_place(|| broker.kill());
    let before = publisher.failed.load(Ordering::Relaxed);
    eventually("producing to fail during the outage", LIMIT, || async {
        (publisher.failed.load(Ordering::Relaxed) >= before + 2).then_some(())
    })
    .await;
    let sent_before_restart = publisher.sent();

    let restarting = Instant::now();
    tokio::task::block_in_place(|| broker.restart());
    let at_restart = succeeded();
    eventually(
        "the handler to run messages after the restart",
        LIMIT,
        || async { (succeeded() > at_restart).then_some(()) },
    )
    .await;
    let recovered_after = restarting.elapsed();
    within("every message to be produced", LIMIT, producing)
        .await
        .unwrap();
    eventually("every message to be processed", LIMIT, || async {
        (processed.lock().unwrap().len() >= KAFKA_MESSAGES).then_some(())
    })
    .await;
    let all_processed_after = restarting.elapsed();
    counting.abort();

    let processed = processed.lock().unwrap().clone();
    assert_eq!(processed, (0..KAFKA_MESSAGES).collect::<BTreeSet<_>>());
    assert_eq!(*publisher.sent.lock().unwrap(), processed);
    let runs = succeeded();
    println!(
        "outage figures: Kafka (tansu): {KAFKA_MESSAGES} messages sent ({sent_before_restart} before the restart), {} produce attempts failed during the outage, {} processed ({runs} runs), handler running again {recovered_after:?} after the restart, all processed {all_processed_after:?} after it",
        publisher.failed.load(Ordering::Relaxed),
        processed.len()
    );
    streams.shutdown().await;
}
