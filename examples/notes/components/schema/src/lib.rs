//! Creates the `notes` table if it is missing (the first step of every notes handler).

use karman_sdk::{RunErr, Runnable, sql};

struct Schema;

impl Runnable for Schema {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        sql::execute("ensure-table", &[])?;
        Ok(b"ready".to_vec())
    }
}

karman_sdk::export!(Schema);
