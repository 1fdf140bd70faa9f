//! Sends `GET ?url=` through the `http` capability and answers `<status> <body>`; a refused or
//! failed request is a run error (denied → 403, …).

use karman_sdk::bindings::karman::runnable::http::{self, Request};
use karman_sdk::{RunErr, Runnable, req};

struct HttpUser;

impl Runnable for HttpUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let url = req::query_param("url").ok_or_else(|| RunErr::new(400, "missing ?url="))?;
        let request = Request {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        };
        let response = http::send(&request)?;
        let mut out = format!("{} ", response.status).into_bytes();
        out.extend_from_slice(&response.body);
        Ok(out)
    }
}

karman_sdk::export!(HttpUser);
