//! Implements `karman:runnable/cache` on [`CacheCtx`].

use std::time::Duration;

use bytes::Bytes;

use super::{CacheCtx, MAX_VALUE_BYTES};
use crate::bindings::cache::Host;
use crate::bindings::types::CapError;

impl Host for CacheCtx {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapError> {
        let access = self.access()?;
        let key = access.key(&key)?;
        let value = access.backend.get(&key).await?;
        Ok(value.map(|bytes| bytes.to_vec()))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), CapError> {
        let access = self.access()?;
        let key = access.key(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(CapError::Invalid(format!(
                "cache value of {} bytes is larger than {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        if ttl_ms == Some(0) {
            return Err(CapError::Invalid(
                "a cache TTL must be at least 1 ms".into(),
            ));
        }
        let ttl = ttl_ms.map(Duration::from_millis);
        access.backend.set(key, Bytes::from(value), ttl).await?;
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), CapError> {
        let access = self.access()?;
        let key = access.key(&key)?;
        access.backend.delete(&key).await?;
        Ok(())
    }
}
