//! Logs `?n=` lines (default 1) through the log capability, and one line each to stdout and
//! stderr; answers how many it logged.

use karman_sdk::{RunErr, Runnable, log, req};

struct Logger;

impl Runnable for Logger {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let n: u32 = req::query_param("n")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        for i in 0..n {
            log::info(&format!("log line {i}"));
        }
        println!("a line on stdout");
        eprintln!("a line on stderr");
        Ok(format!("logged {n}").into_bytes())
    }
}

karman_sdk::export!(Logger);
