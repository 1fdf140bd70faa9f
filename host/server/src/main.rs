//! The `karman` command: see `karman --help` and `docs/`.

/// jemalloc instead of the C library's allocator: every request allocates and frees a store,
/// its contexts and its futures, and glibc's malloc spent a tenth of a fresh instance's
/// samples on them (consolidating its fast bins among them). Measured in bench/README.md
/// ("Where a request's time goes").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    karman::cli::main()
}
