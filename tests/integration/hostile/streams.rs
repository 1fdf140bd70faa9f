//! Stream handlers against hostile guests and brokers that do not take a message: text a guest
//! controls never becomes protocol structure (NATS headers, Kafka headers, text log lines); a
//! result or dead letter no stream acknowledges leaves its message unacked, to run again; a
//! core NATS handler that cannot keep up queues a bounded number of messages and counts the
//! ones it drops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use karman_streams::Streams;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::support::{Tansu, app, client, eventually, expand, repo_root};

const NATS: &str = "127.0.0.1:4222";

/// An error message that, written raw into a NATS header block, adds the header JetStream
/// deduplicates on.
const INJECTED: &str = "boom\r\nNats-Msg-Id: always-the-same";
/// The same text, escaped.
const ESCAPED: &str = "boom\\r\\nNats-Msg-Id: always-the-same";

async fn start(yaml: &str) -> Arc<Streams> {
    crate::support::start(app(yaml)).await.streams
}

/// A subject prefix and a JetStream stream name no other test (or run) uses.
fn unique() -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    (format!("karman-test.{id}"), format!("KARMAN-TEST-{id}"))
}

async fn jetstream() -> jetstream::Context {
    let client = async_nats::connect(NATS)
        .await
        .expect("NATS runs on 127.0.0.1:4222 (scripts/services)");
    jetstream::new(client)
}

async fn create_stream(jetstream: &jetstream::Context, name: &str, subject: &str) {
    jetstream
        .create_stream(stream::Config {
            name: name.to_string(),
            subjects: vec![subject.to_string()],
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("cannot create the stream {name}: {e}"));
}

/// Messages stored in the stream `name` (0 when it does not exist).
async fn stored(jetstream: &jetstream::Context, name: &str) -> u64 {
    match jetstream.get_stream(name).await {
        Ok(mut stream) => stream.info().await.map_or(0, |info| info.state.messages),
        Err(_) => 0,
    }
}

/// Messages of the durable consumer of stream `name` not yet acked or terminated (pending or
/// delivered without an ack).
async fn unfinished(jetstream: &jetstream::Context, name: &str) -> u64 {
    let stream = jetstream.get_stream(name).await.unwrap();
    let info = stream
        .consumer_info(format!("karman-{name}"))
        .await
        .unwrap();
    info.num_pending + info.num_ack_pending as u64
}

async fn delete_streams(jetstream: &jetstream::Context, names: &[String]) {
    for name in names {
        let _ = jetstream.delete_stream(name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_error_message_cannot_add_headers_to_a_jetstream_dead_letter() {
    let (prefix, name) = unique();
    let dead = format!("{name}-DEAD");
    let jetstream = jetstream().await;
    create_stream(&jetstream, &dead, &format!("{prefix}.dead")).await;
    let streams = start(&format!(
        r#"
identifier: test.hostile.headers
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: fail, source: guest(fail-with-input), limits: {{ timeout: 2s }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.jobs
    stream: {name}
    maxDeliver: 1
    deadLetter: {prefix}.dead
    steps: [ {{ fn: fail }} ]
"#
    ))
    .await;
    for _ in 0..2 {
        jetstream
            .publish(format!("{prefix}.jobs"), INJECTED.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    // Both dead letters are stored: neither carries the message id the guest tried to inject
    // (with it, JetStream would drop the second as a duplicate).
    eventually("two dead letters", Duration::from_secs(20), || async {
        (stored(&jetstream, &dead).await == 2).then_some(())
    })
    .await;
    let stream = jetstream.get_stream(&dead).await.unwrap();
    for sequence in 1..=2 {
        let letter = stream.get_raw_message(sequence).await.unwrap();
        assert_eq!(letter.payload, INJECTED);
        let header = |name: &str| letter.headers.get(name).map(|v| v.as_str().to_string());
        assert_eq!(header("karman-error-message").as_deref(), Some(ESCAPED));
        assert_eq!(header("Nats-Msg-Id"), None);
        assert_eq!(header("karman-error").as_deref(), Some("500"));
    }
    streams.shutdown().await;
    delete_streams(&jetstream, &[name, dead]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_error_message_stays_one_kafka_header_value() {
    let broker = Tansu::start();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .create()
        .unwrap();
    let topics: Vec<NewTopic> = ["jobs", "jobs.dead"]
        .iter()
        .map(|name| NewTopic::new(name, 1, TopicReplication::Fixed(1)))
        .collect();
    for result in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap_or_else(|(topic, e)| panic!("cannot create {topic}: {e}"));
    }
    let dead: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set(
            "group.id",
            format!("test-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dead.subscribe(&["jobs.dead"]).unwrap();
    let streams = start(&format!(
        r#"
identifier: test.hostile.kafka
appVersion: v1
connections: {{ kafka: {{ brokers: "{}", group: karman-{} }} }}
components:
  - {{ name: fail, source: guest(fail-with-input), limits: {{ timeout: 2s }} }}
handlers:
  - {{ type: stream, source: kafka, resource: jobs, maxDeliver: 1, deadLetter: jobs.dead, steps: [ {{ fn: fail }} ] }}
"#,
        broker.address(),
        uuid::Uuid::new_v4().simple()
    ))
    .await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::<str, str>::to("jobs").payload(INJECTED),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("{e}"));

    let letter = tokio::time::timeout(Duration::from_secs(30), dead.recv())
        .await
        .expect("the dead letter arrives")
        .unwrap();
    let headers = letter.headers().expect("dead letters carry why");
    let message = headers
        .iter()
        .find(|h| h.key == "karman-error-message")
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(message.as_deref(), Some(ESCAPED));
    streams.shutdown().await;
}

/// The `karman` binary serving a Directive with the text log format; its log lines collected.
struct TextLogBinary {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl TextLogBinary {
    fn serve(yaml: &str) -> Self {
        let dir = repo_root().join("target/karman-test-tmp");
        std::fs::create_dir_all(&dir).unwrap();
        let directive = dir.join(format!("directive-{}.yaml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&directive, expand(yaml)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_karman"))
            .arg("serve")
            .arg(&directive)
            .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
            .arg("--cache-dir")
            .arg(repo_root().join("target/karman-test-cache"))
            .env("KARMAN_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the karman binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on ")
                    && let Some(address) = rest.split_whitespace().next()
                {
                    let _ = address_tx.send(address.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let base = address_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the binary reports its address");
        Self { child, base, lines }
    }

    /// The first log line containing `text`.
    fn line_with(&self, text: &str) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        lines.iter().find(|line| line.contains(text)).cloned()
    }
}

impl Drop for TextLogBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cannot_forge_a_line_of_the_text_log() {
    let binary = TextLogBinary::serve(
        r#"
identifier: test.hostile.log
appVersion: v1
components:
  - { name: fail, source: guest(fail-with-input) }
handlers:
  - { type: request, method: POST, resource: /fail, steps: [ { fn: fail } ] }
"#,
    );
    let forged = "innocent\nERROR karman::auth: admin signed in\r\u{1b}[2K";
    let reply = client()
        .post(format!("{}/fail", binary.base))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 500);

    // The guest's line is one log line, its line break and escape sequence written out: no
    // line of the log starts with the forged text.
    let line = eventually("the guest's log line", Duration::from_secs(10), || async {
        binary.line_with("admin signed in")
    })
    .await;
    assert!(
        line.contains("innocent\\nERROR karman::auth: admin signed in\\r\\x1b[2K"),
        "{line}"
    );
    assert!(line.contains("karman::guest"), "{line}");
}

fn unacked_app(prefix: &str, name: &str) -> String {
    format!(
        r#"
identifier: test.hostile.unacked
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 2s }} }}
  - {{ name: fail, source: guest(fail-with-input), limits: {{ timeout: 2s }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.jobs
    stream: {name}
    respondTo: {prefix}.results
    steps: [ {{ fn: echo }} ]
  - type: stream
    source: nats
    resource: {prefix}.poison
    stream: {name}-POISON
    maxDeliver: 1
    deadLetter: {prefix}.dead
    steps: [ {{ fn: fail }} ]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_or_dead_letter_no_stream_stores_leaves_its_message_unacked() {
    let (prefix, name) = unique();
    let poison = format!("{name}-POISON");
    let (results, dead) = (format!("{name}-RESULTS"), format!("{name}-DEAD"));
    let jetstream = jetstream().await;
    let streams = start(&unacked_app(&prefix, &name)).await;
    for (subject, payload) in [("jobs", "job"), ("poison", "bad input")] {
        jetstream
            .publish(format!("{prefix}.{subject}"), payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    // No stream covers `respondTo` nor `deadLetter`: nothing acknowledges them, so neither
    // message is acked (nor terminated); both come back.
    let (job, poisoned) = (
        streams.handler_stats(0).unwrap(),
        streams.handler_stats(1).unwrap(),
    );
    eventually(
        "both messages redelivered",
        Duration::from_secs(20),
        || async { (job.failed() >= 2 && poisoned.failed() >= 2).then_some(()) },
    )
    .await;
    assert_eq!(job.succeeded(), 0);
    assert_eq!(unfinished(&jetstream, &name).await, 1);
    assert_eq!(unfinished(&jetstream, &poison).await, 1);

    // Once streams take them, the result and the dead letter are stored and the messages
    // finished: nothing was lost.
    create_stream(&jetstream, &results, &format!("{prefix}.results")).await;
    create_stream(&jetstream, &dead, &format!("{prefix}.dead")).await;
    eventually(
        "the result and the dead letter stored",
        Duration::from_secs(30),
        || async {
            (stored(&jetstream, &results).await == 1 && stored(&jetstream, &dead).await == 1)
                .then_some(())
        },
    )
    .await;
    eventually(
        "both messages finished",
        Duration::from_secs(10),
        || async {
            (unfinished(&jetstream, &name).await == 0 && unfinished(&jetstream, &poison).await == 0)
                .then_some(())
        },
    )
    .await;
    let stored_result = jetstream
        .get_stream(&results)
        .await
        .unwrap()
        .get_raw_message(1)
        .await
        .unwrap();
    assert_eq!(stored_result.payload, "job");
    assert_eq!(job.succeeded(), 1);
    streams.shutdown().await;
    delete_streams(&jetstream, &[name, poison, results, dead]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_nats_handler_that_cannot_keep_up_drops_beyond_its_queue_and_counts_it() {
    let (prefix, _) = unique();
    let streams = start(&format!(
        r#"
identifier: test.hostile.core
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: slow, source: guest(slow) }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.work, maxInFlight: 1, steps: [ {{ fn: slow }} ] }}
"#
    ))
    .await;
    let client = async_nats::connect(NATS).await.unwrap();
    const MESSAGES: u64 = 100;
    for _ in 0..MESSAGES {
        // Each run sleeps 300 ms: one runs, eight wait, the rest overflow the queue.
        client
            .publish(format!("{prefix}.work"), "300".into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();

    let stats = streams.handler_stats(0).unwrap();
    eventually(
        "every message run or counted as dropped",
        Duration::from_secs(40),
        || async { (stats.succeeded() + stats.dropped() == MESSAGES).then_some(()) },
    )
    .await;
    assert!(
        stats.dropped() > 0 && stats.succeeded() < MESSAGES / 2,
        "ran {}, dropped {}",
        stats.succeeded(),
        stats.dropped()
    );
    streams.shutdown().await;
}
