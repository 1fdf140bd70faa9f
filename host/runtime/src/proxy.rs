//! Serving `wasi:http` components: each request runs `wasi:http/incoming-handler.handle` on a
//! fresh instance, as `wasmtime serve` does, with the component's grants and limits.
//!
//! The response head is returned as soon as the guest sets it; the body streams from the
//! instance, which keeps running (within the timeout) until it finishes the body. The timeout
//! covers the whole exchange: a guest still running when it fires is dropped, and its response
//! ends there (504 when no head was sent yet). A client that goes away stops the guest too
//! (see [`crate::guest_task`]). Dropping the instance drops whatever it holds, so an
//! uncommitted SQL transaction rolls back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};

use crate::capabilities::log::CurrentRequest;
use crate::capabilities::principal::Principal;
use crate::capabilities::request::{MAX_RESPONSE_HEADERS, RequestCtx};
use crate::component::{Entry, LoadedComponent};
use crate::guest_task::GuestTask;
use crate::instance::{fault, new_store};
use crate::request::{Failure, FailureKind};

/// A request or response body of a `wasi:http` exchange.
pub type HttpBody = UnsyncBoxBody<Bytes, HttpBodyError>;

/// Why a body could not be read or written to the end.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HttpBodyError(pub String);

impl From<HttpBodyError> for wasmtime_wasi_http::Error {
    fn from(error: HttpBodyError) -> Self {
        wasmtime_wasi_http::Error::InternalError(Some(error.0))
    }
}

/// What a `wasi:http` exchange gets besides the request.
#[derive(Debug, Clone, Default)]
pub struct HttpCall {
    /// The request id, for the component's log lines.
    pub request_id: String,
    /// The verified caller (custom routes), given to the `principal` interface.
    pub principal: Option<Arc<Principal>>,
    /// Overrides the component's `limits.timeout` (an endpoint's `timeout:`).
    pub timeout: Option<Duration>,
}

/// Runs one request through the component's `incoming-handler`.
pub(crate) async fn serve(
    component: &Arc<LoadedComponent>,
    request: http::Request<HttpBody>,
    call: HttpCall,
) -> Result<http::Response<HttpBody>, Failure> {
    let Entry::Http(pre) = &component.entry else {
        return Err(Failure {
            status: 500,
            code: 500,
            message: format!(
                "component `{}` is not a wasi:http component",
                component.name
            ),
            kind: FailureKind::Trap,
        });
    };
    let timeout = call.timeout.unwrap_or(component.limits.timeout);
    let request_id: Arc<str> = call.request_id.as_str().into();
    let mut store = new_store(
        component,
        RequestCtx::idle(),
        CurrentRequest::new(request_id.clone()),
    );
    store.data_mut().principal.principal = call.principal;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let prepared: wasmtime::Result<_> = (|| {
        let mut view = store.data_mut().http();
        let request = view.new_incoming_request(Scheme::Http, request)?;
        let out = view.new_response_outparam(sender)?;
        Ok((request, out))
    })();
    let (incoming, out) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            return Err(Failure {
                status: 400,
                code: 400,
                message: format!("the request cannot be given to the component: {error}"),
                kind: FailureKind::BadRequest,
            });
        }
    };
    let pre = pre.clone();
    let name = component.name.clone();
    let loaded = component.clone();
    // The guest runs in its own task: it may go on writing the body after the head is sent.
    let mut task = GuestTask::new(tokio::spawn(async move {
        let work = async {
            store.set_epoch_deadline(1);
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
        };
        tokio::time::timeout(timeout, work).await
    }));
    match receiver.await {
        Ok(Ok(response)) if response.headers().len() > MAX_RESPONSE_HEADERS => {
            let message = format!(
                "component `{name}` failed: its response has {} headers; a response may hold \
                 at most {MAX_RESPONSE_HEADERS}",
                response.headers().len()
            );
            tracing::warn!(component = &*name, request_id = &*request_id, "{message}");
            Err(Failure {
                status: 500,
                code: 500,
                message,
                kind: FailureKind::Limit,
            })
        }
        Ok(Ok(response)) => Ok(response.map(|body| {
            task.guard_body(body.map_err(|error| HttpBodyError(error.to_string())))
                .boxed_unsync()
        })),
        Ok(Err(code)) => Err(error_code_failure(&name, &code)),
        // The guest returned, trapped or timed out without setting a response.
        Err(_) => Err(match (&mut task.handle).await {
            Ok(Err(_elapsed)) => {
                tracing::warn!(component = &*name, request_id = &*request_id, timeout = %humantime::format_duration(timeout), "request timed out");
                Failure {
                    status: 504,
                    code: 504,
                    message: String::new(),
                    kind: FailureKind::Timeout,
                }
            }
            Ok(Ok(Err(error))) => fault(&loaded, &request_id, error),
            Ok(Ok(Ok(()))) => Failure {
                status: 500,
                code: 500,
                message: format!("component `{name}` returned without setting a response"),
                kind: FailureKind::Trap,
            },
            Err(join) => Failure {
                status: 500,
                code: 500,
                message: format!("component `{name}` failed: {join}"),
                kind: FailureKind::Trap,
            },
        }),
    }
}

/// The guest answered `response-outparam.set(err(code))`.
fn error_code_failure(component: &str, code: &ErrorCode) -> Failure {
    tracing::warn!(component, error = ?code, "the component answered with an error code");
    Failure {
        status: 500,
        code: 500,
        message: format!("component `{component}` answered with an error: {code:?}"),
        kind: FailureKind::Trap,
    }
}
