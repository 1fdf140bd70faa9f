//! Holds SQL transactions in a global, across runs of a warm instance:
//!
//! - `?op=begin&n=<k>`: begins `k` transactions and keeps them; answers how many it holds;
//! - `?op=leave&sql=<sql>`: begins a transaction, runs `sql` in it and keeps it open;
//! - `?op=commit`: commits every transaction it holds; answers how many.
//!
//! A failure is a run error with the capability's code (invalid → 400, …).

use std::cell::RefCell;

use karman_sdk::bindings::karman::runnable::sql::{self, Transaction};
use karman_sdk::{RunErr, Runnable, req};

thread_local! {
    static HELD: RefCell<Vec<Transaction>> = const { RefCell::new(Vec::new()) };
}

struct SqlTxUser;

impl Runnable for SqlTxUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let out = match req::query_param("op").as_deref() {
            Some("begin") => {
                let n: usize = req::query_param("n")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| RunErr::new(400, "missing ?n="))?;
                for _ in 0..n {
                    let tx = sql::begin()?;
                    HELD.with(|held| held.borrow_mut().push(tx));
                }
                HELD.with(|held| held.borrow().len())
            }
            Some("leave") => {
                let statement =
                    req::query_param("sql").ok_or_else(|| RunErr::new(400, "missing ?sql="))?;
                let tx = sql::begin()?;
                tx.execute_raw(&statement, &[])?;
                HELD.with(|held| held.borrow_mut().push(tx));
                1
            }
            Some("commit") => {
                let held = HELD.with(|held| std::mem::take(&mut *held.borrow_mut()));
                let count = held.len();
                for tx in held {
                    tx.commit()?;
                }
                count
            }
            _ => return Err(RunErr::new(400, "?op= must be begin, leave or commit")),
        };
        Ok(out.to_string().into_bytes())
    }
}

karman_sdk::export!(SqlTxUser);
