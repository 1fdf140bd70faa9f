//! The key space and values of `cache` (and of `wasi:keyvalue` on it): a grant's prefix
//! confines a component to its own space, invisibly to it. A key `42` under the prefix
//! `users:` is stored as `users:` + `\0` + `42`; a prefix cannot hold `\0`, so no component can
//! name a key outside its space, whatever key it asks for.
//!
//! ```
//! use karman_protocol::cache;
//!
//! assert_eq!(cache::stored_key("users:", "42").unwrap(), "users:\u{0}42");
//! assert_ne!(cache::stored_key("", "users:\u{0}42").unwrap(), "users:\u{0}42");
//! assert!(cache::checked_value(4 << 20, None).is_ok());
//! assert!(cache::checked_value(1, Some(0)).is_err());
//! ```

/// Longest key a component may use, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value a component may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// The namespace of a grant's `prefix`: what is prepended to each of its keys.
pub fn namespace(prefix: &str) -> String {
    format!("{prefix}\0")
}

/// `key` in the space of `prefix`, or why the key is refused (an `invalid` cap error).
pub fn stored_key(prefix: &str, key: &str) -> Result<String, String> {
    stored_key_in(&namespace(prefix), key)
}

/// `key` in `namespace` (see [`namespace`]), or why the key is refused.
pub fn stored_key_in(namespace: &str, key: &str) -> Result<String, String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "cache key of {} bytes is longer than {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    let mut full = String::with_capacity(namespace.len() + key.len());
    full.push_str(namespace);
    full.push_str(key);
    Ok(full)
}

/// Whether `cache.set` may store a value of `len` bytes with `ttl_ms`, or why not (an
/// `invalid` cap error).
pub fn checked_value(len: usize, ttl_ms: Option<u64>) -> Result<(), String> {
    if len > MAX_VALUE_BYTES {
        return Err(format!(
            "cache value of {len} bytes is larger than {MAX_VALUE_BYTES}"
        ));
    }
    if ttl_ms == Some(0) {
        return Err("a cache TTL must be at least 1 ms".into());
    }
    Ok(())
}

/// Why a call is refused without a `cache` grant (a `denied` cap error).
pub const NOT_GRANTED: &str = "cache: this component is not granted the cache capability";
