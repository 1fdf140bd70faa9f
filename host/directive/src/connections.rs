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
//! Every value may be written `env(NAME)`. Credentials stay in the host: no component sees them.

use std::fmt;

use marked_yaml::Node;

use crate::Location;
use crate::yaml::{Reader, start};

const CONNECTIONS: &[&str] = &["redis"];
/// Connections that later versions of Karman read.
const NOT_YET: &[&str] = &["database", "nats", "kafka"];
const REDIS: &[&str] = &["serverAddress", "username", "password", "database"];

/// The connections of an app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    /// Redis: the backend of the `cache` capability when present (else the in-memory cache).
    pub redis: Option<RedisConnection>,
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

pub(crate) fn parse(reader: &mut Reader<'_>, node: &Node) -> Option<Connections> {
    if let Some(map) = node.as_mapping() {
        for key in map.keys() {
            if NOT_YET.contains(&key.as_str()) {
                reader.error_with_hint(
                    key.span(),
                    format!(
                        "the `{}` connection is not supported by this version of Karman",
                        key.as_str()
                    ),
                    format!("available connections: {}", CONNECTIONS.join(", ")),
                );
            }
        }
    }
    let allowed: Vec<&str> = CONNECTIONS.iter().chain(NOT_YET).copied().collect();
    let fields = reader.mapping(node, "`connections`", &allowed)?;
    let redis = match fields.get("redis") {
        Some(node) => Some(parse_redis(reader, node)?),
        None => None,
    };
    Some(Connections { redis })
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
