//! `GET /notes/:id`: from the cache when it is there (`x-cache: hit`), else from the database,
//! then cached for a minute (`x-cache: miss`).

use karman_sdk::sql::Value;
use karman_sdk::{RunErr, Runnable, cache, req, resp, sql};

const CACHE_TTL_MS: u64 = 60_000;

struct GetNote;

fn text(value: &Value) -> serde_json::Value {
    match value {
        Value::Text(text) => text.clone().into(),
        Value::Int(int) => (*int).into(),
        _ => serde_json::Value::Null,
    }
}

impl Runnable for GetNote {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let id = req::url_param("id").ok_or_else(|| RunErr::new(400, "missing :id"))?;
        resp::set_header("content-type", "application/json")?;
        if let Some(cached) = cache::get(&id)? {
            resp::set_header("x-cache", "hit")?;
            return Ok(cached);
        }
        let rows = sql::query("select-note", &[Value::Text(id.clone())])?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| RunErr::new(404, format!("no note `{id}`")))?;
        let note = serde_json::json!({ "id": text(&row[0]), "body": text(&row[1]), "createdAt": text(&row[2]) });
        let bytes = note.to_string().into_bytes();
        cache::set(&id, &bytes, Some(CACHE_TTL_MS))?;
        resp::set_header("x-cache", "miss")?;
        Ok(bytes)
    }
}

karman_sdk::export!(GetNote);
