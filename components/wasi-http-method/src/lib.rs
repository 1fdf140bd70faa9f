//! Sends `?method= ?url=` (no body) through the standard `wasi:http/outgoing-handler` and
//! answers the response status. A refused request ends the step with 403 and the wasi:http
//! error code (`HttpRequestDenied`, …); any other error with 502.

use karman_sdk::{RunErr, Runnable, req};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

struct WasiHttpMethod;

impl Runnable for WasiHttpMethod {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let url = req::query_param("url").ok_or_else(|| RunErr::new(400, "missing ?url="))?;
        let method = match req::query_param("method").as_deref().unwrap_or("GET") {
            "GET" => Method::Get,
            "DELETE" => Method::Delete,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            other => Method::Other(other.to_string()),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| RunErr::new(400, "?url= is not absolute"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        let scheme = if scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let _ = request.set_method(&method);
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
        Ok(response.status().to_string().into_bytes())
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

karman_sdk::export!(WasiHttpMethod);
