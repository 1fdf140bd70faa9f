//! Headless mode (`headless:` in the Directive, or `karman serve --headless`): every Runnable
//! answers `POST /_run/<name>`, run as a handler of one step would run it.
//!
//! | request | answer |
//! |---------|--------|
//! | `POST /_run/<runnable>` | the Runnable's output and status, as a one-step handler's |
//! | without the token `headless.auth` needs | 401 (403 without the role) |
//! | another method | 405, `Allow: POST` |
//! | an unknown name, a `wasi:http` component | 404 |
//! | `x-karman-state` that is not a JSON object, or is over [`MAX_STATE_HEADER_BYTES`] | 400 |
//!
//! The request body is the input; the `x-karman-state` header, a JSON object, is the state the
//! Runnable reads with `req.state` (a string value as its text, any other value as its JSON).
//! The caller is checked before the name is looked up, so a caller without a token learns
//! nothing of the app's components. Grants apply unchanged.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{ALLOW, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use karman_directive::{App, Headless};
use karman_runtime::{HttpBody, Runtime};

use crate::auth::{Verifier, authorize_request};
use crate::config::ServerConfig;
use crate::responses::{error, failure_response, read_whole_body};

/// The path prefix headless mode serves.
pub const PREFIX: &str = "/_run/";
/// The request header carrying the state, a JSON object.
pub const STATE_HEADER: &str = "x-karman-state";
/// Largest `x-karman-state` header accepted.
pub const MAX_STATE_HEADER_BYTES: usize = 64 << 10;

/// Headless mode of an app: who may call, and how tokens are verified.
pub(crate) struct HeadlessRuns {
    headless: Headless,
    verifier: Option<Verifier>,
}

impl HeadlessRuns {
    /// Headless mode as `app.headless` says; `None` when it is off.
    pub(crate) fn new(app: &App) -> Result<Option<Self>, String> {
        let Some(headless) = app.headless.clone() else {
            return Ok(None);
        };
        let verifier = Verifier::of_app(app)?;
        Ok(Some(Self { headless, verifier }))
    }

    /// Answers a request whose path starts with [`PREFIX`].
    pub(crate) async fn handle<B>(
        &self,
        runtime: &Runtime,
        request: Request<B>,
        request_id: &str,
        config: &ServerConfig,
    ) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if request.method() != Method::POST {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                405,
                "headless mode runs a Runnable with POST",
                request_id,
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if let Err(denied) =
            authorize_request(self.verifier.as_ref(), &self.headless.auth, &request)
        {
            return denied.into_response(request_id);
        }
        let name = &request.uri().path()[PREFIX.len()..];
        let component = runtime
            .app()
            .component_named(name)
            .map(|(id, _)| id)
            .filter(|id| runtime.is_runnable(*id));
        let Some(component) = component else {
            return error(
                StatusCode::NOT_FOUND,
                404,
                "no Runnable of this name",
                request_id,
            );
        };
        let state = match state(request.headers()) {
            Ok(state) => state,
            Err(why) => return error(StatusCode::BAD_REQUEST, 400, &why, request_id),
        };
        let (head, body) = request.into_parts();
        let body = match read_whole_body(
            &head.headers,
            body,
            config.max_body_bytes,
            config.body_read_timeout,
            request_id,
        )
        .await
        {
            Ok(body) => body,
            Err(response) => return response,
        };
        let run = karman_runtime::Request::http(&head, body, request_id.to_string(), Vec::new());
        match runtime.run_component(component, run, state).await {
            Ok(reply) => crate::service::reply_response(reply),
            Err(failure) => failure_response(&failure, request_id),
        }
    }
}

/// The state in `x-karman-state`: a JSON object of at most [`MAX_STATE_HEADER_BYTES`]; a
/// string value is stored as its text, any other value as its JSON.
fn state(headers: &http::HeaderMap) -> Result<BTreeMap<String, Bytes>, String> {
    let Some(value) = headers.get(STATE_HEADER) else {
        return Ok(BTreeMap::new());
    };
    if value.len() > MAX_STATE_HEADER_BYTES {
        return Err(format!(
            "the `{STATE_HEADER}` header is larger than {MAX_STATE_HEADER_BYTES} bytes"
        ));
    }
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(value.as_bytes())
            .map_err(|e| format!("the `{STATE_HEADER}` header is not a JSON object: {e}"))?;
    Ok(object
        .into_iter()
        .map(|(key, value)| {
            let bytes = match value {
                serde_json::Value::String(text) => Bytes::from(text),
                other => Bytes::from(other.to_string()),
            };
            (key, bytes)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(STATE_HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn state_values_are_strings_as_text_and_others_as_json() {
        let state = state(&headers(r#"{"user":"ada","n":{"a":1}}"#)).unwrap();
        assert_eq!(state["user"], Bytes::from("ada"));
        assert_eq!(state["n"], Bytes::from(r#"{"a":1}"#));
    }

    #[test]
    fn a_state_that_is_no_json_object_is_refused() {
        let why = state(&headers("[1,2]")).unwrap_err();
        assert!(
            why.starts_with("the `x-karman-state` header is not a JSON object"),
            "{why}"
        );
        assert!(state(&headers("{nope")).is_err());
    }
}
