//! Sends `GET ?url=` through the standard `wasi:http/outgoing-handler` — what a guest
//! language's own HTTP client does — and answers `<status>\n<name>: <value>…\n\n<body>` like
//! `http-user`. `?auth=` sets its own `Authorization` header. A refused request ends the step
//! with 403 and the wasi:http error code (`HttpRequestDenied`, `DestinationIpProhibited`); any
//! other error with 502.

use karman_sdk::{RunErr, Runnable, req};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

struct WasiHttpUser;

impl Runnable for WasiHttpUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let url = req::query_param("url").ok_or_else(|| RunErr::new(400, "missing ?url="))?;
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| RunErr::new(400, "?url= is not absolute"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };

        let headers = Fields::new();
        if let Some(auth) = req::query_param("auth") {
            headers
                .append("authorization", auth.as_bytes())
                .map_err(|e| RunErr::new(400, format!("{e:?}")))?;
        }
        let request = OutgoingRequest::new(headers);
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        let _ = request.set_method(&Method::Get);
        let _ = request.set_scheme(Some(&scheme));
        let _ = request.set_authority(Some(authority));
        let _ = request.set_path_with_query(Some(path));
        let body = request.body().expect("the body is taken once");
        OutgoingBody::finish(body, None).map_err(failed)?;

        let pending = outgoing_handler::handle(request, None).map_err(failed)?;
        pending.subscribe().block();
        let response = pending
            .get()
            .expect("ready after block")
            .expect("taken once")
            .map_err(failed)?;

        let mut out = format!("{}\n", response.status());
        for (name, value) in response.headers().entries() {
            out.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(&value)));
        }
        out.push('\n');
        let mut out = out.into_bytes();
        let body = response.consume().expect("the body is taken once");
        let stream = body.stream().expect("the stream is taken once");
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(RunErr::new(502, e.to_debug_string()));
                }
            }
        }
        Ok(out)
    }
}

fn failed(code: ErrorCode) -> RunErr {
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            RunErr::new(403, format!("{code:?}"))
        }
        other => RunErr::new(502, format!("{other:?}")),
    }
}

karman_sdk::export!(WasiHttpUser);
