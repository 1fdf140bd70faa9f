//! The request as the sequencer reads it and the answer it writes, on `wasi:http/types`.

use crate::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::context::ResponseParts;

/// What the sequencer reads of a request before its body.
pub(crate) struct RequestHead {
    pub(crate) method: String,
    /// The path and query.
    pub(crate) url: String,
    /// (name, value), names in lower case, in arrival order.
    headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    pub(crate) fn of(request: &IncomingRequest) -> Self {
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Head => "HEAD".to_string(),
            Method::Post => "POST".to_string(),
            Method::Put => "PUT".to_string(),
            Method::Delete => "DELETE".to_string(),
            Method::Connect => "CONNECT".to_string(),
            Method::Options => "OPTIONS".to_string(),
            Method::Trace => "TRACE".to_string(),
            Method::Patch => "PATCH".to_string(),
            Method::Other(other) => other,
        };
        // A `wasi:http` host keeps `host` (it is the authority) and the hop-by-hop headers
        // from the component; `host` is given back, first, where clients send it.
        let headers = request
            .authority()
            .map(|authority| ("host".to_string(), authority.into_bytes()))
            .into_iter()
            .chain(
                request
                    .headers()
                    .entries()
                    .into_iter()
                    .map(|(name, value)| (name.to_ascii_lowercase(), value)),
            )
            .collect();
        Self {
            method,
            url: request.path_with_query().unwrap_or_else(|| "/".to_string()),
            headers,
        }
    }

    pub(crate) fn path(&self) -> &str {
        self.url.split_once('?').map_or(&self.url, |(path, _)| path)
    }

    /// The first value of header `name` (lower case).
    pub(crate) fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The headers as the steps see them: values as text (bytes that are not UTF-8 replaced).
    pub(crate) fn text_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }
}

/// Why a request body was not read whole.
pub(crate) enum BodyError {
    /// Larger than the cap (declared or sent).
    TooLarge,
    /// The stream failed before its end.
    Unreadable,
}

/// The whole body, within `max` bytes.
pub(crate) fn read_body(
    head: &RequestHead,
    request: IncomingRequest,
    max: u64,
) -> Result<Vec<u8>, BodyError> {
    let declared = head
        .header_bytes("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(BodyError::TooLarge);
    }
    let body = request.consume().map_err(|()| BodyError::Unreadable)?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|()| BodyError::Unreadable)?;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() as u64 > max {
                        return Err(BodyError::TooLarge);
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(BodyError::Unreadable),
            }
        }
    }
    Ok(bytes)
}

/// An answer: status, headers in order, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// Karman's JSON error.
    pub(crate) fn error(status: u16, code: u16, message: &str, request_id: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: karman_protocol::error_body(code, message, request_id).into_bytes(),
        }
    }

    /// A run that ended well: what the steps set through `resp`, and the body (with a
    /// content type guessed when the steps set none).
    pub(crate) fn reply(parts: ResponseParts, body: Vec<u8>) -> Self {
        let mut headers: Vec<(String, Vec<u8>)> = parts
            .headers
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect();
        if !headers.iter().any(|(n, _)| n == "content-type") {
            let guessed = karman_protocol::default_content_type(&body);
            headers.push(("content-type".into(), guessed.as_bytes().to_vec()));
        }
        Self {
            status: parts.status.unwrap_or(200),
            headers,
            body,
        }
    }

    /// Sends the answer (to a `HEAD` request when `to_head`), with its request id and, when
    /// Karman declares it, its length.
    pub(crate) fn send(mut self, out: ResponseOutparam, request_id: &str, to_head: bool) {
        // In Karman's order: the length, then the request id.
        let length = self.body.len() as u64;
        if karman_protocol::declares_length(self.status, to_head, length) {
            self.headers
                .push(("content-length".into(), length.to_string().into_bytes()));
        }
        self.headers
            .push(("x-request-id".into(), request_id.as_bytes().to_vec()));
        let fields = Fields::from_list(&self.headers).expect("the answer's headers are valid");
        let response = OutgoingResponse::new(fields);
        response
            .set_status_code(self.status)
            .expect("the status is valid");
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        {
            let stream = body.write().expect("the body is written once");
            for chunk in self.body.chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    return;
                }
            }
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
