//! Allocates (and touches) memory without bound.

use karman_sdk::{RunErr, Runnable};

struct MemoryHog;

impl Runnable for MemoryHog {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

karman_sdk::export!(MemoryHog);
