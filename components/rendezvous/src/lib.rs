//! Meets its twin: run twice in one `group`, once with `with: { a: … }` and once with
//! `with: { b: … }`. Each marks its arrival in the cache, then waits (up to 3 s) for the other.
//! Run one after the other, the first would never see the second arrive: it fails with 500.

use std::time::{Duration, Instant};

use karman_sdk::{RunErr, Runnable, cache, req};

const PATIENCE: Duration = Duration::from_secs(3);

struct Rendezvous;

impl Runnable for Rendezvous {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let keys = req::state_keys();
        let (me, other) = if keys.iter().any(|k| k == "a") {
            ("a", "b")
        } else {
            ("b", "a")
        };
        let id = req::id();
        cache::set(&format!("{id}/{me}"), b"here", Some(60_000))?;
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if cache::get(&format!("{id}/{other}"))?.is_some() {
                return Ok(format!("{me} met {other}").into_bytes());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(RunErr::new(500, format!("{me} waited for {other} in vain")))
    }
}

karman_sdk::export!(Rendezvous);
