//! Runs a named SQL query: imports `karman:runnable/sql`.

use karman_sdk::bindings::karman::runnable::sql;
use karman_sdk::{RunErr, Runnable};

struct SqlUser;

impl Runnable for SqlUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let rows = sql::query("select-one", &[])?;
        Ok(format!("{} rows", rows.rows.len()).into_bytes())
    }
}

karman_sdk::export!(SqlUser);
