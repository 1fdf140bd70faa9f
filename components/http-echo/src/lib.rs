//! A `wasi:http/incoming-handler` with nothing Karman-specific: what `wasmtime serve` runs.
//!
//! | request | answer |
//! |---------|--------|
//! | `GET /hello` | 200 `hello from wasi:http`, header `x-served-by: http-echo` |
//! | `POST /echo` | 200, the request body, with its `content-type` |
//! | `GET /inspect` | 200, `method`, `path`, `scheme`, `authority` and the sorted headers, a line each (but `x-request-id`, which `karman serve` sets and `wasmtime serve` does not) |
//! | `GET /stream?chunks=N` | 200, N lines `chunk i` written one by one, then the trailer `x-chunks: N` (announced in `trailer`) |
//! | `GET /status/<code>` | that status, empty body |
//! | `GET /sleep?ms=N` | sleeps, then 200 `slept` |
//! | `GET /trap` | panics before answering |
//! | `GET /error` | answers with the error code `internal-error` |
//! | anything else | 404 `not found: <path>` |

use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
    Scheme,
};

struct Echo;

fn query(path_with_query: &str, name: &str) -> Option<String> {
    let (_, query) = path_with_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

fn read_body(request: IncomingRequest) -> Vec<u8> {
    let body = request.consume().expect("the body is consumed once");
    let mut bytes = Vec::new();
    {
        let stream = body.stream().expect("the body has a stream");
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}

/// Sends `status`, `headers` and the body `chunks` (flushed one by one), then `trailers`.
fn respond(
    out: ResponseOutparam,
    status: u16,
    headers: &[(&str, &[u8])],
    chunks: &[Vec<u8>],
    trailers: Option<Fields>,
) {
    let fields = Fields::new();
    for (name, value) in headers {
        fields.append(name, value).expect("a valid header");
    }
    let response = OutgoingResponse::new(fields);
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let stream = body.write().expect("the body stream is taken once");
        for chunk in chunks {
            for piece in chunk.chunks(4096) {
                stream
                    .blocking_write_and_flush(piece)
                    .expect("the client reads");
            }
        }
    }
    OutgoingBody::finish(body, trailers).expect("the body finishes");
}

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let route = path.split('?').next().unwrap_or_default().to_string();
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Head => "HEAD".to_string(),
            Method::Post => "POST".to_string(),
            Method::Put => "PUT".to_string(),
            Method::Delete => "DELETE".to_string(),
            Method::Patch => "PATCH".to_string(),
            Method::Options => "OPTIONS".to_string(),
            Method::Connect => "CONNECT".to_string(),
            Method::Trace => "TRACE".to_string(),
            Method::Other(other) => other,
        };
        match (method.as_str(), route.as_str()) {
            ("GET", "/hello") => respond(
                out,
                200,
                &[
                    ("x-served-by", b"http-echo"),
                    ("content-type", b"text/plain"),
                ],
                &[b"hello from wasi:http".to_vec()],
                None,
            ),
            ("POST", "/echo") => {
                let content_type = request
                    .headers()
                    .get("content-type")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| b"application/octet-stream".to_vec());
                let body = read_body(request);
                respond(out, 200, &[("content-type", &content_type)], &[body], None);
            }
            ("GET", "/inspect") => {
                let scheme = match request.scheme() {
                    Some(Scheme::Http) => "http".to_string(),
                    Some(Scheme::Https) => "https".to_string(),
                    Some(Scheme::Other(other)) => other,
                    None => "none".to_string(),
                };
                let mut lines = vec![
                    format!("method: {method}"),
                    format!("path: {path}"),
                    format!("scheme: {scheme}"),
                    format!("authority: {}", request.authority().unwrap_or_default()),
                ];
                let mut headers: Vec<String> = request
                    .headers()
                    .entries()
                    .into_iter()
                    .filter(|(name, _)| name != "x-request-id")
                    .map(|(name, value)| {
                        format!("header {name}: {}", String::from_utf8_lossy(&value))
                    })
                    .collect();
                headers.sort();
                lines.extend(headers);
                respond(out, 200, &[], &[lines.join("\n").into_bytes()], None);
            }
            ("GET", "/stream") => {
                let count: usize = query(&path, "chunks")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(3);
                let chunks: Vec<Vec<u8>> = (0..count)
                    .map(|i| format!("chunk {i}\n").into_bytes())
                    .collect();
                let trailers = Fields::new();
                trailers
                    .append("x-chunks", count.to_string().as_bytes())
                    .expect("a valid trailer");
                // HTTP/1.1 sends only the trailers the head announces.
                respond(
                    out,
                    200,
                    &[("trailer", b"x-chunks")],
                    &chunks,
                    Some(trailers),
                );
            }
            ("GET", "/sleep") => {
                let ms: u64 = query(&path, "ms")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(100);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                respond(out, 200, &[], &[b"slept".to_vec()], None);
            }
            ("GET", "/trap") => panic!("asked to trap"),
            ("GET", "/error") => ResponseOutparam::set(out, Err(ErrorCode::InternalError(None))),
            ("GET", status) if status.starts_with("/status/") => {
                let code = status["/status/".len()..].parse().unwrap_or(500);
                respond(out, code, &[], &[], None);
            }
            _ => respond(
                out,
                404,
                &[],
                &[format!("not found: {route}").into_bytes()],
                None,
            ),
        }
    }
}

wasip2::http::proxy::export!(Echo);
