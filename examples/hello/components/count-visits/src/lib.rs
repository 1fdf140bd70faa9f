//! Counts the visits of `:name` in the cache (granted with its own key prefix).

use karman_sdk::{RunErr, Runnable, cache, req};

struct CountVisits;

impl Runnable for CountVisits {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_else(|| "world".into());
        let previous: u64 = cache::get(&name)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        let visits = previous + 1;
        cache::set(&name, visits.to_string().as_bytes(), None)?;
        Ok(visits.to_string().into_bytes())
    }
}

karman_sdk::export!(CountVisits);
