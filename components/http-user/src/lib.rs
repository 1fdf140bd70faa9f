//! Sends a request through the `http` capability and answers everything it can observe of the
//! response: `<status>\n<name>: <value>\n…\n\n<body>`. A refused or failed request is a run
//! error (denied → 403, …).
//!
//! Query parameters: `url` (required), `method` (default `GET`), `auth` (an `Authorization`
//! header the guest sets itself), `timeout_ms`; the request body is sent as the body.

use karman_sdk::bindings::karman::runnable::http::{self, Request};
use karman_sdk::{RunErr, Runnable, req};

struct HttpUser;

impl Runnable for HttpUser {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let url = req::query_param("url").ok_or_else(|| RunErr::new(400, "missing ?url="))?;
        let mut headers = Vec::new();
        if let Some(auth) = req::query_param("auth") {
            headers.push(("authorization".to_string(), auth));
        }
        let request = Request {
            method: req::query_param("method").unwrap_or_else(|| "GET".into()),
            url,
            headers,
            body: input,
            timeout_ms: req::query_param("timeout_ms").and_then(|t| t.parse().ok()),
        };
        let response = http::send(&request)?;
        let mut out = format!("{}\n", response.status);
        for (name, value) in &response.headers {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&response.body);
        Ok(out)
    }
}

karman_sdk::export!(HttpUser);
