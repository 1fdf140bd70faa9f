//! Several `karman serve` processes of one app on loopback, as replicas behind a load balancer:
//! they share the schedules through a lease in Redis (127.0.0.1:6379, scripts/services), so
//! each tick runs once while all live and goes on running after one is SIGKILLed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{Binary, free_port, unique};

const REDIS: &str = "redis://127.0.0.1:6379";
/// The schedule's period.
const PERIOD: Duration = Duration::from_millis(500);
/// Ticks counted in each window.
const WINDOW_TICKS: u32 = 12;

/// A `karman serve` process with its admin listener.
struct Replica {
    binary: Binary,
    admin: String,
}

impl Replica {
    fn start(yaml: &str, args: &[&str]) -> Self {
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

    /// The count `metric` of the schedule `tick`.
    fn count(&self, metric: &str) -> u64 {
        let url = format!("http://{}/metrics", self.admin);
        let text = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { reqwest::get(url).await?.text().await })
            .expect("the admin listener answers");
        text.lines()
            .find_map(|line| line.strip_prefix(&format!(r#"{metric}{{schedule="tick"}} "#)))
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
