//! Implements `karman:runnable/cache` on [`CacheCtx`].

use std::time::Duration;

use bytes::Bytes;

use super::{CacheCtx, CacheError};
use crate::bindings::cache::Host;
use crate::bindings::types::CapError;
use tracing::Instrument as _;

use crate::capabilities::{CapFailure, call_span};

impl CacheCtx {
    /// Counts a call that returned `result`, under its backend (`none` without a grant).
    pub(super) fn counted<T>(&self, result: Result<T, CapFailure>) -> Result<T, CapFailure> {
        let backend = self
            .access
            .as_ref()
            .map_or("none", |access| access.backend.label());
        self.calls.count_result(backend, &result);
        result
    }

    pub(super) async fn get_value(&mut self, key: String) -> Result<Option<Vec<u8>>, CapFailure> {
        let access = self.access()?;
        let key = access.key(&key)?;
        let value = access.backend.get(&key).await?;
        Ok(value.map(|bytes| bytes.to_vec()))
    }

    pub(super) async fn set_value(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), CapFailure> {
        let access = self.access()?;
        let key = access.key(&key)?;
        karman_protocol::cache::checked_value(value.len(), ttl_ms).map_err(CapError::Invalid)?;
        let ttl = ttl_ms.map(Duration::from_millis);
        access.backend.set(key, Bytes::from(value), ttl).await?;
        Ok(())
    }

    pub(super) async fn delete_value(&mut self, key: String) -> Result<(), CapFailure> {
        let access = self.access()?;
        let key = access.key(&key)?;
        access.backend.delete(&key).await?;
        Ok(())
    }
}

impl Host for CacheCtx {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapFailure> {
        let result = self.get_value(key).instrument(call_span("cache.get")).await;
        self.counted(result)
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), CapFailure> {
        let result = self
            .set_value(key, value, ttl_ms)
            .instrument(call_span("cache.set"))
            .await;
        self.counted(result)
    }

    async fn delete(&mut self, key: String) -> Result<(), CapFailure> {
        let result = self
            .delete_value(key)
            .instrument(call_span("cache.delete"))
            .await;
        self.counted(result)
    }
}

impl From<CacheError> for CapFailure {
    fn from(error: CacheError) -> Self {
        CapFailure::Guest(error.into())
    }
}
