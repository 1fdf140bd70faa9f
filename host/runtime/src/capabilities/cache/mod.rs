//! `karman:runnable/cache`: a key-value cache with optional TTLs.
//!
//! | grant in the Directive        | the component may                          |
//! |-------------------------------|--------------------------------------------|
//! | (none), `cache: false`        | nothing: every call fails with `denied`    |
//! | `cache: true`                 | use the shared, unprefixed key space       |
//! | `cache: { prefix: "users:" }` | use its own key space, shared only with components granted the same prefix |
//!
//! A prefix is invisible to the component: it asks for `42`, the backend stores
//! `users:` + `\0` + `42`. Because a prefix cannot contain `\0`, no component can name a key
//! outside its own space, whatever key it asks for.
//!
//! The standard `wasi:keyvalue` interfaces ([`keyvalue`]) reach the same key space under the
//! same grant: a value a component sets through one, it reads through the other.
//!
//! Backends: [`memory`] (the default) and [`redis`] (with `connections.redis`). Each backend is
//! one file.

mod host;
pub(crate) mod keyvalue;
pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::bindings::types::CapError;
use crate::metrics::CallCounter;

pub use karman_protocol::cache::MAX_VALUE_BYTES;
/// Most keys one `wasi:keyvalue` batch call may name.
pub const MAX_BATCH_KEYS: usize = 1000;
/// Keys a `wasi:keyvalue` `list-keys` page holds at most (Redis: keys one `SCAN` step visits).
pub const KEYS_PER_PAGE: usize = 1000;

/// A cache backend, shared by every instance of every component.
#[derive(Clone, Debug)]
pub enum CacheBackend {
    /// In process memory, bounded in size (the default).
    Memory(Arc<memory::MemoryCache>),
    /// Redis, shared by every process that uses it.
    Redis(redis::RedisCache),
}

impl CacheBackend {
    /// The default backend: an in-memory cache of [`memory::DEFAULT_MAX_BYTES`].
    pub fn in_memory() -> Self {
        Self::Memory(Arc::new(memory::MemoryCache::new(
            memory::DEFAULT_MAX_BYTES,
        )))
    }

    /// The backend an app's connections call for: Redis when `connections.redis` is set
    /// (connected now, so a wrong address fails at start-up), else in memory.
    pub async fn for_connections(
        connections: &karman_directive::Connections,
    ) -> Result<Self, CacheError> {
        let Some(settings) = &connections.redis else {
            return Ok(Self::in_memory());
        };
        let at = &settings.location;
        match redis::RedisCache::connect(settings).await {
            Ok(cache) => Ok(Self::Redis(cache)),
            Err(CacheError::Invalid(message)) => {
                Err(CacheError::Invalid(format!("{at}: {message}")))
            }
            Err(CacheError::Unavailable(message)) => {
                Err(CacheError::Unavailable(format!("{at}: {message}")))
            }
        }
    }

    /// The backend as a metric label: `memory` or `redis`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// What the backend is, for logs and `karman check`.
    pub fn describe(&self) -> String {
        match self {
            Self::Memory(_) => "in memory".to_string(),
            Self::Redis(cache) => format!("Redis at {}", cache.address()),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        match self {
            Self::Memory(cache) => Ok(cache.get(key)),
            Self::Redis(cache) => cache.get(key).await,
        }
    }

    async fn set(
        &self,
        key: String,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        match self {
            Self::Memory(cache) => cache.set(key, value, ttl),
            Self::Redis(cache) => cache.set(&key, &value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        match self {
            Self::Memory(cache) => {
                cache.delete(key);
                Ok(())
            }
            Self::Redis(cache) => cache.delete(key).await,
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        match self {
            Self::Memory(cache) => Ok(cache.contains(key)),
            Self::Redis(cache) => cache.exists(key).await,
        }
    }

    async fn increment(&self, key: &str, delta: u64) -> Result<u64, CacheError> {
        match self {
            Self::Memory(cache) => cache.increment(key, delta),
            Self::Redis(cache) => cache.increment(key, delta).await,
        }
    }

    /// A page of the keys that start with `prefix` (whole keys, prefix included), from
    /// `cursor` (0: the first page), and the cursor of the next page when there is one.
    async fn keys_page(
        &self,
        prefix: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>), CacheError> {
        match self {
            Self::Memory(cache) => {
                let from = usize::try_from(cursor).unwrap_or(usize::MAX);
                let (keys, next) = cache.keys_page(prefix, from, KEYS_PER_PAGE);
                Ok((keys, next.map(|next| next as u64)))
            }
            Self::Redis(cache) => cache.keys_page(prefix, cursor, KEYS_PER_PAGE).await,
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, CacheError> {
        match self {
            Self::Memory(cache) => Ok(keys.iter().map(|key| cache.get(key)).collect()),
            Self::Redis(cache) => cache.get_many(keys).await,
        }
    }

    async fn set_many(&self, pairs: Vec<(String, Bytes)>) -> Result<(), CacheError> {
        match self {
            Self::Memory(cache) => pairs
                .into_iter()
                .try_for_each(|(key, value)| cache.set(key, value, None)),
            Self::Redis(cache) => cache.set_many(&pairs).await,
        }
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), CacheError> {
        match self {
            Self::Memory(cache) => {
                keys.iter().for_each(|key| cache.delete(key));
                Ok(())
            }
            Self::Redis(cache) => cache.delete_many(keys).await,
        }
    }
}

/// Why a backend operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The request is not acceptable (too large, …).
    #[error("{0}")]
    Invalid(String),
    /// The backend cannot serve it now.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CacheError> for CapError {
    fn from(error: CacheError) -> Self {
        match error {
            CacheError::Invalid(message) => CapError::Invalid(message),
            CacheError::Unavailable(message) => CapError::Unavailable(message),
        }
    }
}

/// A component's granted access: the backend and the key space it is confined to.
#[derive(Clone, Debug)]
pub(crate) struct CacheAccess {
    backend: CacheBackend,
    /// `prefix` + `\0`: prepended to every key.
    namespace: Arc<str>,
}

impl CacheAccess {
    pub(crate) fn new(backend: CacheBackend, prefix: &str) -> Self {
        Self {
            backend,
            namespace: karman_protocol::cache::namespace(prefix).into(),
        }
    }

    fn key(&self, key: &str) -> Result<String, CapError> {
        karman_protocol::cache::stored_key_in(&self.namespace, key).map_err(CapError::Invalid)
    }
}

/// The cache capability of one step: the access its grant gives, if any.
pub(crate) struct CacheCtx {
    pub(crate) access: Option<CacheAccess>,
    /// Where its calls are counted.
    pub(crate) calls: CallCounter,
}

impl CacheCtx {
    fn access(&self) -> Result<&CacheAccess, CapError> {
        self.access
            .as_ref()
            .ok_or_else(|| CapError::Denied(karman_protocol::cache::NOT_GRANTED.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_confine_keys_to_their_own_space() {
        let backend = CacheBackend::in_memory();
        let users = CacheAccess::new(backend.clone(), "users:");
        let shared = CacheAccess::new(backend, "");
        // An unprefixed component asking for what looks like a prefixed key gets its own key.
        assert_ne!(users.key("42").unwrap(), shared.key("users:42").unwrap());
        assert_ne!(
            users.key("42").unwrap(),
            shared.key("users:\u{0}42").unwrap()
        );
        assert!(
            users
                .key(&"k".repeat(karman_protocol::cache::MAX_KEY_BYTES + 1))
                .is_err()
        );
    }
}
