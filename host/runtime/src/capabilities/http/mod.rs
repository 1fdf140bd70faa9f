//! `karman:runnable/http` (and the transport of `graphql`): outbound HTTP under a policy.
//!
//! For every request, and again at every redirect:
//!
//! 1. the URL must be absolute `http`/`https`, and its host (and port, scheme) on the
//!    component's allow list — an empty list allows nothing;
//! 2. the addresses the host resolves to must not be private, loopback, link-local or
//!    unique-local (checked after DNS resolution, in the resolver), unless `allowPrivate`;
//! 3. the credential `authentication.domains` configures for that host is added (replacing a
//!    header of the same name the guest set), and only for that host: a redirect to another
//!    host does not carry it. A request that would expose it is refused (`denied`): over plain
//!    `http` unless the grant has `allowPrivate` and the host is a private address (a name is
//!    then resolved to its private addresses only: see [`Delivery`]), and with `TRACE` or
//!    `CONNECT`, whose answers echo the request;
//! 4. the time (default [`DEFAULT_TIMEOUT`], at most
//!    [`MAX_TIMEOUT`](karman_protocol::outbound::MAX_TIMEOUT)), the redirects
//!    ([`MAX_REDIRECTS`]) and the response size ([`MAX_RESPONSE_BYTES`]) are bounded.
//!
//! Steps 1 and 4, and the texts a guest gets, are [`karman_protocol::outbound`]'s: an exported
//! app applies them inside its component.
//!
//! System proxy settings are ignored: a proxy would bypass the address check.

mod address;
mod host;
mod wasi;

use std::sync::Arc;
use std::time::{Duration, Instant};

use karman_directive::{Authentication, OutboundGrant};
use karman_protocol::outbound::{self, ECHOING_METHODS, Refusal, is_private, literal_address};
use karman_protocol::outbound::{DEFAULT_TIMEOUT, MAX_REDIRECTS, MAX_RESPONSE_BYTES};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use crate::bindings::types::CapError;
use crate::metrics::CallCounter;
pub(crate) use address::{PrivateAddressRefused, PublicAddressRefused};
pub(crate) use wasi::WasiHttpHooks;

/// The clients and credentials shared by every component.
pub struct Outbound {
    /// Resolves names to public addresses only.
    guarded: reqwest::Client,
    /// For grants with `allowPrivate`.
    open: reqwest::Client,
    /// For a credential over plain http: resolves names to private addresses only.
    local: reqwest::Client,
    authentication: Authentication,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("domains", &self.authentication.domains.len())
            .finish()
    }
}

impl Outbound {
    /// Builds the clients (redirects are followed here, not by reqwest: each hop is checked).
    pub fn new(authentication: Authentication) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(DEFAULT_TIMEOUT)
                .user_agent(outbound::USER_AGENT)
        };
        // Building fails only when the TLS backend cannot start; rustls with built-in roots
        // always can.
        let build = |builder: reqwest::ClientBuilder| {
            builder.build().expect("the rustls HTTP client builds")
        };
        Self {
            guarded: build(builder().dns_resolver(Arc::new(address::PublicOnlyResolver))),
            open: build(builder()),
            local: build(builder().dns_resolver(Arc::new(address::PrivateOnlyResolver))),
            authentication,
        }
    }
}

/// A request as the guest gives it.
pub(crate) struct OutboundRequest {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: Option<Duration>,
    /// The span of the step that sends it: its trace context goes with the request.
    pub(crate) span: tracing::Span,
}

/// A response as the guest gets it.
pub(crate) struct OutboundResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// A component's outbound access: its grant (for `http` or for `graphql`).
#[derive(Clone, Debug)]
pub(crate) struct OutboundAccess {
    outbound: Arc<Outbound>,
    grant: Arc<OutboundGrant>,
    /// `http` or `graphql`, for messages.
    capability: &'static str,
}

impl OutboundAccess {
    pub(crate) fn new(
        outbound: Arc<Outbound>,
        grant: &OutboundGrant,
        capability: &'static str,
    ) -> Self {
        Self {
            outbound,
            grant: Arc::new(grant.clone()),
            capability,
        }
    }

    /// Checks that `url` may be called under the grant.
    fn check(&self, url: &Url) -> Result<(), Refusal> {
        outbound::check_url(&self.grant.allow, self.grant.allow_private, url)
    }

    /// How a request to `url` with `method` may go, given the credential for its host (call
    /// after [`check`](Self::check)).
    fn delivery(&self, method: &Method, url: &Url) -> Result<Delivery, Refusal> {
        let has_credential = url
            .host_str()
            .is_some_and(|host| self.outbound.authentication.credential_for(host).is_some());
        Delivery::of(method, url, has_credential, self.grant.allow_private)
    }

    /// The client for this grant and delivery: one that refuses private addresses after
    /// resolving, unless `allowPrivate`; one that refuses public addresses for a credential
    /// over plain http.
    fn client(&self, delivery: Delivery) -> &reqwest::Client {
        if delivery == Delivery::CredentialToPrivateOnly {
            &self.outbound.local
        } else if self.grant.allow_private {
            &self.outbound.open
        } else {
            &self.outbound.guarded
        }
    }

    /// Adds the credential configured for the URL's host, if any, replacing a header of the same
    /// name (when [`delivery`](Self::delivery) allows it).
    fn add_credential(&self, url: &Url, headers: &mut HeaderMap) {
        if let Some(host) = url.host_str()
            && let Some(credential) = self.outbound.authentication.credential_for(host)
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(credential.header.as_bytes()),
                HeaderValue::from_str(&credential.value),
            )
        {
            headers.insert(name, value);
        }
    }

    /// Sends the request, following redirects, within the policy.
    pub(crate) async fn send(
        &self,
        request: OutboundRequest,
    ) -> Result<OutboundResponse, CapError> {
        let capability = self.capability;
        let mut url = outbound::parse_url(capability, &request.url).map_err(cap_error)?;
        let mut method = outbound::parse_method(capability, &request.method).map_err(cap_error)?;
        let mut guest_headers = HeaderMap::new();
        for (name, value) in
            outbound::request_headers(capability, &request.headers).map_err(cap_error)?
        {
            guest_headers.append(name, value);
        }
        crate::trace_context::inject_unless_set(&request.span, &mut guest_headers);
        let deadline = Instant::now() + outbound::timeout(request.timeout);
        let mut body = Some(request.body);

        for _hop in 0..=MAX_REDIRECTS {
            let delivery = self
                .check(&url)
                .and_then(|()| self.delivery(&method, &url))
                .map_err(|refusal| cap_error(refusal.for_guest(capability)))?;
            let mut headers = guest_headers.clone();
            if delivery != Delivery::Bare {
                self.add_credential(&url, &mut headers);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut builder = self
                .client(delivery)
                .request(method.clone(), url.clone())
                .headers(headers)
                .timeout(remaining);
            if let Some(bytes) = &body
                && !bytes.is_empty()
            {
                builder = builder.body(bytes.clone());
            }
            let response = builder
                .send()
                .await
                .map_err(|e| self.transport_error(&url, &e))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                url = outbound::redirect_target(capability, &url, location.as_bytes())
                    .map_err(cap_error)?;
                if outbound::redirect_becomes_get(status.as_u16(), &method) {
                    method = Method::GET;
                    body = None;
                }
                continue;
            }
            return self.read(response).await;
        }
        Err(CapError::Other(outbound::too_many_redirects(capability)))
    }

    /// Reads the response within the size cap.
    async fn read(&self, mut response: reqwest::Response) -> Result<OutboundResponse, CapError> {
        let capability = self.capability;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            CapError::Unavailable(format!("{capability}: reading the response failed: {e}"))
        })? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }

    fn too_large(&self) -> CapError {
        CapError::Other(outbound::too_large(self.capability))
    }

    /// Maps a transport error, telling a refused private address from an unreachable host.
    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> CapError {
        let capability = self.capability;
        let host = url.host_str().unwrap_or_default();
        match TransportFailure::of(error) {
            TransportFailure::PrivateAddress => {
                CapError::Denied(outbound::resolves_to_private(capability, host))
            }
            TransportFailure::PublicAddress => CapError::Denied(format!(
                "{capability}: `{host}` resolves to no private address, and its credential goes over plain http to private addresses only (use https)"
            )),
            TransportFailure::Timeout => {
                CapError::Unavailable(outbound::timed_out(capability, host))
            }
            TransportFailure::Connect | TransportFailure::Other => CapError::Unavailable(format!(
                "{capability}: the request to `{host}` failed: {error}"
            )),
        }
    }
}

/// A refusal of the guest's request, as the `cap-error` it gets.
fn cap_error(refusal: karman_protocol::Refusal) -> CapError {
    match refusal {
        karman_protocol::Refusal::Invalid(text) => CapError::Invalid(text),
        karman_protocol::Refusal::Denied(text) => CapError::Denied(text),
    }
}

/// How a request goes, given whether a credential is configured for its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// No credential for the host: as the grant allows.
    Bare,
    /// With the credential, over https.
    Credential,
    /// With the credential over plain http: to private addresses only (a name is resolved to
    /// its private addresses, a literal address must be private).
    CredentialToPrivateOnly,
}

impl Delivery {
    /// Refuses what would expose a credential: plain http to anything but a private address
    /// under `allowPrivate`, and the methods whose answer echoes the request.
    fn of(
        method: &Method,
        url: &Url,
        has_credential: bool,
        allow_private: bool,
    ) -> Result<Self, Refusal> {
        if !has_credential {
            return Ok(Self::Bare);
        }
        let host = url.host_str().unwrap_or_default().to_string();
        if ECHOING_METHODS
            .iter()
            .any(|echoing| method.as_str().eq_ignore_ascii_case(echoing))
        {
            return Err(Refusal::EchoingMethod {
                method: method.to_string(),
                host,
            });
        }
        if url.scheme() == "https" {
            return Ok(Self::Credential);
        }
        match literal_address(&host) {
            _ if !allow_private => Err(Refusal::CredentialOverHttp(host)),
            Some(ip) if !is_private(ip) => Err(Refusal::CredentialOverHttp(host)),
            _ => Ok(Self::CredentialToPrivateOnly),
        }
    }
}

/// Why a request failed in transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransportFailure {
    /// The name resolved only to private addresses (and the grant does not allow them).
    PrivateAddress,
    /// The name resolved to no private address (and a credential goes over plain http).
    PublicAddress,
    Timeout,
    Connect,
    Other,
}

impl TransportFailure {
    fn of(error: &reqwest::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if cause.downcast_ref::<PrivateAddressRefused>().is_some() {
                return Self::PrivateAddress;
            }
            if cause.downcast_ref::<PublicAddressRefused>().is_some() {
                return Self::PublicAddress;
            }
            source = cause.source();
        }
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }
}

/// The http capability of an instance.
pub(crate) struct HttpCtx {
    pub(crate) access: Option<OutboundAccess>,
    /// Where its calls are counted.
    pub(crate) calls: CallCounter,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(method: &str, url: &str, allow_private: bool) -> Result<Delivery, Refusal> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        Delivery::of(&method, &Url::parse(url).unwrap(), true, allow_private)
    }

    #[test]
    fn a_credential_goes_over_plain_http_to_private_addresses_only() {
        assert_eq!(
            delivery("GET", "https://api.example.com/", false),
            Ok(Delivery::Credential)
        );
        for (url, allow_private) in [
            ("http://api.example.com/", false),
            ("http://127.0.0.1:8080/", false),
            ("http://203.0.113.7/", true),
            ("http://[2606:4700::1111]/", true),
        ] {
            assert!(
                matches!(
                    delivery("GET", url, allow_private),
                    Err(Refusal::CredentialOverHttp(_))
                ),
                "{url}"
            );
        }
        for url in [
            "http://10.0.0.8/",
            "http://[::1]:9000/",
            "http://billing.internal/",
        ] {
            assert_eq!(
                delivery("POST", url, true),
                Ok(Delivery::CredentialToPrivateOnly),
                "{url}"
            );
        }
    }

    #[test]
    fn methods_that_echo_the_request_never_carry_a_credential() {
        for method in ["TRACE", "CONNECT", "trace", "TRACK"] {
            let refused = delivery(method, "https://api.example.com/", false);
            assert!(
                matches!(refused, Err(Refusal::EchoingMethod { .. })),
                "{method}"
            );
        }
        let url = Url::parse("https://api.example.com/").unwrap();
        assert_eq!(
            Delivery::of(&Method::TRACE, &url, false, false),
            Ok(Delivery::Bare)
        );
    }
}
