//! `GET /notes`: the latest notes (at most 100), newest first.

use karman_sdk::sql::Value;
use karman_sdk::{RunErr, Runnable, resp, sql};

struct ListNotes;

fn text(value: &Value) -> serde_json::Value {
    match value {
        Value::Text(text) => text.clone().into(),
        Value::Int(int) => (*int).into(),
        _ => serde_json::Value::Null,
    }
}

impl Runnable for ListNotes {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let rows = sql::query("list-notes", &[])?;
        let notes: Vec<serde_json::Value> = rows
            .rows
            .iter()
            .map(|row| serde_json::json!({ "id": text(&row[0]), "body": text(&row[1]), "createdAt": text(&row[2]) }))
            .collect();
        resp::set_header("content-type", "application/json")?;
        Ok(serde_json::Value::from(notes).to_string().into_bytes())
    }
}

karman_sdk::export!(ListNotes);
