//! Sets the response: `?status=201&header=x-custom&value=yes` (and refuses nothing itself:
//! host-owned headers come back as an error it reports with code 400).

use karman_sdk::{RunErr, Runnable, req, resp};

struct SetResponse;

impl Runnable for SetResponse {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        if let Some(status) = req::query_param("status") {
            let code: u16 = status
                .parse()
                .map_err(|_| RunErr::new(400, "status must be a number"))?;
            resp::set_status(code)?;
        }
        if let Some(name) = req::query_param("header") {
            let value = req::query_param("value").unwrap_or_default();
            resp::set_header(&name, &value)?;
        }
        Ok(b"response set".to_vec())
    }
}

karman_sdk::export!(SetResponse);
