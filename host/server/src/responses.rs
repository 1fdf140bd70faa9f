//! The responses the server makes itself: JSON error bodies (`{"code", "message",
//! "requestId"}`), 405 with `Allow`, 413 for bodies over their cap, 503 with `Retry-After`, and
//! reading a request body within its cap and time (408).

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use karman_runtime::{Failure, HttpBody};

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> HttpBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Reads a whole request body, up to `max` bytes within `timeout`: 413 beyond the size, 408
/// (closing the connection) beyond the time, 400 when it cannot be read.
pub(crate) async fn read_whole_body<B>(
    headers: &http::HeaderMap,
    body: B,
    max: u64,
    timeout: Duration,
    request_id: &str,
) -> Result<Bytes, Response<HttpBody>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if declared_length(headers).is_some_and(|length| length > max) {
        return Err(too_large(request_id, max));
    }
    if hyper::body::Body::is_end_stream(&body) {
        // No body (a GET, or `content-length: 0`): nothing to read or time.
        return Ok(Bytes::new());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let Ok(read) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        let mut response = error(
            StatusCode::REQUEST_TIMEOUT,
            408,
            &format!(
                "the request body was not received within {}",
                humantime::format_duration(timeout)
            ),
            request_id,
        );
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return Err(response);
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(request_id, max))
        }
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            400,
            karman_protocol::BODY_UNREADABLE,
            request_id,
        )),
    }
}

/// The `content-length` the client declared.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// 413: the body is larger than `max` bytes.
pub(crate) fn too_large(request_id: &str, max: u64) -> Response<HttpBody> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        &karman_protocol::body_too_large(max),
        request_id,
    )
}

/// 405 with the methods the path has, in `allow`.
pub(crate) fn method_not_allowed(allow: &str, request_id: &str) -> Response<HttpBody> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        405,
        &karman_protocol::method_not_allowed(allow),
        request_id,
    );
    if let Ok(allow) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, allow);
    }
    response
}

/// The content type of a reply whose steps set none: text when it is UTF-8, else bytes.
pub(crate) fn default_content_type(body: &[u8]) -> HeaderValue {
    HeaderValue::from_static(karman_protocol::default_content_type(body))
}

/// The response to a run that failed: its status (503 with `Retry-After`) and a JSON body.
pub(crate) fn failure_response(failure: &Failure, request_id: &str) -> Response<HttpBody> {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(status, failure.code, &failure.message, request_id);
    if let Some(seconds) = karman_protocol::failure_retry_after(status.as_u16()) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(seconds));
    }
    response
}

/// A JSON error body: `{"code": …, "message": …, "requestId": …}`.
pub(crate) fn error(
    status: StatusCode,
    code: u16,
    message: &str,
    request_id: &str,
) -> Response<HttpBody> {
    json(
        status,
        karman_protocol::error_body(code, message, request_id),
    )
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: String) -> Response<HttpBody> {
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
