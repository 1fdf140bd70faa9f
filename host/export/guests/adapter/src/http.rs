//! `karman:runnable/http` on `wasi:http/outgoing-handler`, under the running component's `http`
//! grant, with the rules of [`karman_protocol::outbound`]: the allow list and literal private
//! addresses checked before the request and at every redirect (redirects are followed here,
//! each hop checked), the timeout (default 10 s, at most 60 s) over the whole exchange, at most
//! 5 redirects, a response of at most 10 MiB, and the same texts as the host's.
//!
//! What needs a host is left to the one serving the export: which addresses a name resolves
//! to (a name on the allow list reaches a private address), and credentials (an app with
//! `authentication.domains` is not exported). A request header the `wasi:http` host forbids
//! (`keep-alive`, `proxy-authorization`, …) is dropped, as the host's own (`host`,
//! `content-length`, …) are.

use std::time::Duration;

use http::Method;
use karman_export_plan::Outbound;
use karman_protocol::outbound::{self, HostPattern, MAX_REDIRECTS, MAX_RESPONSE_BYTES};
use url::Url;

use crate::bindings::exports::karman::runnable::http::{Request, Response};
use crate::bindings::exports::karman::runnable::types::CapError;
use crate::bindings::wasi::clocks::monotonic_clock::{self, Instant};
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::poll::{self, Pollable};
use crate::bindings::wasi::io::streams::{OutputStream, StreamError};
use crate::cap_error;

const CAPABILITY: &str = "http";

/// Sends `request` under `grant` (none: the component is not granted `http`).
pub(crate) fn send(grant: Option<Outbound>, request: Request) -> Result<Response, CapError> {
    let grant = grant.ok_or_else(|| CapError::Denied(outbound::not_granted(CAPABILITY)))?;
    let allow: Vec<HostPattern> = grant
        .allow
        .iter()
        .map(|entry| HostPattern::parse(entry).unwrap_or_else(|e| panic!("the plan's {e}")))
        .collect();
    let mut url = outbound::parse_url(CAPABILITY, &request.url).map_err(cap_error)?;
    let mut method = outbound::parse_method(CAPABILITY, &request.method).map_err(cap_error)?;
    let headers = outbound::request_headers(CAPABILITY, &request.headers).map_err(cap_error)?;
    let timeout = outbound::timeout(
        request
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into())),
    );
    let deadline = monotonic_clock::now().saturating_add(nanos(timeout));
    let mut body = request.body;

    for _hop in 0..=MAX_REDIRECTS {
        outbound::check_url(&allow, grant.allow_private, &url)
            .map_err(|refusal| cap_error(refusal.for_guest(CAPABILITY)))?;
        let exchange = Exchange {
            host: url.host_str().unwrap_or_default().to_string(),
            deadline,
        };
        let response = exchange.send(&method, &url, &headers, &body)?;
        let status = response.status();
        let location = (300..400)
            .contains(&status)
            .then(|| response.headers().get("location").into_iter().next())
            .flatten();
        if let Some(location) = location {
            drop(response);
            url = outbound::redirect_target(CAPABILITY, &url, &location).map_err(cap_error)?;
            if outbound::redirect_becomes_get(status, &method) {
                method = Method::GET;
                body = Vec::new();
            }
            continue;
        }
        return exchange.read(response);
    }
    Err(CapError::Other(outbound::too_many_redirects(CAPABILITY)))
}

/// One request and its response, to `host`, all before `deadline`.
struct Exchange {
    host: String,
    deadline: Instant,
}

impl Exchange {
    fn send(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(http::HeaderName, http::HeaderValue)],
        body: &[u8],
    ) -> Result<IncomingResponse, CapError> {
        let fields = Fields::new();
        let has = |name: &str| headers.iter().any(|(known, _)| known == name);
        let length = body.len().to_string();
        let defaults = [
            ("user-agent", outbound::USER_AGENT.as_bytes()),
            ("accept", b"*/*".as_slice()),
        ];
        let added = defaults
            .into_iter()
            .filter(|(name, _)| !has(name))
            .chain((!body.is_empty()).then_some(("content-length", length.as_bytes())));
        let given = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
        for (name, value) in given.chain(added) {
            match fields.append(name, value) {
                Ok(()) | Err(HeaderError::Forbidden) => {}
                Err(e) => {
                    return Err(CapError::Invalid(format!(
                        "{CAPABILITY}: the header `{name}` cannot be sent ({e:?})"
                    )));
                }
            }
        }
        let request = OutgoingRequest::new(fields);
        let wasi_method = wasi_method(method);
        let scheme = if url.scheme() == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let invalid = || {
            CapError::Invalid(format!(
                "{CAPABILITY}: `{url}` cannot be requested over wasi:http"
            ))
        };
        request.set_method(&wasi_method).map_err(|()| invalid())?;
        request.set_scheme(Some(&scheme)).map_err(|()| invalid())?;
        request
            .set_authority(Some(&authority))
            .map_err(|()| invalid())?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| invalid())?;
        let options = RequestOptions::new();
        let remaining = Some(self.remaining());
        // A host that cannot bound a phase leaves it to the deadline this side keeps.
        let _ = options.set_connect_timeout(remaining);
        let _ = options.set_first_byte_timeout(remaining);
        let _ = options.set_between_bytes_timeout(remaining);

        let outgoing = request.body().expect("a request's body is taken once");
        let future =
            outgoing_handler::handle(request, Some(options)).map_err(|code| self.failure(code))?;
        let whole = body.is_empty() || {
            let stream = outgoing.write().expect("a body's stream is taken once");
            self.write_all(&stream, body)?
        };
        // A body the upstream cut short falls short of its `content-length`, so finishing it
        // fails; the upstream's answer, if it gave one, is what the guest gets.
        let finished = OutgoingBody::finish(outgoing, None);
        if whole {
            finished.map_err(|code| self.failure(code))?;
        }
        self.wait(&future.subscribe())?;
        match future.get() {
            Some(Ok(Ok(response))) => Ok(response),
            Some(Ok(Err(code))) => Err(self.failure(code)),
            Some(Err(())) | None => Err(CapError::Other(format!(
                "{CAPABILITY}: the response to `{}` was lost",
                self.host
            ))),
        }
    }

    /// Writes `bytes` as the stream takes them, within the deadline; whether all of them went.
    /// A stream the other side closed ends the writing (`false`): the upstream may answer
    /// without reading the whole body (a 413), and its answer is what the guest gets.
    fn write_all(&self, stream: &OutputStream, mut bytes: &[u8]) -> Result<bool, CapError> {
        let written = |result: Result<(), StreamError>| match result {
            Ok(()) => Ok(true),
            Err(StreamError::Closed) => Ok(false),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(self.unavailable(format!("sending the body: {}", e.to_debug_string())))
            }
        };
        while !bytes.is_empty() {
            let room = match stream.check_write() {
                Ok(room) => room,
                Err(e) => return written(Err(e)),
            };
            if room == 0 {
                self.wait(&stream.subscribe())?;
                continue;
            }
            let count = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            if !written(stream.write(&bytes[..count]))? {
                return Ok(false);
            }
            bytes = &bytes[count..];
        }
        if !written(stream.flush())? {
            return Ok(false);
        }
        loop {
            self.wait(&stream.subscribe())?;
            match stream.check_write() {
                Ok(0) => {}
                Ok(_) => return Ok(true),
                Err(e) => return written(Err(e)),
            }
        }
    }

    /// The response as the guest gets it: its status, headers and whole body, within the size
    /// cap and the deadline.
    fn read(&self, response: IncomingResponse) -> Result<Response, CapError> {
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let declared = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
            return Err(CapError::Other(outbound::too_large(CAPABILITY)));
        }
        let incoming = response.consume().expect("a response's body is taken once");
        let mut body = Vec::new();
        {
            let stream = incoming.stream().expect("a body's stream is taken once");
            loop {
                match stream.read(64 << 10) {
                    Ok(chunk) if chunk.is_empty() => self.wait(&stream.subscribe())?,
                    Ok(chunk) => {
                        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                            return Err(CapError::Other(outbound::too_large(CAPABILITY)));
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(CapError::Unavailable(format!(
                            "{CAPABILITY}: reading the response failed: {}",
                            e.to_debug_string()
                        )));
                    }
                }
            }
        }
        drop(incoming);
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Waits for `pollable`, or fails at the deadline.
    fn wait(&self, pollable: &Pollable) -> Result<(), CapError> {
        let timer = monotonic_clock::subscribe_instant(self.deadline);
        let ready = poll::poll(&[pollable, &timer]);
        if ready.contains(&0) {
            Ok(())
        } else {
            Err(CapError::Unavailable(outbound::timed_out(
                CAPABILITY, &self.host,
            )))
        }
    }

    fn remaining(&self) -> u64 {
        self.deadline.saturating_sub(monotonic_clock::now())
    }

    fn unavailable(&self, why: String) -> CapError {
        CapError::Unavailable(format!(
            "{CAPABILITY}: the request to `{}` failed: {why}",
            self.host
        ))
    }

    /// What the `wasi:http` host's error means to the guest.
    fn failure(&self, code: ErrorCode) -> CapError {
        match code {
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => {
                CapError::Unavailable(outbound::timed_out(CAPABILITY, &self.host))
            }
            ErrorCode::DestinationIpProhibited => {
                CapError::Denied(outbound::resolves_to_private(CAPABILITY, &self.host))
            }
            ErrorCode::HttpRequestDenied => CapError::Denied(format!(
                "{CAPABILITY}: the host serving the app refused the request to `{}`",
                self.host
            )),
            other => self.unavailable(format!("{other:?}")),
        }
    }
}

fn wasi_method(method: &Method) -> WasiMethod {
    match *method {
        Method::GET => WasiMethod::Get,
        Method::HEAD => WasiMethod::Head,
        Method::POST => WasiMethod::Post,
        Method::PUT => WasiMethod::Put,
        Method::DELETE => WasiMethod::Delete,
        Method::CONNECT => WasiMethod::Connect,
        Method::OPTIONS => WasiMethod::Options,
        Method::TRACE => WasiMethod::Trace,
        Method::PATCH => WasiMethod::Patch,
        _ => WasiMethod::Other(method.as_str().to_string()),
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
