//! Sleeps `?ms=` milliseconds (default 500), then answers `done`.

use karman_sdk::{RunErr, Runnable, req};

struct Slow;

impl Runnable for Slow {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let ms = req::query_param("ms")
            .and_then(|m| m.parse().ok())
            .unwrap_or(500);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(b"done".to_vec())
    }
}

karman_sdk::export!(Slow);
