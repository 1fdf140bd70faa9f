//! The wasmtime engine every component runs on: component model, async, the pooling
//! allocator, epoch interruption, and an on-disk cache of compiled code.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;

use crate::memory_budget::{MemoryBudget, default_guest_memory_budget};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

/// How often the epoch advances. A running guest yields to the scheduler at every tick, so
/// this bounds both how long a guest can hold a worker thread and how late a timeout fires.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default number of component instances that may exist at once (the pool size).
pub const DEFAULT_MAX_INSTANCES: u32 = 500;

/// Core instances a component may contain, on average (Rust components have a few, JS and
/// Python ones more).
const CORE_INSTANCES_PER_COMPONENT: u32 = 10;

/// Pool slots returned before their memory is decommitted in one batch.
const DECOMMIT_BATCH_SIZE: usize = 16;
/// Bytes at the start of each memory, table and stack kept resident between instances.
const KEEP_RESIDENT_BYTES: usize = 64 << 10;
/// Bytes of each linear memory kept resident where the kernel has `PAGEMAP_SCAN` (Linux 6.7+):
/// only the pages an instance dirtied are reset, so this can cover a guest's stack (1 MiB for
/// Rust) and data. Each pool slot in use keeps at most this much resident.
const MEMORY_KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of the compiled-code cache; `None` compiles every component at every start.
    pub cache_dir: Option<PathBuf>,
    /// Component instances that may exist at once; a step that would exceed it fails with 503.
    pub max_instances: u32,
    /// The largest linear memory any component may have (the largest `limits.memory`).
    pub max_memory: u64,
    /// Bytes the linear memories of every live instance may hold together (see
    /// [`MemoryBudget`]).
    pub max_guest_memory: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            max_instances: DEFAULT_MAX_INSTANCES,
            max_memory: karman_directive::DEFAULT_MEMORY,
            max_guest_memory: default_guest_memory_budget(),
        }
    }
}

/// `$XDG_CACHE_HOME/karman/compiled`, else `$HOME/.cache/karman/compiled`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("karman").join("compiled"))
}

/// A configured engine and the thread that advances its epoch.
pub struct KarmanEngine {
    engine: Engine,
    cache: Option<Cache>,
    ticker: Option<EpochTicker>,
    memory_budget: Arc<MemoryBudget>,
}

impl KarmanEngine {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: &EngineConfig) -> anyhow::Result<Self> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        wasm.epoch_interruption(true);
        wasm.cranelift_opt_level(wasmtime::OptLevel::Speed);

        let mut pool = PoolingAllocationConfig::new();
        let instances = config.max_instances.max(1);
        pool.total_component_instances(instances);
        pool.total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT));
        pool.total_memories(instances.saturating_mul(2));
        pool.total_tables(instances.saturating_mul(4));
        pool.total_stacks(instances);
        pool.max_memory_size(usize::try_from(config.max_memory).unwrap_or(usize::MAX));
        // Returning a slot to the pool costs an madvise and a TLB shootdown on every core, and
        // re-touching its pages costs page faults: batch the former, and keep the first pages
        // of memories, tables and stacks resident (reset with memset instead). Measured with
        // bench/benches/steps.rs: about 30% less per step.
        pool.decommit_batch_size(DECOMMIT_BATCH_SIZE);
        if has_pagemap_scan() {
            // Only the pages an instance dirtied are reset: no page faults when the slot is
            // reused, no madvise. 1-step p50 93 → 71 µs, 3 steps 163 → 102 µs (bench/http.sh).
            pool.pagemap_scan(wasmtime::Enabled::Auto);
            pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES);
        } else {
            pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
        }
        pool.table_keep_resident(KEEP_RESIDENT_BYTES);
        pool.async_stack_keep_resident(KEEP_RESIDENT_BYTES);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

        let mut compiled_cache = None;
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the compiled-code cache {}", dir.display())
            })?;
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            let cache = Cache::new(cache)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot use the compiled-code cache {}", dir.display()))?;
            wasm.cache(Some(cache.clone()));
            compiled_cache = Some(cache);
        }

        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("cannot configure wasmtime")?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            engine,
            cache: compiled_cache,
            ticker: Some(ticker),
            memory_budget: MemoryBudget::new(config.max_guest_memory),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The host-wide budget of guest memory every instance of this engine draws from.
    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.memory_budget
    }

    /// Compilations served from the on-disk cache since this engine started.
    pub fn cache_hits(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::cache_hits)
    }

    /// Compilations the on-disk cache could not serve since this engine started.
    pub fn cache_misses(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::cache_misses)
    }
}

impl Drop for KarmanEngine {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until stopped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("karman-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("the epoch thread starts");
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 or later).
fn has_pagemap_scan() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut numbers = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (6, 7),
        _ => false,
    }
}
