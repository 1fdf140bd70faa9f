//! `DELETE /notes/:id`: removes the note and its cached copy; 404 when there was none.

use karman_sdk::sql::Value;
use karman_sdk::{RunErr, Runnable, cache, req, sql};

struct DeleteNote;

impl Runnable for DeleteNote {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let id = req::url_param("id").ok_or_else(|| RunErr::new(400, "missing :id"))?;
        let deleted = sql::execute("delete-note", &[Value::Text(id.clone())])?;
        cache::delete(&id)?;
        if deleted == 0 {
            return Err(RunErr::new(404, format!("no note `{id}`")));
        }
        Ok(b"deleted".to_vec())
    }
}

karman_sdk::export!(DeleteNote);
