//! `wasi:http/outgoing-handler` for Runnables, under the same policy as `karman:runnable/http`:
//! a guest language's own HTTP client (Rust `wasip2`/`waki`, JavaScript `fetch`, Python
//! `urllib` over componentize-py's wasi:http) is bound by the component's `http` grant, the
//! private-address check and the credentials of `authentication.domains`.
//!
//! Differences from `karman:runnable/http`, as wasi:http defines them: redirects are not
//! followed (the guest sees the 3xx and may request the new location, which is checked again),
//! and bodies stream both ways (the guest's memory limit bounds what it reads).
//!
//! | failure | `error-code` the guest gets |
//! |---------|-----------------------------|
//! | no `http` grant, or the host is not on the allow list | `HTTP-request-denied` |
//! | the host's credential over plain http to a public address, or with `TRACE`/`CONNECT` | `HTTP-request-denied` (the host log says why) |
//! | the host is, or resolves to, a private address without `allowPrivate` | `destination-IP-prohibited` |
//! | not an http/https URL | `HTTP-request-URI-invalid` |
//! | no answer within the first-byte timeout (default 10 s, at most 60 s) | `connection-timeout` |
//! | the connection fails | `connection-refused` |

use std::future::Future;

use http_body_util::{BodyDataStream, BodyExt};
use reqwest::Url;
use wasmtime_wasi_http::{Error as WasiHttpError, RequestOptions, WasiBody};

use super::{Delivery, OutboundAccess, Refusal, TransportFailure};

/// The wasi:http hooks of an instance: its `http` grant, if any.
pub(crate) struct WasiHttpHooks {
    pub(crate) access: Option<OutboundAccess>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
                ),
                WasiHttpError,
            >,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for WasiHttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
    ) -> SendFuture {
        let access = self.access.clone();
        // The guest's call runs in its step's span; the request may be sent from another task.
        let span = tracing::Span::current();
        Box::new(async move {
            let Some(access) = access else {
                tracing::debug!("wasi:http request refused: no `http` grant");
                return Err(WasiHttpError::HttpRequestDenied);
            };
            let response = send(&access, request, options, &span).await?;
            let io: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

async fn send(
    access: &OutboundAccess,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    span: &tracing::Span,
) -> Result<http::Response<WasiBody>, WasiHttpError> {
    let (parts, body) = request.into_parts();
    let url =
        Url::parse(&parts.uri.to_string()).map_err(|_| WasiHttpError::HttpRequestUriInvalid)?;
    let delivery = match access
        .check(&url)
        .and_then(|()| access.delivery(&parts.method, &url))
    {
        Ok(delivery) => delivery,
        Err(refusal) => {
            let url = url.as_str();
            return Err(match refusal {
                Refusal::PrivateAddress(_) => {
                    tracing::debug!(url, "wasi:http request refused: {refusal}");
                    WasiHttpError::DestinationIpProhibited
                }
                Refusal::NotAllowed(_) => {
                    tracing::debug!(url, "wasi:http request refused: {refusal}");
                    WasiHttpError::HttpRequestDenied
                }
                Refusal::CredentialOverHttp(_) | Refusal::EchoingMethod { .. } => {
                    tracing::warn!(url, "wasi:http request refused: {refusal}");
                    WasiHttpError::HttpRequestDenied
                }
                Refusal::NotHttp | Refusal::NoHost => WasiHttpError::HttpRequestUriInvalid,
            });
        }
    };
    let mut headers = parts.headers;
    // reqwest sets `host` from the URL (the policy checked that URL, not a guest header).
    headers.remove(http::header::HOST);
    if delivery != Delivery::Bare {
        access.add_credential(&url, &mut headers);
    }
    crate::trace_context::inject_unless_set(span, &mut headers);
    let first_byte = karman_protocol::outbound::timeout(options.and_then(|o| o.first_byte_timeout));
    let body = reqwest::Body::wrap_stream(BodyDataStream::new(body));
    let sent = access
        .client(delivery)
        .request(parts.method, url.clone())
        .headers(headers)
        .body(body)
        .send();
    let response = match tokio::time::timeout(first_byte, sent).await {
        Err(_elapsed) => return Err(WasiHttpError::ConnectionTimeout),
        Ok(Err(error)) => {
            let failure = TransportFailure::of(&error);
            tracing::debug!(url = %url.as_str(), "wasi:http request failed: {error}");
            return Err(match failure {
                TransportFailure::PrivateAddress => WasiHttpError::DestinationIpProhibited,
                TransportFailure::PublicAddress => {
                    tracing::warn!(url = %url.as_str(), "wasi:http request refused: its credential goes over plain http to private addresses only");
                    WasiHttpError::HttpRequestDenied
                }
                TransportFailure::Timeout => WasiHttpError::ConnectionTimeout,
                TransportFailure::Connect => WasiHttpError::ConnectionRefused,
                TransportFailure::Other => WasiHttpError::InternalError(Some(error.to_string())),
            });
        }
        Ok(Ok(response)) => response,
    };
    let response: http::Response<reqwest::Body> = response.into();
    Ok(response.map(|body| {
        body.map_err(|error| {
            if error.is_timeout() {
                WasiHttpError::ConnectionReadTimeout
            } else {
                WasiHttpError::HttpResponseIncomplete
            }
        })
        .boxed_unsync()
    }))
}
