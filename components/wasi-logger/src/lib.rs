//! A `wasi:http` proxy that logs through the standard `wasi:logging`: `?n=` lines (1)
//! `line <i>` at `?level=` (`trace`, `debug`, `info`, `warn`, `error`, `critical`; `info`)
//! with the context `?context=` (empty), then answers `logged <n>`.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "wasi:logging/imports" });
}

use bindings::wasi::logging::logging::{Level, log};

struct Logger;

fn query(path_with_query: &str, name: &str) -> Option<String> {
    let (_, query) = path_with_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

impl wasip2::exports::http::incoming_handler::Guest for Logger {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let count: u32 = query(&path, "n").and_then(|n| n.parse().ok()).unwrap_or(1);
        let level = match query(&path, "level").as_deref() {
            Some("trace") => Level::Trace,
            Some("debug") => Level::Debug,
            Some("warn") => Level::Warn,
            Some("error") => Level::Error,
            Some("critical") => Level::Critical,
            _ => Level::Info,
        };
        let context = query(&path, "context").unwrap_or_default();
        for i in 0..count {
            log(level, &context, &format!("line {i}"));
        }
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        {
            let stream = body.write().expect("the body stream is taken once");
            stream
                .blocking_write_and_flush(format!("logged {count}").as_bytes())
                .expect("the client reads");
        }
        OutgoingBody::finish(body, None).expect("the body finishes");
    }
}

wasip2::http::proxy::export!(Logger);
