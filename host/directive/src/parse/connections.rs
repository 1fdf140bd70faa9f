//! `connections:`: the backends the capabilities use, established by the host at start-up.
//!
//! ```yaml
//! connections:
//!   redis:
//!     serverAddress: 127.0.0.1:6379      # or redis://host:port/db, rediss:// for TLS
//!     username: env(REDIS_USER)          # optional
//!     password: env(REDIS_PASSWORD)      # optional
//!     database: 0                        # optional
//!     caFile: certs/redis-ca.pem         # optional: the CAs to trust for rediss://
//! ```
//!
//! ```yaml
//! connections:
//!   database:
//!     type: postgresql                    # sqlite, postgresql, mysql; default: from the URL
//!     connectionString: env(DATABASE_URL, app.sqlite)
//!     maxConnections: 10                  # optional
//!     maxRows: 10000                      # optional: rows one query may return
//!     maxResultBytes: 16MiB               # optional: bytes of values one query may return
//! ```
//!
//! ```yaml
//! connections:
//!   nats:
//!     serverAddress: env(NATS_URL, nats://127.0.0.1:4222)   # or host:port; a list: a,b
//!     token: env(NATS_TOKEN)              # optional (or user:password in the URL)
//!     user: app                           # optional, with password
//!     password: env(NATS_PASSWORD)
//!     nkey: env(NATS_NKEY_SEED)           # optional: an NKey seed (SU…) instead
//!     credentials: nats/app.creds         # optional: a .creds file (operator mode) instead
//!     tls: { caFile: certs/nats-ca.pem, required: true }   # optional
//!     # with certFile: certs/client.pem, keyFile: certs/client-key.pem for client certificates
//! ```
//!
//! Every value may be written `env(NAME)`. Credentials stay in the host: no component sees them.
//! Without a `database` connection, an app that declares queries or grants `sql` uses SQLite in
//! the file `karman.sqlite` beside the Directive.

use std::path::Path;

use marked_yaml::Node;

use crate::keys;
use crate::model::{
    ClientCertificate, Connections, DEFAULT_KAFKA_SESSION_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESULT_BYTES, DEFAULT_MAX_ROWS, DEFAULT_SQLITE_FILE, DatabaseConnection,
    DatabaseKind, KafkaConnection, NatsConnection, NatsTls, RedisConnection,
};

use crate::units::{parse_byte_size, parse_duration};
use crate::yaml::{Fields, Reader, start};

/// `connections:`.
pub(crate) fn parse_connections(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
) -> Option<Connections> {
    let fields = reader.mapping(node, "`connections`", &keys::CONNECTIONS)?;
    let redis = match fields.get("redis") {
        Some(node) => parse_redis(reader, node, base_dir).map(Some),
        None => Some(None),
    };
    let database = match fields.get("database") {
        Some(node) => parse_database(reader, node, base_dir).map(Some),
        None => Some(None),
    };
    let nats = match fields.get("nats") {
        Some(node) => parse_nats(reader, node, base_dir).map(Some),
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
    let fields = reader.mapping(node, "the `database` connection", &keys::DATABASE)?;
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
    let max_rows =
        match fields.get("maxRows") {
            None => Some(DEFAULT_MAX_ROWS),
            Some(n) => reader.string_or_env(n, "`maxRows`").and_then(|text| {
                match text.trim().parse::<u64>() {
                    Ok(count) if count >= 1 => Some(count),
                    _ => {
                        reader.error(n.span(), "`maxRows` must be a number of at least 1");
                        None
                    }
                }
            }),
        };
    let max_result_bytes =
        match fields.get("maxResultBytes") {
            None => Some(DEFAULT_MAX_RESULT_BYTES),
            Some(n) => reader
                .string_or_env(n, "`maxResultBytes`")
                .and_then(|text| match parse_byte_size(&text) {
                    Ok(bytes) if bytes >= 1 => Some(bytes),
                    Ok(_) => {
                        reader.error(n.span(), "`maxResultBytes` must be at least 1 byte");
                        None
                    }
                    Err(message) => {
                        reader.error(n.span(), format!("`maxResultBytes`: {message}"));
                        None
                    }
                }),
        };
    let url = match (kind, text) {
        (DatabaseKind::Sqlite, None) => {
            return Some(DatabaseConnection {
                max_connections: max_connections?,
                max_rows: max_rows?,
                max_result_bytes: max_result_bytes?,
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
        max_rows: max_rows?,
        max_result_bytes: max_result_bytes?,
        location,
    })
}

fn parse_kafka(reader: &mut Reader<'_>, node: &Node) -> Option<KafkaConnection> {
    let fields = reader.mapping(node, "the `kafka` connection", &keys::KAFKA)?;
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
            match parse_duration(&text) {
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
    let mut properties = Vec::new();
    if let Some(n) = fields.get("properties") {
        let Some(map) = n.as_mapping() else {
            reader.error_with_hint(
                n.span(),
                "`properties` of the `kafka` connection must be a mapping",
                "e.g. `properties: { security.protocol: SASL_PLAINTEXT }`",
            );
            return None;
        };
        for (name, value) in map.iter() {
            let value = reader.string_or_env(value, &format!("`{}`", name.as_str()))?;
            properties.push((name.as_str().to_string(), value));
        }
    }
    Some(KafkaConnection {
        brokers,
        group,
        session_timeout,
        properties,
        location: reader.location_or_start(start(node)),
    })
}

fn parse_nats(reader: &mut Reader<'_>, node: &Node, base_dir: &Path) -> Option<NatsConnection> {
    let fields = reader.mapping(node, "the `nats` connection", &keys::NATS)?;
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
    let user = match fields.get("user") {
        Some(n) => Some(reader.string_or_env(n, "`user`")?),
        None => None,
    };
    let password = match fields.get("password") {
        Some(n) => Some(reader.string_or_env(n, "`password`")?),
        None => None,
    };
    if user.is_some() != password.is_some() {
        reader.error(
            start(node),
            "the `nats` connection needs both `user` and `password`, or neither",
        );
        return None;
    }
    let nkey = match fields.get("nkey") {
        Some(n) => Some(reader.string_or_env(n, "`nkey`")?.trim().to_string()),
        None => None,
    };
    let credentials = match fields.get("credentials") {
        Some(n) => Some(base_dir.join(reader.string_or_env(n, "`credentials`")?.trim())),
        None => None,
    };
    let ways = [
        token.is_some(),
        user.is_some(),
        nkey.is_some(),
        credentials.is_some(),
    ];
    if ways.iter().filter(|&&way| way).count() > 1 {
        reader.error(
            start(node),
            "the `nats` connection authenticates one way: `token`, `user` and `password`, \
             `nkey`, or `credentials`",
        );
        return None;
    }
    let tls = match fields.get("tls") {
        None => None,
        Some(tls_node) => {
            let tls_fields =
                reader.mapping(tls_node, "`tls` of the `nats` connection", &keys::NATS_TLS)?;
            let ca_file = match tls_fields.get("caFile") {
                Some(n) => Some(base_dir.join(reader.string_or_env(n, "`caFile`")?.trim())),
                None => None,
            };
            let required = match tls_fields.get("required") {
                Some(n) => reader.boolean_or_env(n, "`required`")?,
                None => true,
            };
            let client_certificate = client_certificate(
                reader,
                tls_node,
                &tls_fields,
                base_dir,
                "`tls` of the `nats` connection",
            )?;
            Some(NatsTls {
                ca_file,
                client_certificate,
                required,
            })
        }
    };
    Some(NatsConnection {
        addresses,
        token,
        user,
        password,
        nkey,
        credentials,
        tls,
        location: reader.location_or_start(start(node)),
    })
}

/// `certFile` and `keyFile` of a `tls` mapping (`what`): both, or neither.
fn client_certificate(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: &Fields<'_>,
    base_dir: &Path,
    what: &str,
) -> Option<Option<ClientCertificate>> {
    let path = |reader: &mut Reader<'_>, key: &str| match fields.get(key) {
        Some(n) => reader
            .string_or_env(n, &format!("`{key}`"))
            .map(|text| Some(base_dir.join(text.trim()))),
        None => Some(None),
    };
    let cert_file = path(reader, "certFile")?;
    let key_file = path(reader, "keyFile")?;
    match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => Some(Some(ClientCertificate {
            cert_file,
            key_file,
        })),
        (None, None) => Some(None),
        _ => {
            reader.error(
                start(node),
                format!("{what} needs both `certFile` and `keyFile`, or neither"),
            );
            None
        }
    }
}

fn parse_redis(reader: &mut Reader<'_>, node: &Node, base_dir: &Path) -> Option<RedisConnection> {
    let fields = reader.mapping(node, "the `redis` connection", &keys::REDIS)?;
    let address = reader
        .required(fields, "serverAddress", "the `redis` connection")
        .and_then(|n| reader.string_or_env(n, "`serverAddress`"));
    let optional = |reader: &mut Reader<'_>, key: &str| match fields.get(key) {
        Some(n) => reader.string_or_env(n, &format!("`{key}`")).map(Some),
        None => Some(None),
    };
    let username = optional(reader, "username");
    let password = optional(reader, "password");
    let ca_file = optional(reader, "caFile");
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
    let client_certificate =
        client_certificate(reader, node, &fields, base_dir, "the `redis` connection");
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
        ca_file: ca_file?.map(|path| base_dir.join(path.trim())),
        client_certificate: client_certificate?,
        location: reader.location_or_start(start(node)),
    })
}
