//! `connections:`: the backends the capabilities use, established by the host at start-up.
//!
//! ```yaml
//! connections:
//!   redis:
//!     serverAddress: 127.0.0.1:6379      # or redis://host:port/db, rediss:// for TLS
//!     username: env(REDIS_USER)          # optional
//!     password: env(REDIS_PASSWORD)      # optional
//!     database: 0                        # optional
//! ```
//!
//!
//! ```yaml
//! connections:
//!   database:
//!     type: postgresql                    # sqlite, postgresql, mysql; default: from the URL
//!     connectionString: env(DATABASE_URL, app.sqlite)
//!     maxConnections: 10                  # optional
//! ```
//!
//!
//! ```yaml
//! connections:
//!   nats:
//!     serverAddress: env(NATS_URL, nats://127.0.0.1:4222)   # or host:port; a list: a,b
//!     token: env(NATS_TOKEN)              # optional (or user:password in the URL)
//! ```
//!
//! Every value may be written `env(NAME)`. Credentials stay in the host: no component sees them.
//! Without a `database` connection, an app that declares queries or grants `sql` uses SQLite in
//! the file `karman.sqlite` beside the Directive.

use std::fmt;
use std::path::Path;

use marked_yaml::Node;

use crate::Location;
use crate::yaml::{Reader, start};

const CONNECTIONS: &[&str] = &["redis", "database", "nats", "kafka"];
const NATS: &[&str] = &["serverAddress", "token"];
const KAFKA: &[&str] = &["brokers", "group", "sessionTimeout"];
/// Default for `kafka.sessionTimeout`.
pub const DEFAULT_KAFKA_SESSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);
const REDIS: &[&str] = &["serverAddress", "username", "password", "database"];
const DATABASE: &[&str] = &["type", "connectionString", "maxConnections"];
/// The SQLite file of an app that uses `sql` without a `database` connection.
pub const DEFAULT_SQLITE_FILE: &str = "karman.sqlite";
/// Default for `maxConnections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The connections of an app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    /// Redis: the backend of the `cache` capability when present (else the in-memory cache).
    pub redis: Option<RedisConnection>,
    /// The SQL database of the `sql` capability.
    pub database: Option<DatabaseConnection>,
    /// NATS, for stream handlers with `source: nats`.
    pub nats: Option<NatsConnection>,
    /// Kafka, for stream handlers with `source: kafka`.
    pub kafka: Option<KafkaConnection>,
}

/// How to reach Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConnection {
    /// Bootstrap brokers, `host:port`.
    pub brokers: Vec<String>,
    /// The consumer group prefix; default: the app's identifier. Each handler consumes in the
    /// group `<group>.<topic>`, so the app's processes share each topic's partitions.
    pub group: Option<String>,
    /// How long the group waits for a silent consumer before moving its partitions.
    pub session_timeout: std::time::Duration,
    /// Where the connection is declared.
    pub location: Location,
}

/// How to reach NATS.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsConnection {
    /// Server addresses (`host:port` or `nats://…` URLs; several for a cluster).
    pub addresses: Vec<String>,
    /// An authentication token (never printed).
    pub token: Option<String>,
    /// Where the connection is declared.
    pub location: Location,
}

impl fmt::Debug for NatsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConnection")
            .field(
                "addresses",
                &self
                    .addresses
                    .iter()
                    .map(|a| redact_url(a))
                    .collect::<Vec<_>>(),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("location", &self.location)
            .finish()
    }
}

/// `url` without the credentials it may hold, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<credentials>@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The kinds of SQL database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// SQLite (embedded): a file, created if absent, or `:memory:`.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl DatabaseKind {
    pub(crate) fn placeholder_hint(self) -> &'static str {
        match self {
            DatabaseKind::MySql => "MySQL parameters are `?`, one per value",
            _ => "parameters are `$1, $2…` (SQLite also takes `?`)",
        }
    }
}

/// How to reach the SQL database.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseConnection {
    /// The kind of database.
    pub kind: DatabaseKind,
    /// The connection URL (`postgres://…`, `mysql://…`, `sqlite://<absolute path>`); may hold
    /// a password, so it is never printed (see `Debug`).
    pub url: String,
    /// Connections the pool opens at most.
    pub max_connections: u32,
    /// Where the connection is declared (the Directive's start for the default SQLite).
    pub location: Location,
}

impl DatabaseConnection {
    /// SQLite in `file` (created if absent).
    pub fn sqlite_file(file: &Path, location: Location) -> Self {
        Self {
            kind: DatabaseKind::Sqlite,
            url: format!("sqlite://{}?mode=rwc", file.display()),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            location,
        }
    }

    /// The URL without credentials, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for DatabaseConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConnection")
            .field("kind", &self.kind)
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("location", &self.location)
            .finish()
    }
}

/// How to reach Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConnection {
    /// `host:port`, or a `redis://` / `rediss://` URL.
    pub address: String,
    /// ACL user name.
    pub username: Option<String>,
    /// Password (never printed: see the `Debug` implementation).
    pub password: Option<String>,
    /// Database number.
    pub database: Option<i64>,
    /// Where the connection is declared.
    pub location: Location,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("location", &self.location)
            .finish()
    }
}

pub(crate) fn parse(reader: &mut Reader<'_>, node: &Node, base_dir: &Path) -> Option<Connections> {
    let fields = reader.mapping(node, "`connections`", CONNECTIONS)?;
    let redis = match fields.get("redis") {
        Some(node) => parse_redis(reader, node).map(Some),
        None => Some(None),
    };
    let database = match fields.get("database") {
        Some(node) => parse_database(reader, node, base_dir).map(Some),
        None => Some(None),
    };
    let nats = match fields.get("nats") {
        Some(node) => parse_nats(reader, node).map(Some),
        None => Some(None),
    };
    let kafka = match fields.get("kafka") {
        Some(node) => parse_kafka(reader, node).map(Some),
        None => Some(None),
    };
    Some(Connections {
        redis: redis?,
        database: database?,
        nats: nats?,
        kafka: kafka?,
    })
}

fn parse_database(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
) -> Option<DatabaseConnection> {
    let fields = reader.mapping(node, "the `database` connection", DATABASE)?;
    let text_node = fields.get("connectionString");
    let text = match text_node {
        Some(n) => Some(
            reader
                .string_or_env(n, "`connectionString`")?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let kind = match (fields.get("type"), &text) {
        (Some(kind_node), _) => match reader
            .string_or_env(kind_node, "`type`")?
            .to_ascii_lowercase()
            .as_str()
        {
            "sqlite" => DatabaseKind::Sqlite,
            "postgresql" | "postgres" => DatabaseKind::Postgres,
            "mysql" | "mariadb" => DatabaseKind::MySql,
            other => {
                reader.error_with_hint(
                    kind_node.span(),
                    format!("`{other}` is not a database type Karman supports"),
                    "use `sqlite`, `postgresql` or `mysql`",
                );
                return None;
            }
        },
        // Without `type`, the connection string's scheme tells (a plain path is SQLite).
        (None, Some(text))
            if text.starts_with("postgres://") || text.starts_with("postgresql://") =>
        {
            DatabaseKind::Postgres
        }
        (None, Some(text)) if text.starts_with("mysql://") || text.starts_with("mariadb://") => {
            DatabaseKind::MySql
        }
        (None, Some(_)) => DatabaseKind::Sqlite,
        (None, None) => {
            reader.error_with_hint(
                start(node),
                "the `database` connection needs a `type` or a `connectionString`",
                "e.g. `connectionString: env(DATABASE_URL, app.sqlite)`",
            );
            return None;
        }
    };
    let location = reader.location_or_start(start(node));
    let max_connections = match fields.get("maxConnections") {
        None => Some(DEFAULT_MAX_CONNECTIONS),
        Some(n) => reader
            .string_or_env(n, "`maxConnections`")
            .and_then(|text| match text.trim().parse::<u32>() {
                Ok(count) if (1..=1000).contains(&count) => Some(count),
                _ => {
                    reader.error(n.span(), "`maxConnections` must be a number from 1 to 1000");
                    None
                }
            }),
    };
    let url = match (kind, text) {
        (DatabaseKind::Sqlite, None) => {
            return Some(DatabaseConnection {
                max_connections: max_connections?,
                ..DatabaseConnection::sqlite_file(&base_dir.join(DEFAULT_SQLITE_FILE), location)
            });
        }
        (DatabaseKind::Sqlite, Some(text)) => {
            let path = text
                .strip_prefix("sqlite://")
                .or_else(|| text.strip_prefix("sqlite:"))
                .unwrap_or(&text);
            if path == ":memory:" {
                "sqlite::memory:".to_string()
            } else {
                let (path, query) = path.split_once('?').unwrap_or((path, "mode=rwc"));
                format!("sqlite://{}?{query}", base_dir.join(path).display())
            }
        }
        (_, None) => {
            reader.error(
                start(node),
                "the `database` connection is missing `connectionString`",
            );
            return None;
        }
        (DatabaseKind::Postgres, Some(text))
            if text.starts_with("postgres://") || text.starts_with("postgresql://") =>
        {
            text
        }
        (DatabaseKind::MySql, Some(text))
            if text.starts_with("mysql://") || text.starts_with("mariadb://") =>
        {
            text.replacen("mariadb://", "mysql://", 1)
        }
        (_, Some(_)) => {
            let expected = if kind == DatabaseKind::Postgres {
                "postgres://"
            } else {
                "mysql://"
            };
            reader.error_with_hint(
                text_node.map_or(start(node), start),
                format!(
                    "`connectionString` is not a {} URL",
                    if kind == DatabaseKind::Postgres {
                        "PostgreSQL"
                    } else {
                        "MySQL"
                    }
                ),
                format!("write it as `{expected}user:password@host:port/database`"),
            );
            return None;
        }
    };
    Some(DatabaseConnection {
        kind,
        url,
        max_connections: max_connections?,
        location,
    })
}

fn parse_kafka(reader: &mut Reader<'_>, node: &Node) -> Option<KafkaConnection> {
    let fields = reader.mapping(node, "the `kafka` connection", KAFKA)?;
    let brokers_node = reader.required(fields, "brokers", "the `kafka` connection")?;
    let mut brokers = Vec::new();
    let texts: Vec<(String, &Node)> = match brokers_node.as_sequence() {
        Some(_) => {
            let mut texts = Vec::new();
            for item in reader.sequence(brokers_node, "`brokers`")? {
                texts.push((reader.string_or_env(item, "a broker")?, item));
            }
            texts
        }
        None => vec![(
            reader.string_or_env(brokers_node, "`brokers`")?,
            brokers_node,
        )],
    };
    for (text, at) in texts {
        for broker in text.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            if !broker.contains(':') || broker.contains("://") {
                reader.error_with_hint(
                    at.span(),
                    format!("`{broker}` is not a broker address"),
                    "write `host:port`, e.g. `127.0.0.1:9092`",
                );
                return None;
            }
            brokers.push(broker.to_string());
        }
    }
    if brokers.is_empty() {
        reader.error(
            brokers_node.span(),
            "`brokers` of the `kafka` connection is empty",
        );
        return None;
    }
    let group = match fields.get("group") {
        Some(n) => Some(reader.string_or_env(n, "`group`")?.trim().to_string()),
        None => None,
    };
    let session_timeout = match fields.get("sessionTimeout") {
        None => DEFAULT_KAFKA_SESSION_TIMEOUT,
        Some(n) => {
            let text = reader.string_or_env(n, "`sessionTimeout`")?;
            match crate::units::parse_duration(&text) {
                Ok(d) if d >= std::time::Duration::from_secs(1) => d,
                _ => {
                    reader.error(
                        n.span(),
                        format!("`sessionTimeout` must be a duration of at least 1s, not `{text}`"),
                    );
                    return None;
                }
            }
        }
    };
    Some(KafkaConnection {
        brokers,
        group,
        session_timeout,
        location: reader.location_or_start(start(node)),
    })
}

fn parse_nats(reader: &mut Reader<'_>, node: &Node) -> Option<NatsConnection> {
    let fields = reader.mapping(node, "the `nats` connection", NATS)?;
    let address_node = reader.required(fields, "serverAddress", "the `nats` connection")?;
    let text = reader.string_or_env(address_node, "`serverAddress`")?;
    let addresses: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    if addresses.is_empty() {
        reader.error(
            address_node.span(),
            "`serverAddress` of the `nats` connection is empty",
        );
        return None;
    }
    let token = match fields.get("token") {
        Some(n) => Some(reader.string_or_env(n, "`token`")?),
        None => None,
    };
    Some(NatsConnection {
        addresses,
        token,
        location: reader.location_or_start(start(node)),
    })
}

fn parse_redis(reader: &mut Reader<'_>, node: &Node) -> Option<RedisConnection> {
    let fields = reader.mapping(node, "the `redis` connection", REDIS)?;
    let address = reader
        .required(fields, "serverAddress", "the `redis` connection")
        .and_then(|n| reader.string_or_env(n, "`serverAddress`"));
    let optional = |reader: &mut Reader<'_>, key: &str| match fields.get(key) {
        Some(n) => reader.string_or_env(n, &format!("`{key}`")).map(Some),
        None => Some(None),
    };
    let username = optional(reader, "username");
    let password = optional(reader, "password");
    let database = match fields.get("database") {
        None => Some(None),
        Some(n) => {
            let text = reader.string_or_env(n, "`database`")?;
            match text.trim().parse::<i64>() {
                Ok(number) if number >= 0 => Some(Some(number)),
                _ => {
                    reader.error(
                        n.span(),
                        format!("`database` must be a database number, not `{text}`"),
                    );
                    None
                }
            }
        }
    };
    let address = address?;
    if address.trim().is_empty() {
        reader.error(
            start(node),
            "`serverAddress` of the `redis` connection is empty",
        );
        return None;
    }
    Some(RedisConnection {
        address,
        username: username?,
        password: password?,
        database: database?,
        location: reader.location_or_start(start(node)),
    })
}
