//! Returns its input unchanged.

use karman_sdk::{RunErr, Runnable};

struct Echo;

impl Runnable for Echo {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        Ok(input)
    }
}

karman_sdk::export!(Echo);
