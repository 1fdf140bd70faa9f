//! Fails with `?code=` (default 500) and `?message=` (default "failed").

use karman_sdk::{RunErr, Runnable, req};

struct Fail;

impl Runnable for Fail {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let code = req::query_param("code")
            .and_then(|c| c.parse().ok())
            .unwrap_or(500);
        let message = req::query_param("message").unwrap_or_else(|| "failed".into());
        Err(RunErr::new(code, message))
    }
}

karman_sdk::export!(Fail);
