//! `karman:runnable/req` and `karman:runnable/resp`: the request that started the run, the
//! state as this step sees it, and the response being built.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use http::{HeaderName, HeaderValue};

use crate::bindings::types::CapError;
use crate::bindings::{req, resp};
use crate::capabilities::CapFailure;
use crate::request::{Request, SharedResponse, State, StateView};

/// Response headers the host owns: a guest may not set them.
const HOST_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "x-request-id",
];

/// Most headers a run's response may hold (set through `resp.set-header` by all its steps).
pub const MAX_RESPONSE_HEADERS: usize = 100;
/// Most bytes the names and values of a run's response headers may add up to.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 << 10;

/// The trap raised when `resp.set-header` would take the response past
/// [`MAX_RESPONSE_HEADERS`] or [`MAX_RESPONSE_HEADER_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ResponseHeadersExceeded(pub(crate) String);

/// The request capability of one step.
pub(crate) struct RequestCtx {
    /// The request (or message) that started the run.
    pub(crate) request: Arc<Request>,
    /// The state as this step sees it.
    pub(crate) state: StateView,
    /// The response every step of the run writes to.
    pub(crate) response: SharedResponse,
}

/// What an idle warm instance holds instead of a request: nothing of any request.
static IDLE_REQUEST: LazyLock<Arc<Request>> = LazyLock::new(Arc::default);
/// The state of no request.
static IDLE_STATE: LazyLock<Arc<State>> = LazyLock::new(Arc::default);
/// The response of no request.
static IDLE_RESPONSE: LazyLock<SharedResponse> = LazyLock::new(SharedResponse::default);

impl RequestCtx {
    /// The context of an instance between requests. Holding it instead of the last request's
    /// context releases that request (and its state, which the run then updates in place).
    pub(crate) fn idle() -> Self {
        Self {
            request: IDLE_REQUEST.clone(),
            state: StateView {
                state: IDLE_STATE.clone(),
                with: None,
            },
            response: IDLE_RESPONSE.clone(),
        }
    }
}

impl req::Host for RequestCtx {
    fn method(&mut self) -> String {
        self.request.method.clone()
    }

    fn url(&mut self) -> String {
        self.request.url.clone()
    }

    fn id(&mut self) -> String {
        self.request.id.clone()
    }

    fn body(&mut self) -> Vec<u8> {
        self.request.body.to_vec()
    }

    fn header(&mut self, name: String) -> Option<String> {
        self.request.header(&name)
    }

    fn headers(&mut self) -> Vec<(String, String)> {
        self.request.headers.clone()
    }

    fn url_param(&mut self, name: String) -> Option<String> {
        self.request.url_param(&name)
    }

    fn query_param(&mut self, name: String) -> Option<String> {
        self.request.query_param(&name)
    }

    fn state(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.get(&key).map(|value| value.to_vec())
    }

    fn state_keys(&mut self) -> Vec<String> {
        self.state.keys()
    }

    fn body_field(&mut self, name: String) -> Option<String> {
        body_field(&self.request.body, &name)
    }
}

/// A top-level field of a JSON-object `body`: a string's value, any other value as compact JSON;
/// `None` when the body is not a JSON object or lacks the field (the last of two).
fn body_field(body: &[u8], name: &str) -> Option<String> {
    let mut fields: HashMap<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    match fields.remove(name)? {
        serde_json::Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

/// Traps (the step fails with 500, whatever the guest does with errors) when adding
/// `name: value` to `headers` would pass the count or size cap.
fn check_header_caps(
    headers: &[(HeaderName, HeaderValue)],
    name: &HeaderName,
    value: &HeaderValue,
) -> Result<(), CapFailure> {
    if headers.len() >= MAX_RESPONSE_HEADERS {
        return Err(CapFailure::Trap(
            ResponseHeadersExceeded(format!(
                "resp: a response may hold at most {MAX_RESPONSE_HEADERS} headers; \
                 `{name}` would be one more"
            ))
            .into(),
        ));
    }
    let size: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum::<usize>()
        + name.as_str().len()
        + value.len();
    if size > MAX_RESPONSE_HEADER_BYTES {
        return Err(CapFailure::Trap(
            ResponseHeadersExceeded(format!(
                "resp: the response headers may add up to at most {} KiB; `{name}` would \
                 take them to {size} bytes",
                MAX_RESPONSE_HEADER_BYTES >> 10
            ))
            .into(),
        ));
    }
    Ok(())
}

impl resp::Host for RequestCtx {
    fn set_header(&mut self, name: String, value: String) -> Result<(), CapFailure> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CapError::Invalid(format!("`{name}` is not a valid header name")))?;
        if HOST_HEADERS.contains(&name.as_str()) {
            return Err(
                CapError::Denied(format!("resp: the `{name}` header is set by the host")).into(),
            );
        }
        let value = HeaderValue::from_str(&value).map_err(|_| {
            CapError::Invalid(format!("the value of `{name}` is not a valid header value"))
        })?;
        let mut response = self.response.lock().unwrap_or_else(|e| e.into_inner());
        response.headers.retain(|(existing, _)| *existing != name);
        check_header_caps(&response.headers, &name, &value)?;
        response.headers.push((name, value));
        Ok(())
    }

    fn set_status(&mut self, code: u16) -> Result<(), CapFailure> {
        if !(100..=599).contains(&code) {
            return Err(
                CapError::Invalid(format!("{code} is not an HTTP status (100..=599)")).into(),
            );
        }
        self.response
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status = Some(code);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::body_field;

    #[test]
    fn body_fields_are_strings_unquoted_and_other_values_as_written() {
        let body = br#"{"name": "Ada \"L\"", "n": 42, "x": 1.50, "ok": true, "none": null,
            "obj": {"a": [1, 2]}, "dup": 1, "dup": "two"}"#;
        assert_eq!(body_field(body, "name").as_deref(), Some("Ada \"L\""));
        assert_eq!(body_field(body, "n").as_deref(), Some("42"));
        assert_eq!(body_field(body, "x").as_deref(), Some("1.5"));
        assert_eq!(body_field(body, "ok").as_deref(), Some("true"));
        assert_eq!(body_field(body, "none").as_deref(), Some("null"));
        assert_eq!(body_field(body, "obj").as_deref(), Some(r#"{"a":[1,2]}"#));
        assert_eq!(body_field(body, "dup").as_deref(), Some("two"));
        assert_eq!(body_field(body, "absent"), None);
        assert_eq!(body_field(b"[1, 2]", "0"), None);
        assert_eq!(body_field(b"not json", "a"), None);
        assert_eq!(body_field(b"", "a"), None);
    }
}
