//! `karman:runnable/req` and `karman:runnable/resp`: the request that started the run, the
//! state as this step sees it, and the response being built.

use std::sync::{Arc, LazyLock};

use http::{HeaderName, HeaderValue};
use karman_protocol::Refusal;

use crate::bindings::types::CapError;
use crate::bindings::{req, resp};
use crate::capabilities::CapFailure;
use crate::request::{Request, SharedResponse, State, StateView};

pub use karman_protocol::{MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS};

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
        karman_protocol::body_field(&self.request.body, &name)
    }
}

/// Traps (the step fails with 500, whatever the guest does with errors) when adding
/// `name: value` to `headers` would pass the count or size cap.
fn check_header_caps(
    headers: &[(HeaderName, HeaderValue)],
    name: &HeaderName,
    value: &HeaderValue,
) -> Result<(), CapFailure> {
    let existing = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    karman_protocol::fits_response_headers(existing, name.as_str(), value.as_bytes())
        .map_err(|message| CapFailure::Trap(ResponseHeadersExceeded(message).into()))
}

/// A refusal of `resp`, as the `cap-error` the guest gets.
fn cap_error(refusal: Refusal) -> CapFailure {
    match refusal {
        Refusal::Invalid(text) => CapError::Invalid(text).into(),
        Refusal::Denied(text) => CapError::Denied(text).into(),
    }
}

impl resp::Host for RequestCtx {
    fn set_header(&mut self, name: String, value: String) -> Result<(), CapFailure> {
        let (name, value) = karman_protocol::response_header(&name, &value).map_err(cap_error)?;
        let mut response = self.response.lock().unwrap_or_else(|e| e.into_inner());
        response.headers.retain(|(existing, _)| *existing != name);
        check_header_caps(&response.headers, &name, &value)?;
        response.headers.push((name, value));
        Ok(())
    }

    fn set_status(&mut self, code: u16) -> Result<(), CapFailure> {
        let code = karman_protocol::response_status(code).map_err(cap_error)?;
        self.response
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status = Some(code);
        Ok(())
    }
}
