//! Stream handlers and schedules: the in-process bus, core NATS (request-reply, respondTo, a
//! queue group shared by two processes), JetStream (at least once across a crash, dead
//! letters), and schedules (every, cron, skip on overlap) — against the NATS server of this
//! machine.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use karman::Launch;
use karman_streams::{BusMessage, Streams, StreamsConfig};

use crate::support::{PrivateNats, app, eventually, launch, runtime_config, within};

const NATS: &str = "127.0.0.1:4222";

/// Loads the app of `yaml` and starts its streams.
async fn start(yaml: &str) -> std::sync::Arc<Streams> {
    crate::support::start(app(yaml)).await.streams
}

/// A subject prefix no other test (or run) uses.
fn unique() -> String {
    format!("karman-test.{}", uuid::Uuid::new_v4().simple())
}

async fn nats() -> async_nats::Client {
    async_nats::connect(NATS)
        .await
        .expect("NATS runs on 127.0.0.1:4222 (scripts/services)")
}

#[tokio::test]
async fn bus_handlers_chain_through_respond_to_and_see_the_message_as_a_request() {
    let streams = start(
        r#"
identifier: test.streams.bus
appVersion: v1
components:
  - { name: inspect, source: guest(inspect) }
  - { name: echo, source: guest(echo) }
handlers:
  - { type: stream, resource: "orders.*", respondTo: audit.orders, steps: [ { fn: inspect } ] }
  - { type: stream, resource: audit.orders, respondTo: audit.done, steps: [ { fn: echo } ] }
"#,
    )
    .await;
    let mut done = streams.bus().subscribe("audit.done", 4);
    let mut message = BusMessage::new("orders.created", r#"{"order":42}"#);
    message
        .headers
        .push(("x-test".into(), "from the bus".into()));
    assert_eq!(
        streams.bus().publish(message).await,
        1,
        "one handler listens on orders.*"
    );

    let result = tokio::time::timeout(Duration::from_secs(10), done.recv())
        .await
        .expect("the chain finishes")
        .unwrap();
    let seen: serde_json::Value = serde_json::from_slice(&result.payload).unwrap();
    assert_eq!(seen["method"], "STREAM");
    assert_eq!(seen["url"], "orders.created");
    assert_eq!(seen["body"], r#"{"order":42}"#);
    assert_eq!(seen["input"], r#"{"order":42}"#);
    assert_eq!(seen["header"], "from the bus");
    assert_eq!(streams.handler_stats(0).unwrap().succeeded(), 1);
    assert_eq!(streams.handler_stats(1).unwrap().succeeded(), 1);
    streams.shutdown().await;
}

#[tokio::test]
async fn nats_requests_get_the_result_or_the_error_as_their_reply() {
    let prefix = unique();
    let streams = start(&format!(
        r#"
identifier: test.streams.reply
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: echo, source: guest(echo) }}
  - {{ name: fail, source: guest(fail) }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.echo, steps: [ {{ fn: echo }} ] }}
  - {{ type: stream, source: nats, resource: {prefix}.fail, steps: [ {{ fn: fail }} ] }}
"#
    ))
    .await;
    let client = nats().await;
    let reply = client
        .request(format!("{prefix}.echo"), "ping".into())
        .await
        .unwrap();
    assert_eq!(reply.payload, "ping");

    let reply = client
        .request(format!("{prefix}.fail"), "x".into())
        .await
        .unwrap();
    let headers = reply.headers.expect("an error reply has headers");
    assert_eq!(headers.get("Karman-Error").map(|v| v.as_str()), Some("500"));
    let error: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(error["message"], "failed");
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_in_one_queue_group_split_the_messages_without_duplicates() {
    let prefix = unique();
    let yaml = format!(
        r#"
identifier: test.streams.group.{suffix}
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.work, respondTo: {prefix}.results, steps: [ {{ fn: echo }} ] }}
"#,
        suffix = prefix.replace('.', "-")
    );
    let first = start(&yaml).await;
    let second = start(&yaml).await;
    let client = nats().await;
    let mut results = client.subscribe(format!("{prefix}.results")).await.unwrap();
    client.flush().await.unwrap();

    const MESSAGES: usize = 200;
    for n in 0..MESSAGES {
        client
            .publish(format!("{prefix}.work"), n.to_string().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let mut seen = HashSet::new();
    within(
        "every message to be handled",
        Duration::from_secs(30),
        async {
            while seen.len() < MESSAGES {
                let message = results.next().await.unwrap();
                assert!(
                    seen.insert(String::from_utf8(message.payload.to_vec()).unwrap()),
                    "a message was handled twice"
                );
            }
        },
    )
    .await;
    // Nothing more arrives: no message was handled by both.
    let extra = tokio::time::timeout(Duration::from_millis(300), results.next()).await;
    assert!(extra.is_err(), "an extra result: {extra:?}");
    let (a, b) = (
        first.handler_stats(0).unwrap().succeeded(),
        second.handler_stats(0).unwrap().succeeded(),
    );
    assert_eq!(a + b, MESSAGES as u64);
    assert!(a > 0 && b > 0, "both processes took messages: {a} + {b}");
    first.shutdown().await;
    second.shutdown().await;
}

fn jetstream_app(prefix: &str, stream: &str) -> String {
    format!(
        r#"
identifier: test.streams.jetstream
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: slow, source: guest(slow), limits: {{ timeout: 2s }} }}
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
  - {{ name: fail, source: guest(fail), limits: {{ timeout: 1s }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.jobs
    stream: {stream}
    durable: workers
    respondTo: {prefix}.done
    maxInFlight: 2
    steps: [ {{ fn: slow }}, {{ fn: echo }} ]
  - type: stream
    source: nats
    resource: {prefix}.poison
    stream: {stream}-poison
    durable: workers
    maxDeliver: 3
    deadLetter: {prefix}.dead
    steps: [ {{ fn: fail }} ]
"#
    )
}

/// The stream that stores what the handlers of [`jetstream_app`] publish (`respondTo` and
/// `deadLetter` of a JetStream handler must be stored by a stream: a message is acked once they
/// are).
async fn create_output_stream(
    jetstream: &async_nats::jetstream::Context,
    prefix: &str,
    stream: &str,
) {
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: format!("{stream}-OUT"),
            subjects: vec![format!("{prefix}.done"), format!("{prefix}.dead")],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_delivers_every_message_at_least_once_across_a_crash() {
    let prefix = unique();
    let stream = format!("KARMAN-TEST-{}", prefix.trim_start_matches("karman-test."));
    let yaml = jetstream_app(&prefix, &stream);
    let client = nats().await;
    let mut done = client.subscribe(format!("{prefix}.done")).await.unwrap();
    client.flush().await.unwrap();

    let jetstream = async_nats::jetstream::new(client.clone());
    create_output_stream(&jetstream, &prefix, &stream).await;
    let crashed = start(&yaml).await;
    const MESSAGES: usize = 12;
    for n in 0..MESSAGES {
        jetstream
            .publish(format!("{prefix}.jobs"), format!("job-{n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Let a few finish (2 at a time, ~0.5 s each), then crash with others in flight.
    let mut processed = HashSet::new();
    while processed.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(20), done.next())
            .await
            .expect("results arrive")
            .unwrap();
        processed.insert(String::from_utf8(message.payload.to_vec()).unwrap());
    }
    crashed.abort();

    let restarted = start(&yaml).await;
    within(
        "every message to be processed",
        Duration::from_secs(60),
        async {
            while processed.len() < MESSAGES {
                let message = done.next().await.unwrap();
                processed.insert(String::from_utf8(message.payload.to_vec()).unwrap());
            }
        },
    )
    .await;
    let expected: HashSet<String> = (0..MESSAGES).map(|n| format!("job-{n}")).collect();
    assert_eq!(processed, expected);
    restarted.shutdown().await;
    let _ = jetstream.delete_stream(&stream).await;
    let _ = jetstream.delete_stream(format!("{stream}-poison")).await;
    let _ = jetstream.delete_stream(format!("{stream}-OUT")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_ends_in_the_dead_letter_subject_after_max_deliver() {
    let prefix = unique();
    let stream = format!("KARMAN-TEST-{}", prefix.trim_start_matches("karman-test."));
    let client = nats().await;
    let mut dead = client.subscribe(format!("{prefix}.dead")).await.unwrap();
    client.flush().await.unwrap();
    let jetstream = async_nats::jetstream::new(client.clone());
    create_output_stream(&jetstream, &prefix, &stream).await;
    let streams = start(&jetstream_app(&prefix, &stream)).await;
    jetstream
        .publish(format!("{prefix}.poison"), "bad input".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let message = tokio::time::timeout(Duration::from_secs(30), dead.next())
        .await
        .expect("the message reaches the dead letter subject")
        .unwrap();
    assert_eq!(message.payload, "bad input");
    let headers = message.headers.expect("dead letters carry why");
    assert_eq!(headers.get("karman-error").map(|v| v.as_str()), Some("500"));
    assert_eq!(
        headers.get("karman-deliveries").map(|v| v.as_str()),
        Some("3")
    );
    assert_eq!(
        headers.get("karman-subject").map(|v| v.as_str()),
        Some(format!("{prefix}.poison").as_str())
    );
    eventually(
        "three failed deliveries",
        Duration::from_secs(5),
        || async { (streams.handler_stats(1).unwrap().failed() == 3).then_some(()) },
    )
    .await;
    // It does not come back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = streams.handler_stats(1).unwrap();
    assert_eq!(stats.failed(), 3);
    // One message, redelivered twice, dead-lettered once.
    assert_eq!(
        (stats.received(), stats.retried(), stats.dead_lettered()),
        (1, 2, 1)
    );
    streams.shutdown().await;
    let _ = jetstream.delete_stream(&stream).await;
    let _ = jetstream.delete_stream(format!("{stream}-poison")).await;
    let _ = jetstream.delete_stream(format!("{stream}-OUT")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_run_every_interval_and_by_cron_and_skip_overlapping_runs() {
    let streams = start(
        r#"
identifier: test.schedules
appVersion: v1
components:
  - { name: echo, source: guest(echo) }
  - { name: slow, source: guest(slow) }
schedules:
  - { name: fast, every: { seconds: 0.1 }, steps: [ { fn: echo } ] }
  - { name: overlapping, every: { seconds: 0.1 }, steps: [ { fn: slow } ] }
  - { name: each-second, cron: "* * * * * *", steps: [ { fn: echo } ] }
"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let fast = streams.schedule_stats("fast").unwrap();
    assert!(fast.started() >= 10, "fast ran {} times", fast.started());
    assert_eq!((fast.skipped(), fast.failed()), (0, 0));
    let overlapping = streams.schedule_stats("overlapping").unwrap();
    // Each run takes 0.5 s: about one run in five ticks, the others skipped.
    assert!(
        (2..=6).contains(&overlapping.started()),
        "{}",
        overlapping.started()
    );
    assert!(overlapping.skipped() >= 10, "{}", overlapping.skipped());
    let cron = streams.schedule_stats("each-second").unwrap();
    assert!((1..=3).contains(&cron.started()), "{}", cron.started());
    streams.shutdown().await;
}

#[tokio::test]
async fn a_process_told_not_to_run_schedules_does_not() {
    let app = app(r#"
identifier: test.schedules.off
appVersion: v1
components:
  - { name: echo, source: guest(echo) }
schedules:
  - { name: fast, every: { seconds: 0.1 }, steps: [ { fn: echo } ] }
"#);
    let config = Launch {
        runtime: runtime_config(),
        streams: StreamsConfig {
            run_schedules: false,
            ..StreamsConfig::default()
        },
        ..Launch::default()
    };
    let streams = launch(app, config).await.streams;
    assert!(streams.schedule_stats("fast").is_none());
    streams.shutdown().await;
}

mod websocket {
    use futures_util::{SinkExt, StreamExt};
    use karman::ServerConfig;
    use tokio_tungstenite::tungstenite::Message;

    use crate::support::TestServer;

    const APP: &str = r#"
identifier: test.websocket
appVersion: v1
components:
  - { name: inspect, source: guest(inspect) }
  - { name: fail, source: guest(fail) }
  - { name: slow, source: guest(slow), limits: { timeout: 5s } }
handlers:
  - { type: stream, source: server, resource: /ws/inspect, steps: [ { fn: inspect } ] }
  - { type: stream, source: server, resource: /ws/fail, steps: [ { fn: fail } ] }
  - { type: stream, source: server, resource: /ws/slow, steps: [ { fn: slow } ] }
"#;

    async fn open(
        server: &TestServer,
        path: &str,
    ) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
        let address = server.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (socket, response) =
            tokio_tungstenite::client_async(format!("ws://{address}{path}"), stream)
                .await
                .expect("the WebSocket opens");
        assert_eq!(response.status(), 101);
        socket
    }

    #[tokio::test]
    async fn each_message_runs_the_steps_and_the_result_comes_back_on_the_socket() {
        let server = TestServer::start_with(
            APP,
            ServerConfig {
                max_body_bytes: 4096,
                ..ServerConfig::default()
            },
        )
        .await;
        let mut socket = open(&server, "/ws/inspect").await;

        socket.send(Message::text("hello")).await.unwrap();
        let Some(Ok(Message::Text(answer))) = socket.next().await else {
            panic!("a text answer to a text message");
        };
        let seen: serde_json::Value = serde_json::from_str(answer.as_str()).unwrap();
        assert_eq!(seen["method"], "STREAM");
        assert_eq!(seen["url"], "/ws/inspect");
        assert_eq!(seen["body"], "hello");

        socket
            .send(Message::binary(vec![b'h', b'i']))
            .await
            .unwrap();
        let Some(Ok(Message::Binary(answer))) = socket.next().await else {
            panic!("a binary answer to a binary message");
        };
        let seen: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(seen["body"], "hi");

        socket.send(Message::Ping(vec![7].into())).await.unwrap();
        let Some(Ok(Message::Pong(payload))) = socket.next().await else {
            panic!("a pong");
        };
        assert_eq!(&payload[..], [7]);

        // Over the size cap: the socket is closed with an error, the server goes on.
        socket.send(Message::text("x".repeat(5000))).await.unwrap();
        let closed = socket.next().await;
        assert!(
            matches!(closed, Some(Ok(Message::Close(_))) | Some(Err(_)) | None),
            "{closed:?}"
        );
        let mut again = open(&server, "/ws/inspect").await;
        again.send(Message::text("still here")).await.unwrap();
        assert!(matches!(again.next().await, Some(Ok(Message::Text(_)))));
        again.close(None).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_run_answers_an_error_and_keeps_the_socket_open() {
        let server = TestServer::start(APP).await;
        let mut socket = open(&server, "/ws/fail").await;
        for _ in 0..2 {
            socket.send(Message::text("x")).await.unwrap();
            let Some(Ok(Message::Text(answer))) = socket.next().await else {
                panic!("an error answer");
            };
            let error: serde_json::Value = serde_json::from_str(answer.as_str()).unwrap();
            assert_eq!(error["code"], 500);
            assert_eq!(error["message"], "failed");
        }
        // A plain GET is told to upgrade.
        let plain = server.get("/ws/fail").await;
        assert_eq!(plain.status, 426, "{}", plain.body);
        assert_eq!(plain.header("upgrade"), Some("websocket"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shutdown_answers_the_message_in_flight_then_closes_the_socket_going_away() {
        let mut server = TestServer::start(APP).await;
        let mut busy = open(&server, "/ws/slow").await;
        let mut idle = open(&server, "/ws/inspect").await;
        busy.send(Message::text("take your time")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let stopped = server.signal_shutdown();

        let Some(Ok(Message::Text(answer))) = busy.next().await else {
            panic!("the message in flight is answered before the close");
        };
        assert_eq!(answer.as_str(), "done");
        for socket in [&mut busy, &mut idle] {
            let Some(Ok(Message::Close(Some(frame)))) = socket.next().await else {
                panic!("a close frame");
            };
            assert_eq!(u16::from(frame.code), 1001, "going away");
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
            .await
            .expect("the server stops once the sessions closed")
            .unwrap()
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_of_every_socket_share_the_handlers_max_in_flight_and_its_counts() {
        let server = TestServer::start(
            r#"
identifier: test.websocket.in-flight
appVersion: v1
components:
  - { name: slow, source: guest(slow), limits: { timeout: 5s } }
handlers:
  - { type: stream, source: server, resource: /ws/one-at-a-time, maxInFlight: 1, steps: [ { fn: slow } ] }
"#,
        )
        .await;
        let mut first = open(&server, "/ws/one-at-a-time").await;
        let mut second = open(&server, "/ws/one-at-a-time").await;
        first.send(Message::text("1500")).await.unwrap();
        // The first message holds the handler's only slot before the second is sent.
        let stats = server.streams.handler_stats(0).unwrap();
        crate::support::eventually(
            "the first message runs",
            std::time::Duration::from_secs(10),
            || async { (stats.running() == 1).then_some(()) },
        )
        .await;
        second.send(Message::text("0")).await.unwrap();
        // The second message waits for the first's slot: without the limit it would be
        // answered at once, long before the first.
        // `biased`: once the first is answered the second may follow at once; when both are
        // ready, the first must win the poll (a second answered before would be alone).
        let which = tokio::select! {
            biased;
            answer = first.next() => { assert!(matches!(answer, Some(Ok(Message::Text(_))))); "first" }
            answer = second.next() => { assert!(matches!(answer, Some(Ok(Message::Text(_))))); "second" }
        };
        assert_eq!(which, "first", "the second message ran beside the first");
        let Some(Ok(Message::Text(answer))) = second.next().await else {
            panic!("the second message is answered once the first is done");
        };
        assert_eq!(answer.as_str(), "done");
        assert_eq!((stats.succeeded(), stats.failed()), (2, 0));
    }

    #[tokio::test]
    async fn a_websocket_endpoint_cannot_take_the_path_of_a_get_handler() {
        let app = crate::support::app(
            r#"
identifier: test.websocket.clash
appVersion: v1
components:
  - { name: inspect, source: guest(inspect) }
handlers:
  - { type: request, method: GET, resource: /live, steps: [ { fn: inspect } ] }
  - { type: stream, source: server, resource: /live, steps: [ { fn: inspect } ] }
"#,
        );
        let launch = karman::Launch {
            runtime: crate::support::runtime_config(),
            server: ServerConfig::default(),
            ..karman::Launch::default()
        };
        let error = karman::start(app, launch)
            .await
            .err()
            .expect("the clash is refused")
            .to_string();
        assert!(
            error
                == "test.yaml:8:7: the WebSocket endpoint `/live` is also the request handler `GET /live` at test.yaml:7:7",
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_resume_after_the_nats_server_restarts() {
    let port = crate::support::free_port();
    let broker = PrivateNats::start(port);
    let streams = start(&format!(
        r#"
identifier: test.streams.reconnect
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:{port}" }} }}
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: nats, resource: work, steps: [ {{ fn: echo }} ] }}
"#
    ))
    .await;
    let ask = |payload: &'static str| async move {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(1))
            .connect(format!("127.0.0.1:{port}"))
            .await
            .ok()?;
        let reply = tokio::time::timeout(
            Duration::from_secs(1),
            client.request("work", payload.into()),
        )
        .await
        .ok()?
        .ok()?;
        Some(reply.payload)
    };
    assert_eq!(ask("before").await.as_deref(), Some(&b"before"[..]));

    drop(broker);
    let _broker = PrivateNats::start(port);
    eventually(
        "the handler to resubscribe after the restart",
        Duration::from_secs(20),
        || async { (ask("after").await.as_deref() == Some(&b"after"[..])).then_some(()) },
    )
    .await;
    streams.shutdown().await;
}

/// A private `nats-server` started with `config` (a config file in a temporary directory,
/// `{port}` and `{dir}` replaced), with the PEM files of a certificate made here in that
/// directory (`cert.pem`, `key.pem`). Killed on drop; its directory removed.
struct ConfiguredNats {
    /// Declared first: killed before its directory is removed.
    _process: crate::support::Watched,
    port: u16,
    dir: std::path::PathBuf,
}

impl ConfiguredNats {
    fn start(config: &str) -> Self {
        Self::start_with_files(config, &[])
    }

    /// Starts one with more files in its directory (name, content).
    fn start_with_files(config: &str, files: &[(&str, String)]) -> Self {
        let dir = std::env::temp_dir().join(unique().replace('.', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        let port = crate::support::free_port();
        let config = config
            .replace("{port}", &port.to_string())
            .replace("{dir}", &dir.display().to_string());
        std::fs::write(dir.join("nats.conf"), config).unwrap();
        let args = vec![
            "-c".to_string(),
            dir.join("nats.conf").display().to_string(),
        ];
        let process = crate::support::Watched::start("nats-server", "nats-server", &args, port);
        Self {
            _process: process,
            port,
            dir,
        }
    }

    /// A Directive whose stream handler echoes `work`, connecting with `settings` (YAML
    /// flow-mapping entries after `serverAddress`).
    fn directive(&self, settings: &str) -> String {
        format!(
            r#"
identifier: test.streams.auth
appVersion: v1
connections: {{ nats: {{ serverAddress: "127.0.0.1:{}", {settings} }} }}
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: nats, resource: work, steps: [ {{ fn: echo }} ] }}
"#,
            self.port
        )
    }

    /// Asks the handler through `options`, expecting the echo.
    async fn ask(&self, options: async_nats::ConnectOptions) {
        let client = options
            .connect(format!("127.0.0.1:{}", self.port))
            .await
            .unwrap();
        let reply = within(
            "the handler's reply",
            Duration::from_secs(10),
            client.request("work", "hello".into()),
        )
        .await
        .unwrap();
        assert_eq!(&reply.payload[..], b"hello");
    }
}

impl Drop for ConfiguredNats {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_receives_through_nats_with_a_user_and_password() {
    let broker = ConfiguredNats::start(
        "listen: 127.0.0.1:{port}\nauthorization { users = [ { user: alice, password: s3cret-nats-pw } ] }\n",
    );
    let streams = start(&broker.directive("user: alice, password: s3cret-nats-pw")).await;
    broker
        .ask(async_nats::ConnectOptions::with_user_and_password(
            "alice".into(),
            "s3cret-nats-pw".into(),
        ))
        .await;
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_receives_through_nats_with_a_token() {
    let broker =
        ConfiguredNats::start("listen: 127.0.0.1:{port}\nauthorization { token: t0ken-4711 }\n");
    let streams = start(&broker.directive("token: t0ken-4711")).await;
    broker
        .ask(async_nats::ConnectOptions::with_token("t0ken-4711".into()))
        .await;
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_receives_through_nats_over_tls_with_a_private_ca() {
    let broker = ConfiguredNats::start(
        "listen: 127.0.0.1:{port}\ntls { cert_file: \"{dir}/cert.pem\", key_file: \"{dir}/key.pem\" }\n",
    );
    let ca = broker.dir.join("cert.pem").display().to_string();
    let streams = start(&broker.directive(&format!("tls: {{ caFile: \"{ca}\" }}"))).await;
    broker
        .ask(
            async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(ca.into()),
        )
        .await;
    streams.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_receives_through_nats_with_an_nkey() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let broker = ConfiguredNats::start(&format!(
        "listen: 127.0.0.1:{{port}}\nauthorization {{ users = [ {{ nkey: {} }} ] }}\n",
        user.public_key()
    ));
    let streams = start(&broker.directive(&format!("nkey: \"{seed}\""))).await;
    broker
        .ask(async_nats::ConnectOptions::with_nkey(seed.clone()))
        .await;
    streams.shutdown().await;
    // Another key is refused, and the seed is not shown.
    let other = nkeys::KeyPair::new_user().seed().unwrap();
    let error = start_error(&broker.directive(&format!("nkey: \"{other}\""))).await;
    assert!(error.contains("cannot connect to NATS"), "{error}");
    assert!(!error.contains(&other) && !error.contains(&seed), "{error}");
    let error = start_error(&broker.directive("nkey: SUNOTASEED")).await;
    assert!(error.contains("`nkey` is not an NKey seed"), "{error}");
    assert!(!error.contains("SUNOTASEED"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_connects_to_nats_with_a_client_certificate() {
    // The server verifies clients against `client.pem` (a self-signed client certificate).
    let client = rcgen::generate_simple_self_signed(vec!["karman-client".into()]).unwrap();
    let broker = ConfiguredNats::start_with_files(
        "listen: 127.0.0.1:{port}\ntls { cert_file: \"{dir}/cert.pem\", key_file: \"{dir}/key.pem\", ca_file: \"{dir}/client.pem\", verify: true }\n",
        &[
            ("client.pem", client.cert.pem()),
            ("client-key.pem", client.signing_key.serialize_pem()),
        ],
    );
    let dir = broker.dir.display().to_string();
    let tls = format!(
        "tls: {{ caFile: \"{dir}/cert.pem\", certFile: \"{dir}/client.pem\", keyFile: \"{dir}/client-key.pem\" }}"
    );
    let streams = start(&broker.directive(&tls)).await;
    broker
        .ask(
            async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(broker.dir.join("cert.pem"))
                .add_client_certificate(
                    broker.dir.join("client.pem"),
                    broker.dir.join("client-key.pem"),
                ),
        )
        .await;
    streams.shutdown().await;
    // Without the client certificate the server refuses the connection.
    let error =
        start_error(&broker.directive(&format!("tls: {{ caFile: \"{dir}/cert.pem\" }}"))).await;
    assert!(error.contains("cannot connect to NATS"), "{error}");
}

#[tokio::test]
async fn an_unusable_nats_credentials_file_stops_start_up_naming_it() {
    let missing = std::env::temp_dir().join(format!("{}.creds", unique()));
    let directive = format!(
        r#"
identifier: test.streams.creds
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}", credentials: "{}" }} }}
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: nats, resource: work, steps: [ {{ fn: echo }} ] }}
"#,
        missing.display()
    );
    let error = start_error(&directive).await;
    assert!(
        error.contains(&format!(
            "cannot use the NATS credentials file {}",
            missing.display()
        )),
        "{error}"
    );
}

/// Why the app of `yaml` does not start.
async fn start_error(yaml: &str) -> String {
    match karman::start(
        app(yaml),
        Launch {
            runtime: runtime_config(),
            ..Launch::default()
        },
    )
    .await
    {
        Ok(_) => panic!("the app started"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_wrong_nats_password_fails_start_up_without_showing_it() {
    let broker = ConfiguredNats::start(
        "listen: 127.0.0.1:{port}\nauthorization { users = [ { user: alice, password: s3cret-nats-pw } ] }\n",
    );
    let started = karman::start(
        app(&broker.directive("user: alice, password: wrong-nats-pw")),
        Launch {
            runtime: runtime_config(),
            ..Launch::default()
        },
    )
    .await;
    let error = match started {
        Ok(_) => panic!("the app started with a wrong NATS password"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains(&format!(
            "cannot connect to NATS at 127.0.0.1:{}",
            broker.port
        )),
        "{error}"
    );
    assert!(
        !error.contains("wrong-nats-pw"),
        "the password leaked: {error}"
    );
    assert!(!error.contains("s3cret-nats-pw"), "{error}");
}
