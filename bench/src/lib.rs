//! Karman benchmarks: see `README.md`, `benches/` and `http.sh`.

use std::io::Write as _;
use std::path::Path;

/// The allocator the `karman` binary ships with (host/server/src/main.rs), for everything built
/// from this crate: native hyper, the raw client loops and Karman in process all allocate
/// through the same one, so no ratio owes anything to a difference of allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Appends `measure|result|target` to the file the `RESULTS` variable names, if any: how each
/// part of `bench/all.sh` hands its results to the table it prints.
pub fn record_result(measure: &str, result: &str, target: &str) {
    let Some(path) = std::env::var_os("RESULTS") else {
        return;
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open RESULTS {}: {e}", Path::new(&path).display()));
    writeln!(file, "{measure}|{result}|{target}").expect("RESULTS is written");
}
