//! The in-memory cache backend: TTL expiry and a bound on the bytes it holds.
//!
//! When a `set` would exceed the bound, expired entries go first, then the oldest writes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::CacheError;

/// Default bound of the in-memory cache.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// Bytes counted per entry on top of key and value (bookkeeping).
const ENTRY_OVERHEAD: usize = 64;
/// Least time between two scans for expired entries when the cache is full (a scan visits
/// every entry).
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A bounded in-memory cache.
#[derive(Debug)]
pub struct MemoryCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Keys in write order, with the generation written; stale pairs are skipped.
    order: VecDeque<(String, u64)>,
    used_bytes: usize,
    generation: u64,
    swept_at: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    value: Bytes,
    expires_at: Option<Instant>,
    generation: u64,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A counter's value: its decimal digits, as Redis and wasmtime store them.
fn parse_counter(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn cost(key: &str, value: &Bytes) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

impl MemoryCache {
    /// A cache holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    /// The value under `key`, unless absent or expired.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.entries.get(key) {
            Some(entry) if entry.is_expired(now) => {
                inner.remove(key);
                None
            }
            Some(entry) => Some(entry.value.clone()),
            None => None,
        }
    }

    /// Stores `value` under `key`, expiring after `ttl`.
    pub fn set(&self, key: String, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        let needed = cost(&key, &value);
        if needed > self.max_bytes {
            return Err(CacheError::Invalid(format!(
                "a value of {} bytes does not fit in the cache ({} bytes)",
                value.len(),
                self.max_bytes
            )));
        }
        let now = Instant::now();
        self.lock()
            .insert(key, value, ttl.map(|ttl| now + ttl), self.max_bytes, now);
        Ok(())
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Adds `delta` to the decimal number stored under `key` (absent or expired: 0), keeping
    /// its expiry, and returns the sum; the read and the write are one step for every caller.
    pub fn increment(&self, key: &str, delta: u64) -> Result<u64, CacheError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (current, expires_at) = match inner.entries.get(key) {
            Some(entry) if !entry.is_expired(now) => (
                parse_counter(&entry.value).ok_or_else(|| {
                    CacheError::Invalid("the value to increment is not a decimal number".into())
                })?,
                entry.expires_at,
            ),
            _ => (0, None),
        };
        let sum = current
            .checked_add(delta)
            .ok_or_else(|| CacheError::Invalid("the increment overflows a u64".into()))?;
        let value = Bytes::from(sum.to_string());
        inner.insert(key.to_string(), value, expires_at, self.max_bytes, now);
        Ok(sum)
    }

    /// Whether `key` holds a value that has not expired.
    pub fn contains(&self, key: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .entries
            .get(key)
            .is_some_and(|entry| !entry.is_expired(now))
    }

    /// A page of the live keys that start with `prefix`, in byte order: at most `limit` from
    /// position `from` of that order, and the position of the next page when there is one.
    pub fn keys_page(
        &self,
        prefix: &str,
        from: usize,
        limit: usize,
    ) -> (Vec<String>, Option<usize>) {
        let now = Instant::now();
        let mut keys: Vec<String> = self
            .lock()
            .entries
            .iter()
            .filter(|(key, entry)| key.starts_with(prefix) && !entry.is_expired(now))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_unstable();
        let next = (keys.len() > from.saturating_add(limit)).then(|| from + limit);
        let page = keys.into_iter().skip(from).take(limit).collect();
        (page, next)
    }

    /// Bytes currently accounted for.
    pub fn used_bytes(&self) -> usize {
        self.lock().used_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Stores `value` under `key` in place of any earlier value, making room for it first.
    fn insert(
        &mut self,
        key: String,
        value: Bytes,
        expires_at: Option<Instant>,
        max_bytes: usize,
        now: Instant,
    ) {
        let needed = cost(&key, &value);
        self.remove(&key);
        self.make_room(needed, max_bytes, now);
        self.generation += 1;
        let generation = self.generation;
        self.used_bytes += needed;
        self.order.push_back((key.clone(), generation));
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at,
                generation,
            },
        );
        self.compact_order();
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.used_bytes -= cost(key, &entry.value);
        }
    }

    fn make_room(&mut self, needed: usize, max_bytes: usize, now: Instant) {
        if self.used_bytes + needed <= max_bytes {
            return;
        }
        if self
            .swept_at
            .is_none_or(|at| now.duration_since(at) >= SWEEP_INTERVAL)
        {
            self.swept_at = Some(now);
            let expired: Vec<String> = self
                .entries
                .iter()
                .filter(|(_, entry)| entry.is_expired(now))
                .map(|(key, _)| key.clone())
                .collect();
            for key in expired {
                self.remove(&key);
            }
        }
        while self.used_bytes + needed > max_bytes {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.generation == generation)
            {
                self.remove(&key);
            }
        }
    }

    /// Drops stale pairs from `order` once they outnumber the live entries.
    fn compact_order(&mut self) {
        if self.order.len() <= 2 * self.entries.len() + 1024 {
            return;
        }
        let entries = &self.entries;
        self.order.retain(|(key, generation)| {
            entries
                .get(key)
                .is_some_and(|e| e.generation == *generation)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_values_are_gone() {
        let cache = MemoryCache::new(1 << 20);
        cache
            .set(
                "k".into(),
                Bytes::from_static(b"v"),
                Some(Duration::from_millis(1)),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("k"), None);
        assert_eq!(cache.used_bytes(), 0);
    }

    #[test]
    fn the_oldest_writes_are_evicted_to_stay_within_the_bound() {
        let cache = MemoryCache::new(3 * (1 + 100 + ENTRY_OVERHEAD));
        for key in ["a", "b", "c", "d"] {
            cache
                .set(key.into(), Bytes::from(vec![0; 100]), None)
                .unwrap();
        }
        assert_eq!(cache.get("a"), None);
        assert!(cache.get("b").is_some() && cache.get("d").is_some());
        assert!(cache.used_bytes() <= 3 * (1 + 100 + ENTRY_OVERHEAD));
    }

    #[test]
    fn overwriting_keeps_the_accounting_exact() {
        let cache = MemoryCache::new(1 << 20);
        for _ in 0..5000 {
            cache
                .set("same".into(), Bytes::from_static(b"value"), None)
                .unwrap();
        }
        assert_eq!(
            cache.used_bytes(),
            cost("same", &Bytes::from_static(b"value"))
        );
        assert!(cache.lock().order.len() <= 2 + 1024);
        cache.delete("same");
        assert_eq!(cache.used_bytes(), 0);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_before_live_ones() {
        let size = 1 + 100 + ENTRY_OVERHEAD;
        let cache = MemoryCache::new(3 * size);
        cache
            .set("a".into(), Bytes::from(vec![0; 100]), None)
            .unwrap();
        cache
            .set(
                "b".into(),
                Bytes::from(vec![0; 100]),
                Some(Duration::from_millis(1)),
            )
            .unwrap();
        cache
            .set("c".into(), Bytes::from(vec![0; 100]), None)
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        cache
            .set("d".into(), Bytes::from(vec![0; 100]), None)
            .unwrap();
        // `a` is the oldest write, but the expired `b` made room.
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn increments_count_from_zero_keep_the_expiry_and_refuse_what_is_not_a_number() {
        let cache = MemoryCache::new(1 << 20);
        assert_eq!(cache.increment("n", 2).unwrap(), 2);
        assert_eq!(cache.increment("n", 40).unwrap(), 42);
        assert_eq!(cache.get("n").unwrap(), Bytes::from_static(b"42"));
        cache
            .set(
                "t".into(),
                Bytes::from_static(b"1"),
                Some(Duration::from_millis(1)),
            )
            .unwrap();
        assert_eq!(cache.increment("t", 1).unwrap(), 2);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("t"), None, "the increment kept the key's expiry");
        cache
            .set("s".into(), Bytes::from_static(b"abc"), None)
            .unwrap();
        assert!(cache.increment("s", 1).is_err());
        cache
            .set("max".into(), Bytes::from(u64::MAX.to_string()), None)
            .unwrap();
        assert!(cache.increment("max", 1).is_err());
        assert_eq!(
            cache.used_bytes(),
            cost("n", &Bytes::from_static(b"42"))
                + cost("s", &Bytes::from_static(b"abc"))
                + cost("max", &Bytes::from(u64::MAX.to_string()))
        );
    }

    #[test]
    fn key_pages_cover_the_prefix_once_in_order() {
        let cache = MemoryCache::new(1 << 20);
        for key in ["a:3", "a:1", "b:1", "a:2", "a:4", "a:5"] {
            cache
                .set(key.into(), Bytes::from_static(b"v"), None)
                .unwrap();
        }
        assert_eq!(
            cache.keys_page("a:", 0, 2),
            (vec!["a:1".into(), "a:2".into()], Some(2))
        );
        assert_eq!(
            cache.keys_page("a:", 2, 2),
            (vec!["a:3".into(), "a:4".into()], Some(4))
        );
        assert_eq!(cache.keys_page("a:", 4, 2), (vec!["a:5".into()], None));
        assert_eq!(cache.keys_page("a:", 9, 2), (vec![], None));
        assert!(cache.contains("b:1") && !cache.contains("c:1"));
    }

    #[test]
    fn refuses_a_value_larger_than_the_cache() {
        let cache = MemoryCache::new(100);
        assert!(
            cache
                .set("k".into(), Bytes::from(vec![0; 200]), None)
                .is_err()
        );
    }
}
