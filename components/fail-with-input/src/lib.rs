//! Logs its input (through the log capability), then fails with `?code=` (default 500) and
//! its input as the message: guest-controlled text that reaches logs, dead-letter headers and
//! replies as it is, control characters included.

use karman_sdk::{RunErr, Runnable, log, req};

struct FailWithInput;

impl Runnable for FailWithInput {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let text = String::from_utf8_lossy(&input).into_owned();
        log::info(&text);
        let code = req::query_param("code")
            .and_then(|c| c.parse().ok())
            .unwrap_or(500);
        Err(RunErr::new(code, text))
    }
}

karman_sdk::export!(FailWithInput);
