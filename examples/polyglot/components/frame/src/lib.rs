//! Step 3 (Rust): what the Python and JavaScript steps produced, as one JSON answer.

use karman_sdk::{RunErr, Runnable, req, resp};

struct Frame;

impl Runnable for Frame {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let step = |key: &str| {
            req::state_text(key).ok_or_else(|| RunErr::new(500, format!("no `{key}` in the state")))
        };
        let answer = serde_json::json!({
            "greeting": step("greet")?,
            "shouted": step("shout")?,
            "languages": { "greet": "python", "shout": "javascript", "frame": "rust" },
        });
        resp::set_header("content-type", "application/json")?;
        Ok(answer.to_string().into_bytes())
    }
}

karman_sdk::export!(Frame);
