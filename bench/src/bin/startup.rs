//! How long `karman serve` takes from its start to its first answer, for an app of ten
//! components (eight Rust Runnables, the JavaScript and the Python conformance Runnables), on a
//! cold compiled-code cache (an empty directory: every component compiles) and on a warm one
//! (the directory the cold start filled). Cold and warm starts alternate, `ROUNDS` of each, and
//! the medians are printed.
//!
//! ```sh
//! scripts/build-guests && cargo build --release -p karman -p karman-bench --bins
//! target/release/startup                       # ROUNDS=5 KARMAN=target/release/karman
//! ```
//!
//! The clock starts just before the process is spawned and stops when a `GET /hello/start`
//! answers 200 (polled every millisecond over a new connection); the app's start-up log
//! (`KARMAN_LOG=info`) is kept in the temporary directory while the bench runs. With
//! `RESULTS=<file>` the medians are also appended there as `measure|result|target` lines
//! (bench/all.sh).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use karman_bench::record_result;

/// The Rust Runnables of the app (`target/wasm32-wasip2/guest/<name>.wasm`); `hello` answers
/// the probe.
const RUST_COMPONENTS: [&str; 8] = [
    "hello",
    "echo",
    "counter",
    "logger",
    "set_response",
    "inspect",
    "cache_user",
    "conformance_rust",
];
/// The other languages' Runnables.
const OTHER_COMPONENTS: [&str; 2] = ["conformance_js", "conformance_python"];
/// How long one start may take before the bench gives up.
const START_TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let karman = std::env::var_os("KARMAN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/karman"));
    let guests = root().join("target/wasm32-wasip2/guest");
    let work = std::env::temp_dir().join(format!("karman-startup-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a temporary directory");
    let directive = write_directive(&work, &guests);

    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for round in 0..rounds {
        let cache = work.join(format!("cache-{round}"));
        cold.push(start(&karman, &directive, &cache, &work));
        warm.push(start(&karman, &directive, &cache, &work));
        eprintln!(
            "round {}: cold {:.0} ms, warm {:.0} ms",
            round + 1,
            millis(cold[round]),
            millis(warm[round])
        );
        let _ = std::fs::remove_dir_all(&cache);
    }
    let _ = std::fs::remove_dir_all(&work);

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "start to first answer, {} components (8 Rust, JavaScript, Python), {cores} cores, median of {rounds}:",
        RUST_COMPONENTS.len() + OTHER_COMPONENTS.len()
    );
    let (cold, warm) = (millis(median(cold)), millis(median(warm)));
    println!("  cold compiled-code cache  {cold:>8.0} ms");
    println!("  warm compiled-code cache  {warm:>8.0} ms");
    record_result(
        "Start-up, 10 components, warm cache: start to first answer",
        &format!("{warm:.0} ms"),
        "<= 300 ms",
    );
    record_result(
        "Start-up, 10 components, cold cache (parallel compile)",
        &format!("{cold:.0} ms"),
        "—",
    );
}

/// One route per component: `GET /<name>/:id` (hello's is `/hello/:name`).
fn write_directive(work: &Path, guests: &Path) -> PathBuf {
    let mut yaml = String::from("identifier: bench.startup\nappVersion: v1\ncomponents:\n");
    let names = RUST_COMPONENTS.iter().chain(&OTHER_COMPONENTS);
    for name in names.clone() {
        let source = guests.join(format!("{name}.wasm"));
        assert!(
            source.exists(),
            "{} is missing: run scripts/build-guests",
            source.display()
        );
        let grants = if *name == "cache_user" {
            ", capabilities: { cache: {} }"
        } else {
            ""
        };
        let _ = writeln!(
            yaml,
            "  - {{ name: {}, source: {}, limits: {{ memory: 256MiB }}{grants} }}",
            route_name(name),
            source.display()
        );
    }
    yaml.push_str("handlers:\n");
    for name in names {
        let name = route_name(name);
        let _ = writeln!(
            yaml,
            "  - {{ type: request, method: GET, resource: /{name}/:id, steps: [ {{ fn: {name} }} ] }}"
        );
    }
    let path = work.join("Directive.yaml");
    std::fs::write(&path, yaml).expect("the Directive is written");
    path
}

fn route_name(file: &str) -> String {
    file.replace('_', "-")
}

/// Starts Karman with `cache` as its compiled-code cache and returns the time to its first
/// answer.
fn start(karman: &Path, directive: &Path, cache: &Path, work: &Path) -> Duration {
    let port = free_port();
    let log = std::fs::File::create(work.join("karman.log")).expect("a log file");
    let started = Instant::now();
    let child = Command::new(karman)
        .arg("serve")
        .arg(directive)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--cache-dir")
        .arg(cache)
        .env("KARMAN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", karman.display()));
    let mut child = Stopping(child);
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if answers(address) {
            return started.elapsed();
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let log = std::fs::read_to_string(work.join("karman.log")).unwrap_or_default();
            panic!("karman exited with {status} before answering:\n{log}");
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "karman did not answer within {START_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A child process killed when dropped.
struct Stopping(Child);

impl Drop for Stopping {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `GET /hello/start` answers 200.
fn answers(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = "GET /hello/start HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
