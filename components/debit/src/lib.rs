//! Debits `?amount=` from `?account=` under the idempotency key `?key=`, in one transaction:
//!
//! 1. the account is read with a lock (`lock-account`), so debits of one account take turns;
//! 2. a debit already recorded under the key answers `duplicate` (and changes nothing); a short
//!    balance answers 402;
//! 3. the debit is recorded (`insert-debit`) and the balance lowered (`update-balance`);
//! 4. commit, and answer the new balance.
//!
//! `?trap=1` traps after recording the debit, and `?sleep=<ms>` sleeps there: the transaction
//! must then be rolled back by the host.

use karman_sdk::bindings::karman::runnable::sql::{self, Value};
use karman_sdk::{RunErr, Runnable, req};

struct Debit;

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Text(t) => t.parse().ok(),
        Value::Float(f) => Some(*f as i64),
        _ => None,
    }
}

impl Runnable for Debit {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let param = |name: &str| {
            req::query_param(name).ok_or_else(|| RunErr::new(400, format!("missing ?{name}=")))
        };
        let account: i64 = param("account")?
            .parse()
            .map_err(|_| RunErr::new(400, "bad account"))?;
        let amount: i64 = param("amount")?
            .parse()
            .map_err(|_| RunErr::new(400, "bad amount"))?;
        let key = param("key")?;

        let tx = sql::begin()?;
        let rows = tx.query("lock-account", &[Value::Int(account)])?;
        let balance = rows
            .rows
            .first()
            .and_then(|row| row.first())
            .and_then(int)
            .ok_or_else(|| RunErr::new(404, "no such account"))?;
        let existing = tx.query("find-debit", &[Value::Text(key.clone())])?;
        if !existing.rows.is_empty() {
            tx.rollback()?;
            return Ok(b"duplicate".to_vec());
        }
        if balance < amount {
            tx.rollback()?;
            return Err(RunErr::new(
                402,
                format!("balance {balance} is short of {amount}"),
            ));
        }
        tx.execute(
            "insert-debit",
            &[Value::Text(key), Value::Int(account), Value::Int(amount)],
        )?;
        if req::query_param("trap").is_some() {
            panic!("trapping with an open transaction");
        }
        if let Some(ms) = req::query_param("sleep").and_then(|ms| ms.parse().ok()) {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        tx.execute("update-balance", &[Value::Int(amount), Value::Int(account)])?;
        tx.commit()?;
        Ok((balance - amount).to_string().into_bytes())
    }
}

karman_sdk::export!(Debit);
