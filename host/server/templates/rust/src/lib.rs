//! A Karman Runnable: `run` gets the request body (or message payload) and returns this step's
//! output. Build it with `karman build` (or `cargo build --release --target wasm32-wasip2`).

use karman_sdk::{RunErr, Runnable, req};

struct Component;

impl Runnable for Component {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_else(|| "world".to_string());
        if input.len() > 1024 {
            return Err(RunErr::new(413, "the input is too large"));
        }
        Ok(format!("Hello, {name}!").into_bytes())
    }
}

karman_sdk::export!(Component);
