//! Private servers for fault tests: a real `redis-server`, `nats-server` or Kafka-protocol
//! broker of this machine, started on a free port of 127.0.0.1 and killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the scripts install the tools the tests use (tansu, wasmtime-cli): `$KARMAN_TOOLS`,
/// else `~/.cache/karman/tools`, outside the checkout so that every clone reuses them.
pub fn tools_dir() -> PathBuf {
    std::env::var("KARMAN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/karman/tools")
        })
}

/// How long a private server has to accept connections.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A server process of the test, listening on `port`; killed on drop.
pub struct PrivateService {
    child: Child,
    /// Where it listens: `127.0.0.1:<port>`.
    pub address: String,
}

impl PrivateService {
    /// Starts `command` (its output discarded) and waits until it accepts connections on
    /// `port`; `what` names it when it does not.
    pub fn start(what: &str, mut command: Command, port: u16) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let address = format!("127.0.0.1:{port}");
        let service = Self { child, address };
        let deadline = Instant::now() + START_LIMIT;
        while std::net::TcpStream::connect(&service.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "{what} did not come up on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        service
    }
}

impl Drop for PrivateService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private `redis-server` (nothing kept on disk).
pub struct PrivateRedis {
    _process: PrivateService,
}

impl PrivateRedis {
    /// Starts one on `port`.
    pub fn start(port: u16) -> Self {
        let mut command = Command::new("redis-server");
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        command.args(["--save", "", "--appendonly", "no"]);
        Self {
            _process: PrivateService::start("redis-server", command, port),
        }
    }
}

/// A private `nats-server` (core NATS).
pub struct PrivateNats {
    _process: PrivateService,
}

impl PrivateNats {
    /// Starts one on `port`.
    pub fn start(port: u16) -> Self {
        let mut command = Command::new("nats-server");
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        Self {
            _process: PrivateService::start("nats-server", command, port),
        }
    }
}

/// A private tansu broker (Kafka protocol, in-memory storage), which `scripts/services`
/// installs into the [`tools_dir`].
pub struct Tansu {
    /// The broker's process, killed on drop.
    _service: PrivateService,
    /// Where clients connect: the broker itself, or a front before it ([`super::KafkaFront`]).
    bootstrap: String,
    /// The librdkafka properties a client needs to get in (TLS, SASL), beyond the address.
    client_properties: Vec<(String, String)>,
}

impl Tansu {
    /// Starts one on a free port.
    pub fn start() -> Self {
        Self::start_on(super::free_port())
    }

    /// Starts one on `port`.
    pub fn start_on(port: u16) -> Self {
        Self::start_advertising(port, &format!("127.0.0.1:{port}"))
    }

    /// Starts one on `port` that tells clients (in its metadata) to connect to `advertised`.
    pub fn start_advertising(port: u16, advertised: &str) -> Self {
        let binary = tools_dir().join("tansu");
        assert!(
            binary.exists(),
            "{} is missing: run scripts/services",
            binary.display()
        );
        let mut command = Command::new(&binary);
        command.args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
            "--advertised-listener-url",
            &format!("tcp://{advertised}"),
        ]);
        command.args(["--storage-engine", "memory://tansu/"]);
        Self {
            _service: PrivateService::start("tansu", command, port),
            bootstrap: advertised.to_string(),
            client_properties: Vec::new(),
        }
    }

    /// The same broker, for clients that get in with `properties`.
    pub fn with_client_properties(mut self, properties: Vec<(String, String)>) -> Self {
        self.client_properties = properties;
        self
    }

    /// Where clients connect: `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.bootstrap
    }

    /// A librdkafka configuration that reaches it.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config.extend(self.client_properties.iter().cloned());
        config
    }
}
