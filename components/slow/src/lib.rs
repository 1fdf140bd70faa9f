//! Sleeps `?ms=` milliseconds — or, without that query parameter, as many milliseconds as its
//! input says when the input is a number (a stream message) — by default 500, then answers
//! `done`.

use karman_sdk::{RunErr, Runnable, req};

struct Slow;

impl Runnable for Slow {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let ms = req::query_param("ms")
            .or_else(|| String::from_utf8(input).ok())
            .and_then(|m| m.trim().parse().ok())
            .unwrap_or(500);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(b"done".to_vec())
    }
}

karman_sdk::export!(Slow);
