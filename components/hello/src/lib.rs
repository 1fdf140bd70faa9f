//! Greets `:name`: `GET /hello/ada` → `Hello, ada!`.

use karman_sdk::{RunErr, Runnable, req};

struct Hello;

impl Runnable for Hello {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_else(|| "world".into());
        Ok(format!("Hello, {name}!").into_bytes())
    }
}

karman_sdk::export!(Hello);
