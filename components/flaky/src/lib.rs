//! Fails a set number of times, then succeeds: counts its tries in the cache under `?key=`,
//! fails with a run error of code `?code=` (503) and message `try <n> failed` while the count is
//! at most `?fails=` (1), then answers `ok after <n>`. Each parameter may instead come from the
//! state (a handler's `state:`), for stream handlers, whose url has no query.

use karman_sdk::{RunErr, Runnable, cache, req};

struct Flaky;

/// `name` from the query, else from the state.
fn param(name: &str) -> Option<String> {
    req::query_param(name).or_else(|| req::state_text(name))
}

impl Runnable for Flaky {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let key = param("key").ok_or_else(|| RunErr::new(400, "missing ?key="))?;
        let fails: u32 = param("fails").and_then(|f| f.parse().ok()).unwrap_or(1);
        let code: u16 = param("code").and_then(|c| c.parse().ok()).unwrap_or(503);
        let previous: u32 = cache::get(&key)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        let tries = previous + 1;
        cache::set(&key, tries.to_string().as_bytes(), None)?;
        if tries <= fails {
            return Err(RunErr::new(code, format!("try {tries} failed")));
        }
        Ok(format!("ok after {tries}").into_bytes())
    }
}

karman_sdk::export!(Flaky);
