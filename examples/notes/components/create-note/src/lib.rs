//! `POST /notes` with the note as the body: stores it under the request id, answers 201 and
//! `{"id": …}`.

use karman_sdk::sql::Value;
use karman_sdk::{RunErr, Runnable, req, resp, sql};

struct CreateNote;

impl Runnable for CreateNote {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let body = String::from_utf8(input).map_err(|_| RunErr::new(400, "a note is text"))?;
        if body.trim().is_empty() || body.len() > 10_000 {
            return Err(RunErr::new(400, "a note has 1 to 10000 bytes"));
        }
        let id = req::id();
        sql::execute("insert-note", &[Value::Text(id.clone()), Value::Text(body)])?;
        resp::set_status(201)?;
        resp::set_header("content-type", "application/json")?;
        Ok(serde_json::json!({ "id": id }).to_string().into_bytes())
    }
}

karman_sdk::export!(CreateNote);
