//! Implements `karman:runnable/http` on [`HttpCtx`].

use std::time::Duration;

use super::{HttpCtx, OutboundRequest};
use crate::bindings::http::{Host, Request, Response};
use crate::bindings::types::CapError;
use tracing::Instrument as _;

use crate::capabilities::{CapFailure, call_span};

impl Host for HttpCtx {
    async fn send(&mut self, request: Request) -> Result<Response, CapFailure> {
        let result = self
            .send_request(request)
            .instrument(call_span("http.send"))
            .await;
        self.calls.count_result("http", &result);
        result
    }
}

impl HttpCtx {
    async fn send_request(&mut self, request: Request) -> Result<Response, CapFailure> {
        let access = self.access.as_ref().ok_or_else(|| {
            CapError::Denied("http: this component is not granted the http capability".into())
        })?;
        let response = access
            .send(OutboundRequest {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body: request.body,
                timeout: request
                    .timeout_ms
                    .map(|ms| Duration::from_millis(ms.into())),
                span: tracing::Span::current(),
            })
            .await?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}
