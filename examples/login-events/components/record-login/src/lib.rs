//! `record-login`: reads a `user.login` event (`{"user", "email", "at"}`), counts the user's
//! logins in the cache and answers the event with the count.

use karman_sdk::{RunErr, Runnable, cache, req};

struct RecordLogin;

impl Runnable for RecordLogin {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let event: serde_json::Value = serde_json::from_slice(&input)
            .map_err(|e| RunErr::new(400, format!("the event is not JSON: {e}")))?;
        let user = event["user"]
            .as_str()
            .filter(|u| !u.is_empty() && u.len() <= 64)
            .ok_or_else(|| RunErr::new(400, "the event has no `user`"))?;
        let key = format!("count:{user}");
        let count = cache::get(&key)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        cache::set(&key, count.to_string().as_bytes(), None)?;
        if let Some(at) = event["at"].as_str() {
            cache::set(&format!("last:{user}"), at.as_bytes(), None)?;
        }
        let mut recorded = event.clone();
        recorded["logins"] = count.into();
        recorded["source"] = req::url().into();
        Ok(recorded.to_string().into_bytes())
    }
}

karman_sdk::export!(RecordLogin);
