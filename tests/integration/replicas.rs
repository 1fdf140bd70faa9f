//! Several `karman serve` processes of one app on loopback, as replicas behind a load balancer:
//! they share the schedules through a lease in Redis (127.0.0.1:6379, scripts/services), so
//! each tick runs once while all live and goes on running after one is SIGKILLed; and they
//! split the messages of a core NATS queue group and of a JetStream durable consumer (NATS on
//! 127.0.0.1:4222), losing none of JetStream's when one is SIGKILLed mid-run.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::support::{Binary, free_port, unique, within};

const REDIS: &str = "redis://127.0.0.1:6379";
/// The schedule's period.
const PERIOD: Duration = Duration::from_millis(500);
/// Ticks counted in each window.
const WINDOW_TICKS: u32 = 12;

/// A `karman serve` process with its admin listener.
pub struct Replica {
    pub binary: Binary,
    admin: String,
}

impl Replica {
    pub fn start(yaml: &str, args: &[&str]) -> Self {
        let admin = format!("127.0.0.1:{}", free_port());
        let mut all = vec!["--admin-listen", &admin];
        all.extend_from_slice(args);
        let binary = Binary::serve_with_args(yaml, "info", &[], &all);
        Self { binary, admin }
    }

    /// Runs of the schedule `tick` this process started.
    fn runs(&self) -> u64 {
        self.count("karman_schedule_runs_total")
    }

    /// The count `metric` of the schedule `tick` (from a thread outside the async runtime).
    fn count(&self, metric: &str) -> u64 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(self.sample(&format!(r#"{metric}{{schedule="tick"}}"#)))
    }

    /// The value of the series `series` (`name{labels}`) on its admin listener, 0 if absent.
    pub async fn sample(&self, series: &str) -> u64 {
        let url = format!("http://{}/metrics", self.admin);
        let text = async { reqwest::get(url).await?.text().await }
            .await
            .expect("the admin listener answers");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0, |count| count.parse().expect("a count"))
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sleeps to the middle of the next period (ticks fall on whole periods since the epoch), and
/// returns the number of the last tick.
fn to_mid_tick() -> u64 {
    let period = PERIOD.as_millis() as u64;
    let now = now_ms();
    let mid = (now / period) * period + period / 2;
    let target = if mid > now { mid } else { mid + period };
    std::thread::sleep(Duration::from_millis(target - now));
    target / period
}

/// Runs per replica over `WINDOW_TICKS` ticks, and the ticks that fell in the window.
fn window(replicas: &[&Replica]) -> (Vec<u64>, u64) {
    let first = to_mid_tick();
    let before: Vec<u64> = replicas.iter().map(|r| r.runs()).collect();
    std::thread::sleep(PERIOD * (WINDOW_TICKS - 1));
    let last = to_mid_tick();
    let after: Vec<u64> = replicas.iter().map(|r| r.runs()).collect();
    let runs = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    (runs, last - first)
}

#[test]
fn three_replicas_run_each_tick_once_and_go_on_after_one_is_killed() {
    let yaml = format!(
        r#"
identifier: {}
appVersion: v1
components:
  - {{ name: echo, source: guest(echo) }}
schedules:
  - {{ name: tick, every: {{ seconds: 0.5 }}, steps: [ {{ fn: echo }} ] }}
"#,
        unique("test.replicas")
    );
    let lease = ["--schedule-lease", REDIS];
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&yaml, &lease)).collect();
    // Each has started its timer once it listens; one more tick and all take part.
    std::thread::sleep(PERIOD);

    let (runs, ticks) = window(&replicas.iter().collect::<Vec<_>>());
    eprintln!("three replicas: {ticks} ticks, runs per replica {runs:?}");
    assert_eq!(
        runs.iter().sum::<u64>(),
        ticks,
        "each tick ran once: {runs:?}"
    );

    // SIGKILL the one that ran the most: the others go on, each tick still once.
    let busiest = (0..3).max_by_key(|&i| runs[i]).unwrap();
    replicas[busiest].binary.kill();
    let killed = replicas.remove(busiest);
    drop(killed);
    let (runs, ticks) = window(&replicas.iter().collect::<Vec<_>>());
    eprintln!("after the SIGKILL: {ticks} ticks, runs per replica {runs:?}");
    assert_eq!(
        runs.iter().sum::<u64>(),
        ticks,
        "each tick ran once: {runs:?}"
    );
}

#[test]
fn the_run_lock_of_a_killed_replica_expires_and_the_other_takes_over() {
    // Runs of 1.5 s (three steps of 0.5 s) every 0.5 s: most ticks find a run going. The
    // longest run is 3 s (three 1 s timeouts), so a dead holder's lock lasts 3 s + 5 s.
    let yaml = format!(
        r#"
identifier: {}
appVersion: v1
components:
  - {{ name: slow, source: guest(slow), limits: {{ timeout: 1s }} }}
schedules:
  - {{ name: tick, every: {{ seconds: 0.5 }}, steps: [ {{ fn: slow }}, {{ fn: slow }}, {{ fn: slow }} ] }}
"#,
        unique("test.replicas.lock")
    );
    let lease = ["--schedule-lease", REDIS];
    let mut replicas: Vec<Replica> = (0..2).map(|_| Replica::start(&yaml, &lease)).collect();
    // Wait for a run to start, and SIGKILL the replica that runs it.
    let before: Vec<u64> = replicas.iter().map(Replica::runs).collect();
    let started = std::time::Instant::now();
    let holder = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no run started"
        );
        if let Some(i) = (0..2).find(|&i| replicas[i].runs() > before[i]) {
            break i;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    replicas[holder].binary.kill();
    let killed_at = std::time::Instant::now();
    let survivor = &replicas[1 - holder];
    let runs = survivor.runs();
    // The lock stays while the dead run could still be going: the survivor skips its ticks.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        survivor.runs(),
        runs,
        "no run while the dead replica's lock holds"
    );
    assert!(survivor.count("karman_schedule_skips_total") > 0);
    // It expires 8 s after the run began; then the survivor runs.
    while survivor.runs() == runs {
        assert!(
            killed_at.elapsed() < Duration::from_secs(12),
            "the survivor did not take over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("taken over {:?} after the SIGKILL", killed_at.elapsed());
}

#[test]
fn without_a_lease_every_replica_runs_every_tick() {
    // What the lease prevents: two processes, each running the schedule on its own.
    let yaml = r#"
identifier: test.replicas.unshared
appVersion: v1
components:
  - { name: echo, source: guest(echo) }
schedules:
  - { name: tick, every: { seconds: 0.5 }, steps: [ { fn: echo } ] }
"#;
    let replicas: Vec<Replica> = (0..2).map(|_| Replica::start(yaml, &[])).collect();
    std::thread::sleep(PERIOD);
    let (runs, ticks) = window(&replicas.iter().collect::<Vec<_>>());
    for count in runs {
        assert!(
            count + 1 >= ticks && count <= ticks + 1,
            "{count} runs in {ticks} ticks"
        );
    }
}

#[test]
fn an_unreachable_lease_stops_start_up_and_names_the_flag() {
    let yaml = r#"
identifier: test.replicas.unreachable
appVersion: v1
components:
  - { name: echo, source: guest(echo) }
schedules:
  - { name: tick, every: { seconds: 1 }, steps: [ { fn: echo } ] }
"#;
    let directive = std::env::temp_dir().join(format!("{}.yaml", unique("replicas")));
    std::fs::write(&directive, crate::support::expand(yaml)).unwrap();
    let port = free_port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_karman"))
        .arg("serve")
        .arg(&directive)
        .args(["--listen", "127.0.0.1:0", "--schedule-lease"])
        .arg(format!("redis://user:secret@127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("--schedule-lease"), "{stderr}");
    assert!(
        stderr.contains(&format!("redis://<credentials>@127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
}

const NATS: &str = "127.0.0.1:4222";

async fn nats() -> async_nats::Client {
    async_nats::connect(NATS)
        .await
        .expect("NATS runs on 127.0.0.1:4222 (scripts/services)")
}

/// The results counted by payload cover `job-0` … `job-<messages - 1>`, each at least once
/// (asserted): how many came more than once.
pub fn duplicates_of_all(seen: &HashMap<String, u32>, messages: usize) -> u64 {
    let expected: std::collections::HashSet<String> =
        (0..messages).map(|n| format!("job-{n}")).collect();
    let got: std::collections::HashSet<String> = seen.keys().cloned().collect();
    assert_eq!(got, expected, "no message lost");
    seen.values().map(|&n| u64::from(n - 1)).sum()
}

/// Starts `count` replicas of `yaml` off the async runtime's threads.
pub async fn start_replicas(yaml: &str, count: usize) -> Vec<Replica> {
    let yaml = yaml.to_string();
    tokio::task::spawn_blocking(move || (0..count).map(|_| Replica::start(&yaml, &[])).collect())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_in_one_core_nats_queue_group_split_the_messages() {
    let prefix = unique("karman_test_group");
    let yaml = format!(
        r#"
identifier: {prefix}
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: echo, source: guest(echo) }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.work, respondTo: {prefix}.results, steps: [ {{ fn: echo }} ] }}
"#
    );
    let replicas = start_replicas(&yaml, 3).await;
    let client = nats().await;
    let mut results = client.subscribe(format!("{prefix}.results")).await.unwrap();
    client.flush().await.unwrap();
    const MESSAGES: usize = 300;
    for n in 0..MESSAGES {
        client
            .publish(format!("{prefix}.work"), n.to_string().into())
            .await
            .unwrap();
        if n % 50 == 49 {
            // Spread over time, so that every subscriber of the group is asked.
            client.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    client.flush().await.unwrap();
    let mut seen: HashMap<String, u32> = HashMap::new();
    within(
        "every message to be handled",
        Duration::from_secs(30),
        async {
            while seen.len() < MESSAGES {
                let message = results.next().await.unwrap();
                *seen
                    .entry(String::from_utf8(message.payload.to_vec()).unwrap())
                    .or_default() += 1;
            }
        },
    )
    .await;
    let extra = tokio::time::timeout(Duration::from_millis(300), results.next()).await;
    assert!(extra.is_err(), "an extra result: {extra:?}");
    assert!(
        seen.values().all(|&n| n == 1),
        "a message was handled twice"
    );
    let series = format!(
        r#"karman_stream_messages_total{{handler="nats {prefix}.work",outcome="succeeded"}}"#
    );
    let mut counts = Vec::new();
    for replica in &replicas {
        counts.push(replica.sample(&series).await);
    }
    eprintln!("core NATS, three replicas: {MESSAGES} messages, handled per replica {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), MESSAGES as u64, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "each replica took a share: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_a_jetstream_consumer_and_lose_nothing_when_one_is_killed() {
    let prefix = unique("karman_test_js");
    let stream = prefix.to_uppercase();
    const MAX_IN_FLIGHT: u64 = 4;
    let yaml = format!(
        r#"
identifier: {prefix}
appVersion: v1
connections: {{ nats: {{ serverAddress: "{NATS}" }} }}
components:
  - {{ name: slow, source: guest(slow), limits: {{ timeout: 2s }} }}
  - {{ name: echo, source: guest(echo), limits: {{ timeout: 1s }} }}
handlers:
  - type: stream
    source: nats
    resource: {prefix}.jobs
    stream: {stream}
    durable: workers
    respondTo: {prefix}.done
    maxInFlight: {MAX_IN_FLIGHT}
    steps: [ {{ fn: slow }}, {{ fn: echo }} ]
"#
    );
    let client = nats().await;
    let jetstream = async_nats::jetstream::new(client.clone());
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: format!("{stream}-OUT"),
            subjects: vec![format!("{prefix}.done")],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut done = client.subscribe(format!("{prefix}.done")).await.unwrap();
    client.flush().await.unwrap();
    let mut replicas = start_replicas(&yaml, 3).await;
    // Each run takes 0.5 s; three replicas of 4 at a time: about 12 messages per 0.5 s.
    const MESSAGES: usize = 90;
    for n in 0..MESSAGES {
        jetstream
            .publish(format!("{prefix}.jobs"), format!("job-{n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut receive = async |seen: &mut HashMap<String, u32>| {
        let message = done.next().await.unwrap();
        *seen
            .entry(String::from_utf8(message.payload.to_vec()).unwrap())
            .or_default() += 1;
    };
    while seen.len() < MESSAGES / 3 {
        within("results", Duration::from_secs(30), receive(&mut seen)).await;
    }
    // SIGKILL one replica with its messages in flight.
    let series = format!(
        r#"karman_stream_messages_total{{handler="nats {prefix}.jobs",outcome="succeeded"}}"#
    );
    let killed_before = replicas[0].sample(&series).await;
    replicas[0].binary.kill();
    let killed = replicas.remove(0);
    drop(killed);
    within(
        "every message to be processed",
        Duration::from_secs(60),
        async {
            while seen.len() < MESSAGES {
                receive(&mut seen).await;
            }
        },
    )
    .await;
    // Redeliveries still on their way arrive within the consumer's ack wait (3 s + 5 s).
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            receive(&mut seen).await;
        }
    })
    .await;
    let duplicates = duplicates_of_all(&seen, MESSAGES);
    let mut survivors = Vec::new();
    for replica in &replicas {
        survivors.push(replica.sample(&series).await);
    }
    eprintln!(
        "JetStream, three replicas: {MESSAGES} messages; the killed one had finished {killed_before}, \
         the others {survivors:?}; {duplicates} results twice"
    );
    // A duplicate is a message the killed replica had run (and maybe published) but not acked.
    assert!(duplicates <= MAX_IN_FLIGHT, "{duplicates} duplicates");
    assert!(
        killed_before > 0 && survivors.iter().all(|&n| n > 0),
        "each replica took a share"
    );
    let _ = jetstream.delete_stream(&stream).await;
    let _ = jetstream.delete_stream(format!("{stream}-OUT")).await;
}
