//! `wasi:keyvalue` (`store`, `atomics`, `batch`, the 0.2.0 draft) on the cache: the standard
//! face of the same capability, under the same grant and in the same key space.
//!
//! | the component | gets |
//! |---------------|------|
//! | no `cache` grant | `open` fails with `access-denied` |
//! | `open("")` or `open("default")` | a bucket: its cache space (`cache: true`: the shared one, `{ prefix }`: its own) |
//! | `open` of any other name | `no-such-store` |
//!
//! `""` is the bucket `wasmtime serve -S keyvalue` serves and `"default"` Spin's, so a component
//! written for either opens its space here unchanged. A key is confined by the grant's prefix
//! exactly as `karman:runnable/cache` confines it, so both interfaces see the same values.
//! Values set through `wasi:keyvalue` do not expire. `increment` stores the number as its
//! decimal digits (as Redis and wasmtime do) and is atomic for every caller of the backend;
//! `set-many` is atomic on Redis (`MSET`) and pair by pair in memory. Every call is counted as
//! a `cache` call, under the same backend label.

use bytes::Bytes;
use tracing::Instrument as _;
use wasmtime::component::{HasData, Resource, ResourceTable};

use super::{CacheCtx, MAX_BATCH_KEYS, MAX_VALUE_BYTES};
use crate::bindings::keyvalue_store::{Error, Host, HostBucket, KeyResponse};
use crate::bindings::types::CapError;
use crate::bindings::{atomics, batch};
use crate::capabilities::{CapFailure, call_span};

/// The bucket names `open` accepts.
pub(crate) const BUCKETS: [&str; 2] = ["", "default"];

/// An open bucket: the component's cache space. It holds nothing: the space is the grant's.
pub struct Bucket;

/// `wasi:keyvalue` as the generated bindings see it: the step's cache capability and the
/// store's resource table (which holds the guest's buckets).
pub(crate) struct KeyvalueView<'a> {
    /// The step's cache capability.
    pub(crate) cache: &'a mut CacheCtx,
    /// The store's resource table.
    pub(crate) table: &'a mut ResourceTable,
}

/// Marks [`KeyvalueView`] as the data of the `wasi:keyvalue` bindings.
pub(crate) struct Keyvalue;

impl HasData for Keyvalue {
    type Data<'a> = KeyvalueView<'a>;
}

impl KeyvalueView<'_> {
    /// Runs `call` on an owned bucket (a handle the guest does not own traps) within its span,
    /// and counts it.
    async fn on_bucket<T>(
        &mut self,
        bucket: &Resource<Bucket>,
        span: &'static str,
        call: impl AsyncFnOnce(&mut CacheCtx) -> Result<T, CapFailure>,
    ) -> Result<T, CapFailure> {
        self.table.get(bucket)?;
        let result = call(self.cache).instrument(call_span(span)).await;
        self.cache.counted(result)
    }
}

impl CacheCtx {
    /// Checks a batch's size before any of it runs.
    fn batch_size(count: usize) -> Result<(), CapFailure> {
        if count > MAX_BATCH_KEYS {
            return Err(CapError::Invalid(format!(
                "a batch of {count} keys is larger than {MAX_BATCH_KEYS}"
            ))
            .into());
        }
        Ok(())
    }

    async fn exists_value(&mut self, key: String) -> Result<bool, CapFailure> {
        let access = self.access()?;
        let key = access.key(&key)?;
        Ok(access.backend.exists(&key).await?)
    }

    async fn increment_value(&mut self, key: String, delta: u64) -> Result<u64, CapFailure> {
        let access = self.access()?;
        let key = access.key(&key)?;
        Ok(access.backend.increment(&key, delta).await?)
    }

    async fn list_keys(&mut self, cursor: Option<u64>) -> Result<KeyResponse, CapFailure> {
        let access = self.access()?;
        let namespace = &*access.namespace;
        let (keys, cursor) = access
            .backend
            .keys_page(namespace, cursor.unwrap_or(0))
            .await?;
        let keys = keys
            .into_iter()
            .filter_map(|key| key.strip_prefix(namespace).map(str::to_string))
            .collect();
        Ok(KeyResponse { keys, cursor })
    }

    async fn get_values(
        &mut self,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, CapFailure> {
        Self::batch_size(keys.len())?;
        let access = self.access()?;
        let full: Vec<String> = keys
            .iter()
            .map(|key| access.key(key))
            .collect::<Result<_, _>>()?;
        let values = access.backend.get_many(&full).await?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| value.map(|value| (key, value.to_vec())))
            .collect())
    }

    async fn set_values(&mut self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), CapFailure> {
        Self::batch_size(pairs.len())?;
        let access = self.access()?;
        let mut full = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            if value.len() > MAX_VALUE_BYTES {
                return Err(CapError::Invalid(format!(
                    "the value of `{key}`, {} bytes, is larger than {MAX_VALUE_BYTES}",
                    value.len()
                ))
                .into());
            }
            full.push((access.key(&key)?, Bytes::from(value)));
        }
        Ok(access.backend.set_many(full).await?)
    }

    async fn delete_values(&mut self, keys: Vec<String>) -> Result<(), CapFailure> {
        Self::batch_size(keys.len())?;
        let access = self.access()?;
        let full: Vec<String> = keys
            .iter()
            .map(|key| access.key(key))
            .collect::<Result<_, _>>()?;
        Ok(access.backend.delete_many(&full).await?)
    }
}

impl Host for KeyvalueView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, CapFailure> {
        let result = async {
            self.cache.access()?;
            if !BUCKETS.contains(&identifier.as_str()) {
                return Err(CapError::NotFound(format!(
                    "wasi:keyvalue: no store `{identifier}`: open \"\" or \"default\", the \
                     component's cache space"
                ))
                .into());
            }
            Ok(self.table.push(Bucket)?)
        }
        .instrument(call_span("keyvalue.open"))
        .await;
        self.cache.counted(result)
    }

    fn convert_error(&mut self, failure: CapFailure) -> wasmtime::Result<Error> {
        match failure {
            CapFailure::Guest(CapError::Denied(_)) => Ok(Error::AccessDenied),
            CapFailure::Guest(CapError::NotFound(_)) => Ok(Error::NoSuchStore),
            CapFailure::Guest(
                CapError::Invalid(message)
                | CapError::Unavailable(message)
                | CapError::Other(message),
            ) => Ok(Error::Other(message)),
            CapFailure::Trap(trap) => Err(trap),
        }
    }
}

impl HostBucket for KeyvalueView<'_> {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, CapFailure> {
        self.on_bucket(&bucket, "keyvalue.get", async |cache| {
            cache.get_value(key).await
        })
        .await
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), CapFailure> {
        self.on_bucket(&bucket, "keyvalue.set", async |cache| {
            cache.set_value(key, value, None).await
        })
        .await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), CapFailure> {
        self.on_bucket(&bucket, "keyvalue.delete", async |cache| {
            cache.delete_value(key).await
        })
        .await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, CapFailure> {
        self.on_bucket(&bucket, "keyvalue.exists", async |cache| {
            cache.exists_value(key).await
        })
        .await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<KeyResponse, CapFailure> {
        self.on_bucket(&bucket, "keyvalue.list-keys", async |cache| {
            cache.list_keys(cursor).await
        })
        .await
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyvalueView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, CapFailure> {
        self.on_bucket(&bucket, "keyvalue.increment", async |cache| {
            cache.increment_value(key, delta).await
        })
        .await
    }
}

impl batch::Host for KeyvalueView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, CapFailure> {
        self.on_bucket(&bucket, "keyvalue.get-many", async |cache| {
            cache.get_values(keys).await
        })
        .await
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), CapFailure> {
        self.on_bucket(&bucket, "keyvalue.set-many", async |cache| {
            cache.set_values(key_values).await
        })
        .await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<(), CapFailure> {
        self.on_bucket(&bucket, "keyvalue.delete-many", async |cache| {
            cache.delete_values(keys).await
        })
        .await
    }
}
