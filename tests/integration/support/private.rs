//! Private backends for outage tests, on free ports of 127.0.0.1, that can be killed in the
//! middle of a test and restarted on the same port with the same data: Redis, PostgreSQL (a
//! cluster of its own in a temporary directory), NATS with JetStream (file storage) and tansu
//! (Kafka protocol) with its data in a private S3 emulator.
//!
//! Each server runs under `timeout` (a watchdog: it dies after [`WATCHDOG`] even if the test
//! process is killed) in a process group of its own; [`Watched::kill`] and `Drop` kill the
//! whole group with `SIGKILL`, an abrupt crash, and temporary directories are removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// The longest a private server lives, whatever happens to the test.
const WATCHDOG: Duration = Duration::from_secs(180);
/// How long a private server has to accept connections.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A server process under a watchdog, in its own process group.
pub struct Watched {
    child: Child,
    port: u16,
}

impl Watched {
    /// Starts `program args…` under the watchdog (output discarded) and waits until something
    /// accepts connections on `port`; `what` names it when it does not.
    pub fn start(what: &str, program: &str, args: &[String], port: u16) -> Self {
        // `timeout` makes itself the leader of a new process group, which the server joins.
        let child = Command::new("timeout")
            .arg("--signal=KILL")
            .arg(format!("{}s", WATCHDOG.as_secs()))
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let watched = Self { child, port };
        let deadline = Instant::now() + START_LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{what} did not come up on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        watched
    }

    /// Kills the server and everything it started (`SIGKILL` to its process group), and
    /// waits until its port refuses connections (the signal is delivered asynchronously).
    pub fn kill(mut self) {
        self.kill_group();
        let deadline = Instant::now() + START_LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts connections after the kill",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill_group(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// A backend that can be killed and started again on the same port.
pub trait Restartable {
    /// Where it listens: `127.0.0.1:<port>`.
    fn address(&self) -> String;
    /// Kills it abruptly (no-op when already down).
    fn kill(&mut self);
    /// Starts it again on the same port with the same data.
    fn restart(&mut self);
}

/// A private `redis-server` (nothing kept on disk).
pub struct OutageRedis {
    port: u16,
    process: Option<Watched>,
}

impl OutageRedis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: super::free_port(),
            process: None,
        };
        redis.restart();
        redis
    }
}

impl Restartable for OutageRedis {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }

    fn restart(&mut self) {
        let args: Vec<String> = ["--port", &self.port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .map(String::from)
            .collect();
        self.process = Some(Watched::start(
            "redis-server",
            "redis-server",
            &args,
            self.port,
        ));
    }
}

/// A private PostgreSQL cluster (`initdb` into a temporary directory, trust authentication,
/// user `postgres`, db `postgres`), run as the `postgres` user.
pub struct OutagePostgres {
    /// Declared first: killed before its directory is removed.
    process: Option<Watched>,
    port: u16,
    dir: TempDir,
}

/// Sends `SIG<name>` to `pids`.
fn signal(name: &str, pids: &[u32]) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// The processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after_comm.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Where the PostgreSQL programs are.
fn postgres_bin(program: &str) -> String {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("PostgreSQL is not installed in {}: {e}", root.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    let bin = versions
        .last()
        .expect("a PostgreSQL version is installed")
        .join("bin")
        .join(program);
    bin.display().to_string()
}

impl OutagePostgres {
    pub fn start() -> Self {
        let dir = TempDir::new("karman-pg");
        let status = Command::new("chown")
            .args(["postgres:", &dir.path().display().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "cannot hand {:?} to postgres", dir.path());
        let data = dir.path().join("data").display().to_string();
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--", &postgres_bin("initdb")])
            .args(["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut postgres = Self {
            port: super::free_port(),
            dir,
            process: None,
        };
        postgres.restart();
        // It listens before it accepts sessions ("the database system is starting up").
        let deadline = Instant::now() + START_LIMIT;
        while !Command::new(postgres_bin("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &postgres.port.to_string()])
            .status()
            .unwrap()
            .success()
        {
            assert!(Instant::now() < deadline, "postgres did not get ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        postgres
    }

    /// A connection URL for the app and the test.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Restartable for OutagePostgres {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every backend process is a session leader of its own (`setsid`), out of the reach of
    /// the group kill: the postmaster is frozen, then it and its children are killed, as in a
    /// crash.
    fn kill(&mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        let pid_file = self.dir.path().join("data/postmaster.pid");
        if let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        {
            signal("STOP", &[postmaster]);
            let mut doomed = children_of(postmaster);
            doomed.push(postmaster);
            signal("KILL", &doomed);
        }
        process.kill();
    }

    fn restart(&mut self) {
        let dir = self.dir.path().display().to_string();
        let data = self.dir.path().join("data").display().to_string();
        let args: Vec<String> = [
            "-u",
            "postgres",
            "--",
            &postgres_bin("postgres"),
            "-D",
            &data,
            "-p",
            &self.port.to_string(),
            "-k",
            &dir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        self.process = Some(Watched::start("postgres", "runuser", &args, self.port));
    }
}

/// A private `nats-server` with JetStream, its streams stored in a temporary directory (so
/// they survive a restart).
pub struct OutageNats {
    /// Declared first: killed before its directory is removed.
    process: Option<Watched>,
    port: u16,
    dir: TempDir,
}

impl OutageNats {
    pub fn start() -> Self {
        let mut nats = Self {
            port: super::free_port(),
            dir: TempDir::new("karman-js"),
            process: None,
        };
        nats.restart();
        nats
    }
}

impl Restartable for OutageNats {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }

    fn restart(&mut self) {
        let args: Vec<String> = [
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
            &self.dir.path().display().to_string(),
        ]
        .into_iter()
        .map(String::from)
        .collect();
        self.process = Some(Watched::start(
            "nats-server",
            "nats-server",
            &args,
            self.port,
        ));
    }
}

/// A private S3 emulator (moto, which `scripts/services` installs into the tools directory)
/// with one bucket, `tansu`: storage that outlives a tansu broker.
pub struct OutageS3 {
    _process: Watched,
    port: u16,
}

impl OutageS3 {
    pub async fn start() -> Self {
        let binary = super::tools_dir().join("moto-venv/bin/moto_server");
        assert!(
            binary.exists(),
            "{} is missing: run scripts/services",
            binary.display()
        );
        let port = super::free_port();
        let args: Vec<String> = vec![
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        let process = tokio::task::block_in_place(|| {
            Watched::start("moto_server", &binary.display().to_string(), &args, port)
        });
        let created = super::client()
            .put(format!("http://127.0.0.1:{port}/tansu"))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "cannot create the bucket: {created:?}"
        );
        Self {
            _process: process,
            port,
        }
    }
}

/// A private tansu broker (Kafka protocol) storing its topics, offsets and groups in S3.
pub struct OutageTansu {
    process: Option<Watched>,
    port: u16,
    s3: u16,
}

impl OutageTansu {
    /// Starts one whose data lives in `s3`.
    pub fn start(s3: &OutageS3) -> Self {
        let mut tansu = Self {
            process: None,
            port: super::free_port(),
            s3: s3.port,
        };
        tansu.restart();
        tansu
    }
}

impl Restartable for OutageTansu {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }

    fn restart(&mut self) {
        let binary = super::tools_dir().join("tansu");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let args: Vec<String> = vec![
            "AWS_ACCESS_KEY_ID=test".into(),
            "AWS_SECRET_ACCESS_KEY=test".into(),
            "AWS_DEFAULT_REGION=us-east-1".into(),
            format!("AWS_ENDPOINT=http://127.0.0.1:{}", self.s3),
            "AWS_ALLOW_HTTP=true".into(),
            binary.display().to_string(),
            "broker".into(),
            "--listener-url".into(),
            url.clone(),
            "--advertised-listener-url".into(),
            url,
            "--storage-engine".into(),
            "s3://tansu/".into(),
        ];
        self.process = Some(Watched::start("tansu", "env", &args, self.port));
    }
}
