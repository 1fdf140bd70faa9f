//! Floods the host: `?headers=N&size=S` sets N response headers `x-flood-<i>` with values of S
//! bytes (default 8); `?output=N` returns N bytes (default: `flooded`).

use karman_sdk::{RunErr, Runnable, req, resp};

struct Flood;

fn number(name: &str) -> Result<Option<usize>, RunErr> {
    req::query_param(name)
        .map(|text| {
            text.parse()
                .map_err(|_| RunErr::new(400, format!("{name} must be a number")))
        })
        .transpose()
}

impl Runnable for Flood {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        if let Some(count) = number("headers")? {
            let value = "a".repeat(number("size")?.unwrap_or(8));
            for i in 0..count {
                resp::set_header(&format!("x-flood-{i}"), &value)?;
            }
        }
        match number("output")? {
            Some(size) => Ok(vec![b'x'; size]),
            None => Ok(b"flooded".to_vec()),
        }
    }
}

karman_sdk::export!(Flood);
