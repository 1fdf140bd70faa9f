//! `Hello, <name>!` for `GET /hello/:name`.

use karman_sdk::{RunErr, Runnable, req};

struct Greet;

impl Runnable for Greet {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_else(|| "world".into());
        if name.len() > 64 {
            return Err(RunErr::new(400, "that name is too long"));
        }
        Ok(format!("Hello, {name}!").into_bytes())
    }
}

karman_sdk::export!(Greet);
