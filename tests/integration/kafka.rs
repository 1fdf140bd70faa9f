//! `source: kafka` against a real Kafka-protocol broker: tansu 0.6 with in-memory storage,
//! started by each test on a free port (`scripts/services` installs it).

use std::time::Duration;

use karman_streams::Streams;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::support::{
    FrontEvent, FrontSasl, FrontTls, KAFKA_PASSWORD, KAFKA_USER, KafkaFront, Tansu, app,
    eventually, free_port,
};

/// What the tests do with a broker.
impl Tansu {
    async fn create_topics(&self, names: &[&str]) {
        self.create_partitioned_topics(names, 1).await;
    }

    async fn create_partitioned_topics(&self, names: &[&str], partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.client_config().create().unwrap();
        let topics: Vec<NewTopic> = names
            .iter()
            .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
            .collect();
        for result in admin
            .create_topics(&topics, &AdminOptions::new())
            .await
            .unwrap()
        {
            result.unwrap_or_else(|(topic, e)| panic!("cannot create {topic}: {e}"));
        }
    }

    fn producer(&self) -> FutureProducer {
        self.client_config().create().unwrap()
    }

    async fn produce(&self, topic: &str, payload: &str) {
        send(&self.producer(), topic, "k", payload).await;
    }

    /// A consumer of `topic` in a fresh group, from the start.
    fn reader(&self, topic: &str) -> StreamConsumer {
        let consumer: StreamConsumer = self
            .client_config()
            .set(
                "group.id",
                format!("test-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("max.poll.interval.ms", "6000")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        consumer
    }
}

/// Sends one message through `producer`, waiting for its delivery report.
async fn send(producer: &FutureProducer, topic: &str, key: &str, payload: &str) {
    producer
        .send(
            FutureRecord::<str, str>::to(topic)
                .key(key)
                .payload(payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("{e}"));
}

async fn start(yaml: &str) -> std::sync::Arc<Streams> {
    crate::support::start(app(yaml)).await.streams
}

/// The topics of [`kafka_app`]'s handlers.
const APP_TOPICS: [&str; 4] = ["jobs", "results", "poison", "poison.dead"];

fn kafka_app(address: &str, group: &str) -> String {
    kafka_app_with(address, group, "")
}

/// [`kafka_app`] with librdkafka `properties` (the entries of a YAML flow mapping).
fn kafka_app_with(address: &str, group: &str, properties: &str) -> String {
    format!(
        r#"
identifier: test.kafka
appVersion: v1
connections: {{ kafka: {{ brokers: "{address}", group: {group}, properties: {{ {properties} }} }} }}
components:
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
  - {{ name: fail, source: guest(fail), limits: {{ timeout: 1s }} }}
handlers:
  - {{ type: stream, source: kafka, resource: jobs, respondTo: results, steps: [ {{ fn: echo }} ] }}
  - {{ type: stream, source: kafka, resource: poison, maxDeliver: 3, deadLetter: poison.dead, steps: [ {{ fn: fail }} ] }}
"#
    )
}

async fn next_payload(consumer: &StreamConsumer) -> (String, Vec<(String, String)>) {
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message arrives")
        .unwrap();
    let headers = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (
        String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_messages_run_once_and_offsets_are_committed_after_success() {
    let broker = Tansu::start();
    broker.create_topics(&APP_TOPICS).await;
    let group = format!("karman-{}", uuid::Uuid::new_v4().simple());
    let yaml = kafka_app(broker.address(), &group);
    let results = broker.reader("results");
    let streams = start(&yaml).await;
    for n in 0..5 {
        broker.produce("jobs", &format!("job-{n}")).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 5 {
        seen.insert(next_payload(&results).await.0);
    }
    assert_eq!(seen, (0..5).map(|n| format!("job-{n}")).collect());
    streams.shutdown().await;

    // A new process of the group resumes after the committed offsets: nothing runs twice.
    let streams = start(&yaml).await;
    broker.produce("jobs", "job-5").await;
    assert_eq!(next_payload(&results).await.0, "job-5");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(streams.handler_stats(0).unwrap().succeeded(), 1);
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_kafka_message_goes_to_the_dead_letter_topic_after_its_retries() {
    let broker = Tansu::start();
    broker.create_topics(&APP_TOPICS).await;
    let group = format!("karman-{}", uuid::Uuid::new_v4().simple());
    let dead = broker.reader("poison.dead");
    let streams = start(&kafka_app(broker.address(), &group)).await;
    broker.produce("poison", "bad input").await;
    let (payload, headers) = next_payload(&dead).await;
    assert_eq!(payload, "bad input");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("karman-error"), Some("500"));
    assert_eq!(header("karman-deliveries"), Some("3"));
    assert_eq!(header("karman-topic"), Some("poison"));
    let stats = streams.handler_stats(1).unwrap();
    assert_eq!(stats.failed(), 3);
    // One message, retried twice in place, dead-lettered once.
    assert_eq!(
        (stats.received(), stats.retried(), stats.dead_lettered()),
        (1, 2, 1)
    );
    streams.shutdown().await;
}

/// Starts a broker on a free port with [`APP_TOPICS`] and the app of [`kafka_app_with`], runs one
/// message through it, then stops the broker (its in-memory topics go with it) and waits a
/// second. Returns the broker's port, free again, and the app's streams.
async fn run_one_then_stop_the_broker() -> (u16, std::sync::Arc<Streams>) {
    let port = free_port();
    let broker = Tansu::start_on(port);
    broker.create_topics(&APP_TOPICS).await;
    let group = format!("karman-{}", uuid::Uuid::new_v4().simple());
    let streams = start(&kafka_app_with(broker.address(), &group, "")).await;
    let results = broker.reader("results");
    broker.produce("jobs", "before").await;
    assert_eq!(next_payload(&results).await.0, "before");
    drop(results);
    drop(broker);
    tokio::time::sleep(Duration::from_secs(1)).await;
    (port, streams)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_handlers_reconnect_after_the_broker_restarts() {
    let (port, streams) = run_one_then_stop_the_broker().await;
    // It comes back on the same port, and its topics are created again.
    let broker = Tansu::start_on(port);
    broker.create_topics(&APP_TOPICS).await;
    let results = broker.reader("results");
    broker.produce("jobs", "after").await;
    let (payload, _) = next_payload(&results).await;
    assert_eq!(
        payload, "after",
        "consumed and answered through the new broker"
    );
    assert_eq!(streams.handler_stats(0).unwrap().succeeded(), 2);
    streams.shutdown().await;
}

/// The broker comes back empty and stays without the handlers' topics while the handlers, retrying
/// every second (Karman's reconnect backoff), fetch them again. tansu answers a fetch of a topic
/// it does not know with the partition's current leader under a topic id of zero, which
/// librdkafka 2.12.1 as released turned into a metadata lookup by a NULL name: SIGSEGV, the whole
/// process, every run. Karman builds it with a fix (third_party/README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_comes_back_without_the_handlers_topics_does_not_crash_the_host() {
    let (port, streams) = run_one_then_stop_the_broker().await;
    let _empty = Tansu::start_on(port);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(streams.handler_stats(0).unwrap().succeeded(), 1);
    tokio::time::timeout(Duration::from_secs(30), streams.shutdown())
        .await
        .expect("the handlers stop");
}

#[tokio::test]
async fn kafka_properties_reach_librdkafka_and_their_values_stay_hidden() {
    let port = crate::support::free_port();
    let yaml = format!(
        r#"
identifier: test.kafka.properties
appVersion: v1
connections:
  kafka:
    brokers: 127.0.0.1:{port}
    properties:
      no.such.property: hidden-value-4711
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: kafka, resource: work, steps: [ {{ fn: echo }} ] }}
"#
    );
    let app = crate::support::app(&yaml);
    let shown = format!("{:?}", app.connections.kafka);
    assert!(shown.contains("no.such.property"), "{shown}");
    assert!(!shown.contains("hidden-value-4711"), "{shown}");
    let started = karman::start(
        app,
        karman::Launch {
            runtime: crate::support::runtime_config(),
            ..karman::Launch::default()
        },
    )
    .await;
    let error = match started {
        Ok(_) => panic!("the app started with a property librdkafka does not know"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("no.such.property"), "{error}");
    assert!(!error.contains("hidden-value-4711"), "{error}");
}

/// An app whose handler echoes `topic` to `results`, its Kafka clients set up with `properties`.
fn secured_app(address: &str, properties: &[(String, String)], topic: &str) -> String {
    let properties: Vec<String> = properties
        .iter()
        .map(|(name, value)| format!("\"{name}\": \"{value}\""))
        .collect();
    format!(
        r#"
identifier: test.kafka.secured
appVersion: v1
connections:
  kafka: {{ brokers: "{address}", group: karman-{group}, properties: {{ {properties} }} }}
components:
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
handlers:
  - {{ type: stream, source: kafka, resource: {topic}, respondTo: results, steps: [ {{ fn: echo }} ] }}
"#,
        group = uuid::Uuid::new_v4().simple(),
        properties = properties.join(", ")
    )
}

/// Runs `job` through an app reaching `front` with `properties`; the echo arriving shows that
/// its consumer and its producer both got in (nothing reaches the broker but through the front).
async fn echo_through(front: &KafkaFront, properties: &[(String, String)], job: &str) {
    let broker = front.broker();
    broker.create_topics(&["jobs", "results"]).await;
    let results = broker.reader("results");
    let streams = start(&secured_app(broker.address(), properties, "jobs")).await;
    broker.produce("jobs", job).await;
    assert_eq!(next_payload(&results).await.0, job);
    streams.shutdown().await;
}

/// Waits for an event of the front that `wanted` picks.
async fn front_event(front: &KafkaFront, what: &str, wanted: impl Fn(&FrontEvent) -> bool) {
    eventually(what, Duration::from_secs(20), || {
        let found = front.events().iter().any(&wanted);
        async move { found.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_over_sasl_ssl_with_scram_gets_in_and_a_wrong_password_does_not() {
    let front = KafkaFront::start(FrontTls::On, Some(FrontSasl::ScramSha256));
    echo_through(&front, &front.properties(KAFKA_PASSWORD), "over SCRAM").await;
    let events = front.events();
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, FrontEvent::Refused { .. } | FrontEvent::TlsRefused(_))),
        "{events:?}"
    );
    assert!(events.contains(&FrontEvent::Authenticated {
        mechanism: "SCRAM-SHA-256".into(),
        user: KAFKA_USER.into(),
    }));

    // The same app with a wrong password: refused at the SCRAM proof, its message stays.
    front.broker().create_topics(&["waiting"]).await;
    let wrong = front.properties("not-the-password");
    let streams = start(&secured_app(front.broker().address(), &wrong, "waiting")).await;
    front_event(&front, "a refused SCRAM login", |e| {
        matches!(e, FrontEvent::Refused { user, why } if user == KAFKA_USER && why.contains("invalid credentials"))
    })
    .await;
    front.broker().produce("waiting", "never runs").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(streams.handler_stats(0).unwrap().received(), 0);
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_over_ssl_with_a_client_certificate_gets_in_and_without_one_does_not() {
    let front = KafkaFront::start(FrontTls::ClientCertificates, None);
    let properties = front.properties(KAFKA_PASSWORD);
    echo_through(&front, &properties, "over mutual TLS").await;
    let events = front.events();
    assert!(
        events.iter().all(|e| *e
            == FrontEvent::TlsAccepted {
                client_certificate: true
            }),
        "{events:?}"
    );

    // Without `ssl.certificate.location` and `ssl.key.location`, the handshake fails.
    let without: Vec<(String, String)> = properties
        .into_iter()
        .filter(|(name, _)| !name.starts_with("ssl.certificate") && !name.starts_with("ssl.key"))
        .collect();
    front.broker().create_topics(&["waiting"]).await;
    let streams = start(&secured_app(front.broker().address(), &without, "waiting")).await;
    front_event(&front, "a refused TLS handshake", |e| {
        matches!(e, FrontEvent::TlsRefused(_))
    })
    .await;
    assert_eq!(streams.handler_stats(0).unwrap().received(), 0);
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_over_sasl_plaintext_with_plain_gets_in() {
    let front = KafkaFront::start(FrontTls::Off, Some(FrontSasl::Plain));
    echo_through(&front, &front.properties(KAFKA_PASSWORD), "over PLAIN").await;
    let events = front.events();
    assert!(
        events.contains(&FrontEvent::Authenticated {
            mechanism: "PLAIN".into(),
            user: KAFKA_USER.into(),
        }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| matches!(e, FrontEvent::Authenticated { .. })),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_in_one_consumer_group_lose_nothing_when_one_is_killed() {
    const MAX_IN_FLIGHT: u64 = 4;
    let broker = Tansu::start();
    broker.create_partitioned_topics(&["jobs"], 3).await;
    broker.create_topics(&["done"]).await;
    let group = format!("karman-{}", uuid::Uuid::new_v4().simple());
    let yaml = format!(
        r#"
identifier: test.kafka.replicas
appVersion: v1
connections: {{ kafka: {{ brokers: "{}", group: {group}, sessionTimeout: 6s }} }}
components:
  - {{ name: slow, source: guest(slow), limits: {{ timeout: 2s }} }}
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
handlers:
  - {{ type: stream, source: kafka, resource: jobs, respondTo: done, maxInFlight: {MAX_IN_FLIGHT}, steps: [ {{ fn: slow }}, {{ fn: echo }} ] }}
"#,
        broker.address()
    );
    let results = broker.reader("done");
    let mut replicas = crate::replicas::start_replicas(&yaml, 3).await;
    const MESSAGES: usize = 60;
    // One producer for every message: a client made and dropped per message is needless churn.
    let producer = broker.producer();
    for n in 0..MESSAGES {
        send(&producer, "jobs", &format!("key-{n}"), &format!("job-{n}")).await;
    }
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    while seen.len() < MESSAGES / 3 {
        *seen.entry(next_payload(&results).await.0).or_default() += 1;
    }
    let series = r#"karman_stream_messages_total{handler="kafka jobs",outcome="succeeded"}"#;
    let killed_before = replicas[0].sample(series).await;
    replicas[0].binary.kill();
    drop(replicas.remove(0));
    // The group gives the killed replica's partitions to the others after its session times out
    // (6 s); they rerun what it had not committed.
    while seen.len() < MESSAGES {
        *seen.entry(next_payload(&results).await.0).or_default() += 1;
    }
    // Reruns still on their way.
    while let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(3), results.recv()).await {
        let payload = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        *seen.entry(payload).or_default() += 1;
    }
    let duplicates = crate::replicas::duplicates_of_all(&seen, MESSAGES);
    let mut survivors = Vec::new();
    for replica in &replicas {
        survivors.push(replica.sample(series).await);
    }
    eprintln!(
        "Kafka, three replicas: {MESSAGES} messages on 3 partitions; the killed one had finished \
         {killed_before}, the others {survivors:?}; {duplicates} results twice"
    );
    // A rerun is a message the killed replica had not committed: in flight, or finished within
    // the last auto-commit interval (0.5 s, one run's time).
    assert!(duplicates <= 2 * MAX_IN_FLIGHT, "{duplicates} duplicates");
    assert!(
        killed_before > 0 && survivors.iter().all(|&n| n > 0),
        "each replica took a share"
    );
}
