//! The Redis cache backend (`connections.redis`): one multiplexed connection, shared by all
//! instances, that reconnects by itself after Redis restarts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use karman_directive::RedisConnection;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo};
use tokio::sync::OnceCell;

use super::CacheError;

/// The private CA (`caFile`) and the client certificate (`certFile`, `keyFile`) of a
/// `rediss://` connection, read and checked now: rustls would otherwise fail every handshake
/// with a vaguer message.
fn tls_certificates(settings: &RedisConnection) -> Result<redis::TlsCertificates, CacheError> {
    let read = |file: &std::path::Path, what: &str, marker: &str| {
        let bytes = std::fs::read(file).map_err(|e| {
            CacheError::Invalid(format!(
                "cannot read the Redis {what} {}: {e}",
                file.display()
            ))
        })?;
        if !String::from_utf8_lossy(&bytes).contains(marker) {
            return Err(CacheError::Invalid(format!(
                "the Redis {what} {} holds no PEM {}",
                file.display(),
                if marker.contains("CERTIFICATE") {
                    "certificate"
                } else {
                    "private key"
                }
            )));
        }
        Ok(bytes)
    };
    let root_cert = settings
        .ca_file
        .as_deref()
        .map(|file| read(file, "CA file", "-----BEGIN CERTIFICATE-----"))
        .transpose()?;
    let client_tls = settings
        .client_certificate
        .as_ref()
        .map(|client| {
            Ok::<_, CacheError>(redis::ClientTlsConfig {
                client_cert: read(
                    &client.cert_file,
                    "client certificate",
                    "-----BEGIN CERTIFICATE-----",
                )?,
                client_key: read(&client.key_file, "client key", "PRIVATE KEY-----")?,
            })
        })
        .transpose()?;
    Ok(redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// Time to establish a connection (at start-up and when reconnecting).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a command may take before the call fails with `unavailable`.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A cache in Redis.
#[derive(Clone)]
pub struct RedisCache {
    /// Boxed: with TLS, a client is large, and the cache backend enum holds this by value.
    client: Arc<Client>,
    /// Set once connected; the manager reconnects by itself afterwards.
    connection: Arc<OnceCell<ConnectionManager>>,
    /// Where it points, for messages (no credentials).
    address: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("address", &self.address)
            .finish()
    }
}

impl RedisCache {
    /// Connects, failing with a message naming the address when Redis cannot be reached.
    pub async fn connect(settings: &RedisConnection) -> Result<Self, CacheError> {
        let cache = Self::unconnected(settings)?;
        cache.establish().await?;
        Ok(cache)
    }

    /// A cache whose connection is made later by [`Self::establish`] (for a background
    /// connect): only a malformed address fails here. Until connected, calls fail with
    /// `unavailable`.
    pub fn unconnected(settings: &RedisConnection) -> Result<Self, CacheError> {
        let address = settings.address.trim();
        let url = if address.contains("://") {
            address.to_string()
        } else {
            format!("redis://{address}")
        };
        let shown = karman_directive::redact_url(&url);
        let mut info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| CacheError::Invalid(format!("`{shown}` is not a Redis address: {e}")))?;
        let mut redis_settings = info.redis_settings().clone();
        if let Some(username) = &settings.username {
            redis_settings = redis_settings.set_username(username);
        }
        if let Some(password) = &settings.password {
            redis_settings = redis_settings.set_password(password);
        }
        if let Some(database) = settings.database {
            redis_settings = redis_settings.set_db(database);
        }
        info = info.set_redis_settings(redis_settings);
        let client = if settings.ca_file.is_none() && settings.client_certificate.is_none() {
            Client::open(info)
        } else {
            Client::build_with_tls(info, tls_certificates(settings)?)
        }
        .map_err(|e| {
            CacheError::Invalid(format!("`{shown}` is not a usable Redis address: {e}"))
        })?;
        Ok(Self {
            client: Arc::new(client),
            connection: Arc::new(OnceCell::new()),
            address: shown,
        })
    }

    /// Makes the connection (once; later calls return at once), which then reconnects by
    /// itself.
    pub async fn establish(&self) -> Result<(), CacheError> {
        let shown = &self.address;
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(2);
                tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    ConnectionManager::new_with_config(Client::clone(&self.client), config),
                )
                .await
                .map_err(|_| {
                    CacheError::Unavailable(format!(
                        "cannot connect to Redis at {shown}: timed out"
                    ))
                })?
                .map_err(|e| {
                    CacheError::Unavailable(format!("cannot connect to Redis at {shown}: {e}"))
                })
            })
            .await
            .map(drop)
    }

    /// The shared connection, once made.
    fn connection(&self) -> Result<ConnectionManager, CacheError> {
        self.connection.get().cloned().ok_or_else(|| {
            CacheError::Unavailable("cache: the cache backend is not connected yet".into())
        })
    }

    /// The address it points to (without credentials).
    pub fn address(&self) -> &str {
        &self.address
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let mut connection = self.connection()?;
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(value.map(Bytes::from))
    }

    pub(super) async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let mut connection = self.connection()?;
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        if let Some(ttl) = ttl {
            command
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        }
        command
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut connection = self.connection()?;
        redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let mut connection = self.connection()?;
        redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// `INCRBY`: atomic in Redis itself, for every process that shares it.
    pub(super) async fn increment(&self, key: &str, delta: u64) -> Result<u64, CacheError> {
        let delta = i64::try_from(delta).map_err(|_| {
            CacheError::Invalid("Redis increments by at most 9223372036854775807".into())
        })?;
        let mut connection = self.connection()?;
        let sum: i64 = redis::cmd("INCRBY")
            .arg(key)
            .arg(delta)
            .query_async(&mut connection)
            .await
            .map_err(|e| match e.code() {
                // The server refused it: not an integer, or out of range.
                Some(_) => CacheError::Invalid(format!(
                    "cannot increment the value: {}",
                    e.detail().unwrap_or("not a decimal number")
                )),
                None => self.unavailable(e),
            })?;
        u64::try_from(sum)
            .map_err(|_| CacheError::Invalid("the value to increment is negative".into()))
    }

    /// One `SCAN` step over the keys that start with `prefix`: the keys it found and the
    /// cursor of the next step (none when the scan is complete). A step may find no key and
    /// still not be the last.
    pub(super) async fn keys_page(
        &self,
        prefix: &str,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<String>, Option<u64>), CacheError> {
        let mut connection = self.connection()?;
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(prefix)))
            .arg("COUNT")
            .arg(count)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok((keys, (next != 0).then_some(next)))
    }

    pub(super) async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, CacheError> {
        let mut connection = self.connection()?;
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(values
            .into_iter()
            .map(|value| value.map(Bytes::from))
            .collect())
    }

    /// `MSET`: every pair is written, or none.
    pub(super) async fn set_many(&self, pairs: &[(String, Bytes)]) -> Result<(), CacheError> {
        let mut connection = self.connection()?;
        let mut command = redis::cmd("MSET");
        for (key, value) in pairs {
            command.arg(key).arg(value.as_ref());
        }
        command
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub(super) async fn delete_many(&self, keys: &[String]) -> Result<(), CacheError> {
        let mut connection = self.connection()?;
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, error: redis::RedisError) -> CacheError {
        tracing::warn!(address = %self.address, %error, "Redis command failed");
        CacheError::Unavailable("cache: the cache backend is unavailable".into())
    }
}

/// `text` as a literal in a Redis glob pattern (`MATCH`).
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn glob_patterns_match_a_prefix_literally() {
        assert_eq!(glob_escape("users:"), "users:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("x\0"), "x\0");
    }
}
