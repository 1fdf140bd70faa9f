//! Panics, which traps the instance.

use karman_sdk::{RunErr, Runnable};

struct Trap;

impl Runnable for Trap {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        panic!("this component always panics");
    }
}

karman_sdk::export!(Trap);
