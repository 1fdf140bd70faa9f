//! Never returns: burns CPU until the host interrupts it.

use karman_sdk::{RunErr, Runnable};

struct Spin;

impl Runnable for Spin {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let mut counter: u64 = 0;
        loop {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    }
}

karman_sdk::export!(Spin);
