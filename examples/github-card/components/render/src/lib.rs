//! `render`: the card, from the outputs of `profile` and `repos` (which ran concurrently).

use karman_sdk::{RunErr, Runnable, req, resp};

struct Render;

fn state_json(key: &str) -> Result<serde_json::Value, RunErr> {
    let text =
        req::state_text(key).ok_or_else(|| RunErr::new(500, format!("no `{key}` in the state")))?;
    serde_json::from_str(&text).map_err(|e| RunErr::new(500, format!("`{key}` is not JSON: {e}")))
}

impl Runnable for Render {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let mut card = state_json("profile")?;
        card["repos"] = state_json("repos")?;
        resp::set_header("content-type", "application/json")?;
        Ok(card.to_string().into_bytes())
    }
}

karman_sdk::export!(Render);
