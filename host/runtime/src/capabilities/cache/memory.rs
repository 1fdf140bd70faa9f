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
        let mut inner = self.lock();
        inner.remove(&key);
        inner.make_room(needed, self.max_bytes, now);
        inner.generation += 1;
        let generation = inner.generation;
        inner.used_bytes += needed;
        inner.order.push_back((key.clone(), generation));
        inner.entries.insert(
            key,
            Entry {
                value,
                expires_at: ttl.map(|ttl| now + ttl),
                generation,
            },
        );
        inner.compact_order();
        Ok(())
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
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
    fn refuses_a_value_larger_than_the_cache() {
        let cache = MemoryCache::new(100);
        assert!(
            cache
                .set("k".into(), Bytes::from(vec![0; 200]), None)
                .is_err()
        );
    }
}
