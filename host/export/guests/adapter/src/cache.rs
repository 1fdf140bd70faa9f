//! `karman:runnable/cache` on `wasi:keyvalue/store`: the bucket `""` (what `wasmtime serve -S
//! keyvalue` and `karman serve -S keyvalue` serve), keys confined by the grant's prefix as on
//! the host ([`karman_protocol::cache`]).
//!
//! `wasi:keyvalue` has no expiry, so a value is stored behind a tag: `0` and the value, or
//! `1`, the wall-clock time it expires (milliseconds since the epoch, 8 bytes little-endian),
//! and the value. A `get` past that time deletes the key and finds nothing.

use karman_protocol::cache as rules;

use crate::bindings::exports::karman::runnable::cache::Guest;
use crate::bindings::exports::karman::runnable::types::CapError;
use crate::bindings::wasi::clocks::wall_clock;
use crate::bindings::wasi::keyvalue::store::{self, Bucket, Error};
use crate::{Adapter, serving};

const PLAIN: u8 = 0;
const EXPIRING: u8 = 1;

/// The running component's key for `key`, and the bucket: or why it may not use the cache.
fn open(key: &str) -> Result<(Bucket, String), CapError> {
    let prefix = serving(|s| s.grants().cache);
    let prefix = prefix.ok_or_else(|| CapError::Denied(rules::NOT_GRANTED.into()))?;
    let key = rules::stored_key(&prefix, key).map_err(CapError::Invalid)?;
    let bucket = store::open("").map_err(unavailable)?;
    Ok((bucket, key))
}

fn unavailable(error: Error) -> CapError {
    CapError::Unavailable(match error {
        Error::NoSuchStore => "cache: the host serves no key-value store".into(),
        Error::AccessDenied => "cache: the host denies its key-value store".into(),
        Error::Other(message) => format!("cache: {message}"),
    })
}

fn now_ms() -> u64 {
    let now = wall_clock::now();
    now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
}

/// The value stored for `value`, expiring after `ttl_ms`.
fn envelope(value: Vec<u8>, ttl_ms: Option<u64>) -> Vec<u8> {
    let mut stored = Vec::with_capacity(value.len() + 9);
    match ttl_ms {
        None => stored.push(PLAIN),
        Some(ttl) => {
            stored.push(EXPIRING);
            stored.extend_from_slice(&now_ms().saturating_add(ttl).to_le_bytes());
        }
    }
    stored.extend_from_slice(&value);
    stored
}

/// The value inside `stored`, when it has not expired by `now`.
fn opened(stored: &[u8], now: u64) -> Option<&[u8]> {
    match stored.split_first()? {
        (&PLAIN, value) => Some(value),
        (&EXPIRING, rest) if rest.len() >= 8 => {
            let (expires, value) = rest.split_at(8);
            let expires = u64::from_le_bytes(expires.try_into().ok()?);
            (now < expires).then_some(value)
        }
        _ => None,
    }
}

impl Guest for Adapter {
    fn get(key: String) -> Result<Option<Vec<u8>>, CapError> {
        let (bucket, key) = open(&key)?;
        let Some(stored) = bucket.get(&key).map_err(unavailable)? else {
            return Ok(None);
        };
        match opened(&stored, now_ms()) {
            Some(value) => Ok(Some(value.to_vec())),
            None => {
                bucket.delete(&key).map_err(unavailable)?;
                Ok(None)
            }
        }
    }

    fn set(key: String, value: Vec<u8>, ttl_ms: Option<u64>) -> Result<(), CapError> {
        let (bucket, key) = open(&key)?;
        rules::checked_value(value.len(), ttl_ms).map_err(CapError::Invalid)?;
        bucket
            .set(&key, &envelope(value, ttl_ms))
            .map_err(unavailable)
    }

    fn delete(key: String) -> Result<(), CapError> {
        let (bucket, key) = open(&key)?;
        bucket.delete(&key).map_err(unavailable)
    }
}
