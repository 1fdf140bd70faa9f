//! A Prometheus histogram that threads observe without sharing a cache line.
//!
//! `prometheus_client`'s `Histogram` keeps its buckets behind one mutex: every request and
//! every step took it, and with a worker thread per core the lock's line moved from core to
//! core on every observation (and a contended lock parks a thread). A [`ShardedHistogram`]
//! keeps one set of atomic buckets per shard, each on cache lines of its own; a thread always
//! observes into the same shard (threads are numbered at their first observation), so worker
//! threads do not touch each other's lines. A scrape adds the shards up: the exposition is the
//! same histogram, with the same buckets, sum and count.
//!
//! ```
//! use karman_runtime::ShardedHistogram;
//! use prometheus_client::registry::Registry;
//!
//! let durations = ShardedHistogram::new(&[0.1, 1.0, 10.0]);
//! durations.observe(0.25);
//! durations.observe(20.0);
//! let (sum, count, buckets) = durations.snapshot();
//! assert_eq!((sum, count), (20.25, 2));
//! assert_eq!(buckets, [(0.1, 0), (1.0, 1), (10.0, 0), (f64::INFINITY, 1)]);
//!
//! let mut registry = Registry::default();
//! registry.register("request_duration_seconds", "How long requests took", durations);
//! ```

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Shards per core: threads are numbered in the order they first observe, so the worker
/// threads (one per core) and the few others that observe (the blocking pool, a stream's
/// consumer) each get a shard of their own.
const SHARDS_PER_CORE: usize = 4;
/// Fewest and most shards a histogram has; threads beyond the count share shards (still
/// correct: every shard is atomic).
const MIN_SHARDS: usize = 8;
const MAX_SHARDS: usize = 64;

/// A histogram of `f64` observations with fixed bucket bounds, sharded by thread. Clones share
/// the same buckets.
#[derive(Clone)]
pub struct ShardedHistogram {
    inner: Arc<Shards>,
}

struct Shards {
    /// Upper bounds, ascending, the last one `f64::INFINITY` (the `+Inf` bucket).
    bounds: Box<[f64]>,
    /// Every shard's counters in one allocation of whole cache lines, [`Self::lines_per_shard`]
    /// lines each: a count per bound, then the sum (as `f64` bits), then the count. No two
    /// shards, and nothing else, share a line.
    lines: Box<[Line]>,
    lines_per_shard: usize,
}

/// Words in a cache line (of 128 bytes, two of the 64-byte lines an adjacent-line prefetcher
/// pairs).
const WORDS_PER_LINE: usize = 16;

#[repr(align(128))]
struct Line([AtomicU64; WORDS_PER_LINE]);

impl Shards {
    /// Word `word` of shard `shard` (`bounds.len()` is the sum, the next one the count).
    fn word(&self, shard: usize, word: usize) -> &AtomicU64 {
        let line = shard * self.lines_per_shard + word / WORDS_PER_LINE;
        &self.lines[line].0[word % WORDS_PER_LINE]
    }
}

impl ShardedHistogram {
    /// A histogram with buckets up to each of `bounds` (ascending) and a `+Inf` bucket.
    pub fn new(bounds: &[f64]) -> Self {
        let bounds: Box<[f64]> = bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .collect();
        // The buckets, the sum and the count; a zero `f64` is all zero bits.
        let lines_per_shard = (bounds.len() + 2).div_ceil(WORDS_PER_LINE);
        let lines = (0..shard_count() * lines_per_shard)
            .map(|_| Line(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Self {
            inner: Arc::new(Shards {
                bounds,
                lines,
                lines_per_shard,
            }),
        }
    }

    /// Records `value` (in the first bucket whose bound is at least `value`; NaN in `+Inf`).
    pub fn observe(&self, value: f64) {
        let shards = &*self.inner;
        let shard = this_thread() % shard_count();
        let bounds = shards.bounds.len();
        let bucket = shards
            .bounds
            .iter()
            .position(|bound| *bound >= value)
            .unwrap_or(bounds - 1);
        shards.word(shard, bucket).fetch_add(1, Ordering::Relaxed);
        // Uncontended as long as each thread has its own shard; a shared one retries.
        let _ =
            shards
                .word(shard, bounds)
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sum| {
                    Some((f64::from_bits(sum) + value).to_bits())
                });
        shards
            .word(shard, bounds + 1)
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The sum, the count, and each bucket's upper bound with its (non-cumulative) count, over
    /// every shard.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let shards = &*self.inner;
        let bounds = shards.bounds.len();
        let mut buckets: Vec<(f64, u64)> = shards.bounds.iter().map(|bound| (*bound, 0)).collect();
        let (mut sum, mut count) = (0.0, 0);
        for shard in 0..shard_count() {
            for (bucket, total) in buckets.iter_mut().enumerate() {
                total.1 += shards.word(shard, bucket).load(Ordering::Relaxed);
            }
            sum += f64::from_bits(shards.word(shard, bounds).load(Ordering::Relaxed));
            count += shards.word(shard, bounds + 1).load(Ordering::Relaxed);
        }
        (sum, count, buckets)
    }
}

impl std::fmt::Debug for ShardedHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sum, count, _) = self.snapshot();
        f.debug_struct("ShardedHistogram")
            .field("sum", &sum)
            .field("count", &count)
            .finish_non_exhaustive()
    }
}

impl TypedMetric for ShardedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for ShardedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Shards per histogram: [`SHARDS_PER_CORE`] per core, between [`MIN_SHARDS`] and
/// [`MAX_SHARDS`].
fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_mul(SHARDS_PER_CORE)
            .clamp(MIN_SHARDS, MAX_SHARDS)
    })
}

/// This thread's number, given at its first observation: consecutive threads get consecutive
/// shards.
fn this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|number| *number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_from_many_threads_add_up_in_one_snapshot() {
        let histogram = ShardedHistogram::new(&[1.0, 10.0]);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let histogram = histogram.clone();
                scope.spawn(move || {
                    for _ in 0..1000 {
                        histogram.observe(0.5);
                        histogram.observe(if thread % 2 == 0 { 5.0 } else { 50.0 });
                    }
                });
            }
        });
        let (sum, count, buckets) = histogram.snapshot();
        assert_eq!(count, 16_000);
        assert_eq!(buckets, [(1.0, 8000), (10.0, 4000), (f64::INFINITY, 4000)]);
        assert!((sum - (8000.0 * 0.5 + 4000.0 * 5.0 + 4000.0 * 50.0)).abs() < 1e-6);
    }

    #[test]
    fn a_value_on_a_bound_counts_in_that_bucket_and_nan_in_the_last() {
        let histogram = ShardedHistogram::new(&[0.25, 0.5]);
        histogram.observe(0.25);
        histogram.observe(0.5);
        histogram.observe(f64::NAN);
        let (_, count, buckets) = histogram.snapshot();
        assert_eq!(count, 3);
        assert_eq!(buckets, [(0.25, 1), (0.5, 1), (f64::INFINITY, 1)]);
    }

    #[test]
    fn the_exposition_matches_prometheus_clients_own_histogram() {
        use prometheus_client::metrics::histogram::Histogram;
        use prometheus_client::registry::Registry;

        let bounds = [0.001, 0.01, 0.1];
        let (sharded, reference) = (ShardedHistogram::new(&bounds), Histogram::new(bounds));
        for value in [0.0005, 0.002, 0.002, 0.05, 3.0] {
            sharded.observe(value);
            reference.observe(value);
        }
        let text = |metric: Box<dyn FnOnce(&mut Registry)>| {
            let mut registry = Registry::default();
            metric(&mut registry);
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
            out
        };
        let ours = text(Box::new(move |r| r.register("took", "How long", sharded)));
        let theirs = text(Box::new(move |r| r.register("took", "How long", reference)));
        assert_eq!(ours, theirs);
        assert!(ours.contains("took_bucket{le=\"0.01\"} 3"), "{ours}");
    }
}
