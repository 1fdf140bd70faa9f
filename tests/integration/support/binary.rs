//! The `karman` binary as an operator runs it: `karman serve` on a free port, its JSON logs
//! collected, its peak memory readable, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{expand, repo_root};

/// The `karman` binary, serving a Directive on a free port.
pub struct Binary {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    directive: PathBuf,
}

impl Binary {
    /// Serves `yaml` with the default flags.
    pub fn serve(yaml: &str) -> Self {
        Self::serve_with(yaml, "info", &[])
    }

    /// Serves with a log filter and extra environment variables.
    pub fn serve_with(yaml: &str, log_filter: &str, env: &[(&str, &str)]) -> Self {
        Self::serve_with_args(yaml, log_filter, env, &[])
    }

    /// Serves with a log filter, extra environment variables and extra `karman serve` flags.
    pub fn serve_with_args(
        yaml: &str,
        log_filter: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        let directive = write_directive(yaml);
        Self::serve_file(&directive, log_filter, env, args)
    }

    /// Serves the file at `path` (a Directive, a bundle or a component) with a log filter,
    /// extra environment variables and extra `karman serve` flags.
    pub fn serve_file(
        path: &std::path::Path,
        log_filter: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_karman"));
        command
            .arg("serve")
            .arg(path)
            .args(args)
            .env("KARMAN_LOG", log_filter)
            .envs(env.iter().copied());
        Self::spawn(command, path.to_path_buf(), Duration::from_secs(60))
    }

    /// Runs `command` (`karman serve` or `karman dev` with its arguments) on a free port with
    /// JSON logs, and waits at most `start_limit` for it to listen.
    pub fn spawn(mut command: Command, directive: PathBuf, start_limit: Duration) -> Self {
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .arg("--cache-dir")
            .arg(repo_root().join("target/karman-test-cache"))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the karman binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if let Some(address) = entry["fields"]["message"]
                    .as_str()
                    .and_then(|m| m.strip_prefix("listening on "))
                {
                    let _ = address_tx.send(address.to_string());
                }
                sink.lock().unwrap().push(entry);
            }
        });
        let base = address_rx
            .recv_timeout(start_limit)
            .expect("the binary reports its address");
        Self {
            child,
            base,
            logs,
            directive,
        }
    }

    /// The Directive it serves.
    pub fn directive(&self) -> &std::path::Path {
        &self.directive
    }

    /// Sends SIGHUP (reload).
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits at most `limit` for a log entry that `predicate` accepts, and returns the first.
    pub fn wait_for_log(
        &self,
        limit: Duration,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            if let Some(entry) = self.logs.lock().unwrap().iter().find(|e| predicate(e)) {
                return entry.clone();
            }
            assert!(
                started.elapsed() < limit,
                "no such log entry within {limit:?}; the logs: {:#?}",
                self.logs.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits at most `limit` for `count` log entries that `predicate` accepts, and returns
    /// them all (log lines are read from stderr by another thread, a moment after the fact).
    pub fn wait_for_logs(
        &self,
        limit: Duration,
        count: usize,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let found = self.logs_matching(&predicate);
            if found.len() >= count || started.elapsed() >= limit {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The peak resident memory of the process so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the process status is readable");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }

    /// The minor page faults of the process so far (`/proc/<pid>/stat`, field 10).
    pub fn minor_faults(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("the process stat is readable");
        // `pid (comm) state …`; comm may contain spaces and parentheses.
        let after_comm = &stat[stat.rfind(')').expect("comm in /proc/<pid>/stat") + 1..];
        after_comm
            .split_whitespace()
            .nth(7)
            .and_then(|field| field.parse().ok())
            .expect("minflt in /proc/<pid>/stat")
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "karman did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log entries so far that `predicate` accepts.
    pub fn logs_matching(
        &self,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|e| predicate(e))
            .cloned()
            .collect()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a test Directive (with `guest(…)` expanded) to a fresh file under target/.
fn write_directive(yaml: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = repo_root().join("target/karman-test-tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("directive-{}-{n}.yaml", std::process::id()));
    std::fs::write(&path, expand(yaml)).unwrap();
    path
}
