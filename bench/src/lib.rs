//! Karman benchmarks: see `README.md`, `benches/` and `http.sh`.
