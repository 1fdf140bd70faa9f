//! What `resp` accepts, and the bodies Karman answers with.

use http::{HeaderName, HeaderValue};

/// Response headers the host owns: a guest may not set them.
pub const HOST_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "x-request-id",
];

/// Most headers a run's response may hold (set through `resp.set-header` by all its steps).
pub const MAX_RESPONSE_HEADERS: usize = 100;
/// Most bytes the names and values of a run's response headers may add up to.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 << 10;

/// Why `resp` refused a header or a status: the `cap-error` case and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    Denied(String),
}

/// `resp.set-header`'s name and value, checked: a valid HTTP name not owned by the host, a
/// valid value.
pub fn response_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Refusal> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Refusal::Invalid(format!("`{name}` is not a valid header name")))?;
    if HOST_HEADERS.contains(&name.as_str()) {
        return Err(Refusal::Denied(format!(
            "resp: the `{name}` header is set by the host"
        )));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        Refusal::Invalid(format!("the value of `{name}` is not a valid header value"))
    })?;
    Ok((name, value))
}

/// `resp.set-status`'s code, checked.
pub fn response_status(code: u16) -> Result<u16, Refusal> {
    if (100..=599).contains(&code) {
        Ok(code)
    } else {
        Err(Refusal::Invalid(format!(
            "{code} is not an HTTP status (100..=599)"
        )))
    }
}

/// Whether `name: value` fits beside `headers` (which no longer hold `name`): `Err` with the
/// message of the trap that ends the run when it would pass [`MAX_RESPONSE_HEADERS`] or
/// [`MAX_RESPONSE_HEADER_BYTES`].
pub fn fits_response_headers<'h>(
    headers: impl ExactSizeIterator<Item = (&'h str, &'h [u8])>,
    name: &str,
    value: &[u8],
) -> Result<(), String> {
    if headers.len() >= MAX_RESPONSE_HEADERS {
        return Err(format!(
            "resp: a response may hold at most {MAX_RESPONSE_HEADERS} headers; \
             `{name}` would be one more"
        ));
    }
    let size: usize =
        headers.map(|(n, v)| n.len() + v.len()).sum::<usize>() + name.len() + value.len();
    if size > MAX_RESPONSE_HEADER_BYTES {
        return Err(format!(
            "resp: the response headers may add up to at most {} KiB; `{name}` would \
             take them to {size} bytes",
            MAX_RESPONSE_HEADER_BYTES >> 10
        ));
    }
    Ok(())
}

/// Why a request whose path no handler has is answered 404.
pub const NO_HANDLER: &str = "no handler for this path";
/// Why a request whose body could not be read is answered 400.
pub const BODY_UNREADABLE: &str = "the request body could not be read";

/// Why a request whose path is routed for other methods only (`allow`) is answered 405.
pub fn method_not_allowed(allow: &str) -> String {
    format!("this path is routed for {allow}")
}

/// Why a request whose body is larger than `max` bytes is answered 413.
pub fn body_too_large(max: u64) -> String {
    format!("the request body is larger than {max} bytes")
}

/// The JSON body of an error answer: `{"code": …, "message": …, "requestId": …}`.
pub fn error_body(code: u16, message: &str, request_id: &str) -> String {
    serde_json::json!({ "code": code, "message": message, "requestId": request_id }).to_string()
}

/// Whether an answer with `status` and a whole body of `length` bytes declares its length
/// (`content-length`, before the request id): not an answer that has no body (1xx, 204, 304),
/// nor an empty answer to `HEAD` (its length would be the `GET`'s).
pub fn declares_length(status: u16, head: bool, length: u64) -> bool {
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    !bodiless && (length > 0 || !head)
}

/// The content type of a reply whose steps set none: text when it is UTF-8, else bytes.
pub fn default_content_type(body: &[u8]) -> &'static str {
    if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}
