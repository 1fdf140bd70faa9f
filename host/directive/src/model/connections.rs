//! Connections: the backends the capabilities and stream handlers use (Redis, an SQL database,
//! NATS, Kafka). Credentials stay in the host: `Debug` never prints them.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Location;

/// Default for `kafka.sessionTimeout`.
pub const DEFAULT_KAFKA_SESSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);
/// The SQLite file of an app that uses `sql` without a `database` connection.
pub const DEFAULT_SQLITE_FILE: &str = "karman.sqlite";
/// Default for `maxConnections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default for `maxRows`: rows one query may return.
pub const DEFAULT_MAX_ROWS: u64 = 10_000;
/// Default for `maxResultBytes`: bytes of values one query may return (16 MiB).
pub const DEFAULT_MAX_RESULT_BYTES: u64 = 16 << 20;

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

impl Connections {
    /// Whether `other` connects to the same backends with the same settings, wherever each is
    /// declared (a reload keeps the backends, and the in-memory cache's entries, when so).
    pub fn same_settings(&self, other: &Connections) -> bool {
        fn placeless(connections: &Connections) -> Connections {
            let nowhere = Location {
                file: "".into(),
                line: 0,
                column: 0,
            };
            let mut copy = connections.clone();
            if let Some(redis) = &mut copy.redis {
                redis.location = nowhere.clone();
            }
            if let Some(database) = &mut copy.database {
                database.location = nowhere.clone();
            }
            if let Some(nats) = &mut copy.nats {
                nats.location = nowhere.clone();
            }
            if let Some(kafka) = &mut copy.kafka {
                kafka.location = nowhere;
            }
            copy
        }
        placeless(self) == placeless(other)
    }
}

/// How to reach Kafka.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConnection {
    /// Bootstrap brokers, `host:port`.
    pub brokers: Vec<String>,
    /// The consumer group prefix; default: the app's identifier. Each handler consumes in the
    /// group `<group>.<topic>`, so the app's processes share each topic's partitions.
    pub group: Option<String>,
    /// How long the group waits for a silent consumer before moving its partitions.
    pub session_timeout: std::time::Duration,
    /// Extra librdkafka properties (`properties:`), set on every client after Karman's own;
    /// the values may be secrets (never printed).
    pub properties: Vec<(String, String)>,
    /// Where the connection is declared.
    pub location: Location,
}

impl fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConnection")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("session_timeout", &self.session_timeout)
            .field(
                "properties",
                &self
                    .properties
                    .iter()
                    .map(|(name, _)| (name.as_str(), "<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .field("location", &self.location)
            .finish()
    }
}

/// How to reach NATS.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsConnection {
    /// Server addresses (`host:port` or `nats://…` URLs; several for a cluster).
    pub addresses: Vec<String>,
    /// An authentication token (never printed).
    pub token: Option<String>,
    /// A user name, with `password`.
    pub user: Option<String>,
    /// The user's password (never printed).
    pub password: Option<String>,
    /// An NKey seed (`SU…`), to sign the server's challenge with (never printed).
    pub nkey: Option<String>,
    /// A credentials file (`.creds`: a user JWT and its NKey seed), for servers in operator mode.
    pub credentials: Option<PathBuf>,
    /// TLS settings (`tls:`), when present.
    pub tls: Option<NatsTls>,
    /// Where the connection is declared.
    pub location: Location,
}

/// `connections.nats.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsTls {
    /// A PEM file of the certificate authorities to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for servers that verify clients.
    pub client_certificate: Option<ClientCertificate>,
    /// Connect only over TLS.
    pub required: bool,
}

/// A client certificate and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate (chain), PEM.
    pub cert_file: PathBuf,
    /// Its private key, PEM.
    pub key_file: PathBuf,
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
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("nkey", &self.nkey.as_ref().map(|_| "<redacted>"))
            .field("credentials", &self.credentials)
            .field("tls", &self.tls)
            .field("location", &self.location)
            .finish()
    }
}

/// `url` without the credentials it may hold, for messages.
///
/// ```
/// use karman_directive::redact_url;
/// assert_eq!(redact_url("redis://user:secret@host:6379/0"), "redis://<credentials>@host:6379/0");
/// assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
/// ```
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
    /// Rows one query may return (`maxRows`), counted as they arrive.
    pub max_rows: u64,
    /// Bytes of values one query may return (`maxResultBytes`), counted as rows arrive.
    pub max_result_bytes: u64,
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
            max_rows: DEFAULT_MAX_ROWS,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
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
            .field("max_rows", &self.max_rows)
            .field("max_result_bytes", &self.max_result_bytes)
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
    /// A PEM file of the certificate authorities to trust for `rediss://` instead of the
    /// system's (`caFile`, relative to the Directive).
    pub ca_file: Option<PathBuf>,
    /// A client certificate for `rediss://` (`certFile` and `keyFile`), for a server that
    /// verifies clients (`tls-auth-clients yes`).
    pub client_certificate: Option<ClientCertificate>,
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
            .field("ca_file", &self.ca_file)
            .field("location", &self.location)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{ParseOptions, parse};

    fn connections(yaml: &str) -> super::Connections {
        let options = ParseOptions::new("Directive.yaml", ".");
        parse(yaml, &options).unwrap().connections
    }

    #[test]
    fn nats_credentials_and_tls_are_parsed_and_never_printed() {
        let parsed = connections(
            "identifier: com.example.a\nappVersion: v1\nconnections:\n  nats:\n    serverAddress: 127.0.0.1:4222\n    user: alice\n    password: pw-never-shown\n    tls: { caFile: ca.pem }\n",
        );
        let nats = parsed.nats.unwrap();
        assert_eq!(nats.user.as_deref(), Some("alice"));
        assert_eq!(nats.password.as_deref(), Some("pw-never-shown"));
        let tls = nats.tls.clone().unwrap();
        assert!(tls.required);
        assert_eq!(tls.ca_file.unwrap(), std::path::Path::new("./ca.pem"));
        assert!(!format!("{nats:?}").contains("pw-never-shown"));

        let options = ParseOptions::new("Directive.yaml", ".");
        let error = parse(
            "identifier: com.example.a\nappVersion: v1\nconnections:\n  nats: { serverAddress: 127.0.0.1:4222, user: alice }\n",
            &options,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("needs both `user` and `password`"),
            "{error}"
        );
    }

    #[test]
    fn connections_have_the_same_settings_wherever_they_are_declared() {
        let first = connections(
            "identifier: com.example.a\nappVersion: v1\nconnections:\n  redis:\n    serverAddress: 127.0.0.1:6379\n",
        );
        let moved = connections(
            "# a comment moves everything down a line\nidentifier: com.example.a\nappVersion: v2\n\nconnections:\n  redis:\n    serverAddress: 127.0.0.1:6379\n",
        );
        let other = connections(
            "identifier: com.example.a\nappVersion: v1\nconnections:\n  redis:\n    serverAddress: 127.0.0.1:6380\n",
        );
        assert_ne!(first, moved, "the locations differ");
        assert!(first.same_settings(&moved));
        assert!(!first.same_settings(&other));
        assert!(!first.same_settings(&super::Connections::default()));
        assert!(super::Connections::default().same_settings(&super::Connections::default()));
    }
}
