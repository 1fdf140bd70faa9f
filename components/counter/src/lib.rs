//! Counts its own runs in a global and answers the count: a fresh instance always answers 1, a
//! reused one 1, 2, 3… After counting, `?trap=1` panics and `?sleep=<ms>` sleeps.

use std::sync::atomic::{AtomicU32, Ordering};

use karman_sdk::{RunErr, Runnable, req};

static RUNS: AtomicU32 = AtomicU32::new(0);

struct Counter;

impl Runnable for Counter {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
        if req::query_param("trap").is_some() {
            panic!("asked to trap on run {runs}");
        }
        if let Some(ms) = req::query_param("sleep").and_then(|ms| ms.parse().ok()) {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        Ok(runs.to_string().into_bytes())
    }
}

karman_sdk::export!(Counter);
