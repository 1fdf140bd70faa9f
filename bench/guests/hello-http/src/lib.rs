//! `GET /hello/<name>` → `Hello, <name>!`: the same work as `components/hello`, as a
//! `wasi:http/incoming-handler`, so `wasmtime serve` and Karman are compared on equal terms.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct HelloHttp;

impl wasip2::exports::http::incoming_handler::Guest for HelloHttp {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let name = path
            .strip_prefix("/hello/")
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|name| !name.is_empty())
            .unwrap_or("world");
        let body_text = format!("Hello, {name}!");

        let headers = Fields::new();
        let _ = headers.set("content-type", &[b"text/plain; charset=utf-8".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = body.write().expect("the stream is taken once");
        let _ = stream.blocking_write_and_flush(body_text.as_bytes());
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(HelloHttp);
