//! The outbound policy of `http` (and of `graphql`'s transport) that does not depend on where
//! it runs: the entries of an allow list ([`HostPattern`]), which addresses are private
//! ([`is_private`]), what is checked before every request and again at every redirect
//! ([`check`]), the bounds ([`DEFAULT_TIMEOUT`], [`MAX_TIMEOUT`], [`MAX_REDIRECTS`],
//! [`MAX_RESPONSE_BYTES`]), how a guest's request is read ([`parse_url`], [`parse_method`],
//! [`request_headers`]) and the texts of what goes wrong.
//!
//! The host adds what needs it: the private-address check after DNS resolution and the
//! credentials of `authentication.domains`. An app exported as one `wasi:http` component
//! applies the rest inside the component, with the same texts.
//!
//! ```
//! use karman_protocol::outbound::{HostPattern, Refusal, check};
//!
//! let allow = [HostPattern::parse("*.example.com").unwrap()];
//! assert_eq!(check(&allow, false, "https", "api.example.com", 443), Ok(()));
//! assert_eq!(
//!     check(&allow, false, "https", "example.org", 443),
//!     Err(Refusal::NotAllowed("example.org".into()))
//! );
//! let local = [HostPattern::parse("127.0.0.1:8080").unwrap()];
//! assert_eq!(
//!     check(&local, false, "http", "127.0.0.1", 8080).unwrap_err().to_string(),
//!     "`127.0.0.1` is a private address (the grant needs `allowPrivate: true`)"
//! );
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use url::Url;

/// Time a request may take (to the end of the body) unless the guest asks for less or more.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a guest may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;
/// Largest response body handed to a guest.
pub const MAX_RESPONSE_BYTES: usize = 10 << 20;
/// The `user-agent` of a request whose guest set none.
pub const USER_AGENT: &str = concat!("karman/", env!("CARGO_PKG_VERSION"));

/// Request headers the sender controls: a guest's values are dropped.
pub const HOST_REQUEST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// Methods whose answer echoes the request (its headers, so a credential): never sent with one
/// (`TRACK` is IIS's `TRACE`; compared without case, as some servers do).
pub const ECHOING_METHODS: &[&str] = &["TRACE", "TRACK", "CONNECT"];

/// The time a request may take when the guest asks for `asked`.
pub fn timeout(asked: Option<Duration>) -> Duration {
    asked.unwrap_or(DEFAULT_TIMEOUT).min(MAX_TIMEOUT)
}

/// Why the policy refuses a URL before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotHttp,
    NoHost,
    NotAllowed(String),
    PrivateAddress(String),
    CredentialOverHttp(String),
    EchoingMethod { method: String, host: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttp => f.write_str("only http and https URLs can be called"),
            Self::NoHost => f.write_str("the URL has no host"),
            Self::NotAllowed(host) => write!(f, "`{host}` is not on this component's allow list"),
            Self::PrivateAddress(host) => write!(
                f,
                "`{host}` is a private address (the grant needs `allowPrivate: true`)"
            ),
            Self::CredentialOverHttp(host) => write!(
                f,
                "the credential for `{host}` is sent over https only (plain http only to a \
                 private address, under `allowPrivate`)"
            ),
            Self::EchoingMethod { method, host } => write!(
                f,
                "`{method}` is refused for `{host}`: the request carries a credential, and a \
                 `{method}` answer echoes the request"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// The `cap-error` a guest of `capability` gets: `invalid` for a URL that is not one,
    /// `denied` for what the policy refuses.
    pub fn for_guest(&self, capability: &str) -> crate::Refusal {
        let message = format!("{capability}: {self}");
        match self {
            Self::NotHttp | Self::NoHost => crate::Refusal::Invalid(message),
            _ => crate::Refusal::Denied(message),
        }
    }
}

/// Checks that `scheme://host:port` may be called under an allow list: an `http`/`https` URL
/// whose host is on the list, and not a literal private address unless `allow_private`
/// (a name's addresses are the host's to check, after resolving it).
pub fn check(
    allow: &[HostPattern],
    allow_private: bool,
    scheme: &str,
    host: &str,
    port: u16,
) -> Result<(), Refusal> {
    if scheme != "http" && scheme != "https" {
        return Err(Refusal::NotHttp);
    }
    if host.is_empty() {
        return Err(Refusal::NoHost);
    }
    if !allow.iter().any(|p| p.matches(scheme, host, port)) {
        return Err(Refusal::NotAllowed(host.to_string()));
    }
    if !allow_private && literal_address(host).is_some_and(is_private) {
        return Err(Refusal::PrivateAddress(host.to_string()));
    }
    Ok(())
}

/// Checks `url` as [`check`] does.
pub fn check_url(allow: &[HostPattern], allow_private: bool, url: &Url) -> Result<(), Refusal> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    check(allow, allow_private, url.scheme(), host, port)
}

/// The address a host names literally (`10.0.0.1`, `[::1]`), if it is one.
pub fn literal_address(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// A guest's URL.
pub fn parse_url(capability: &str, text: &str) -> Result<Url, crate::Refusal> {
    Url::parse(text)
        .map_err(|e| crate::Refusal::Invalid(format!("{capability}: `{text}` is not a URL ({e})")))
}

/// A guest's method, in upper case.
pub fn parse_method(capability: &str, text: &str) -> Result<Method, crate::Refusal> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes()).map_err(|_| {
        crate::Refusal::Invalid(format!("{capability}: `{text}` is not an HTTP method"))
    })
}

/// A guest's request headers, checked, without the ones the sender controls
/// ([`HOST_REQUEST_HEADERS`]).
pub fn request_headers(
    capability: &str,
    headers: &[(String, String)],
) -> Result<Vec<(HeaderName, HeaderValue)>, crate::Refusal> {
    let invalid = |m: String| crate::Refusal::Invalid(format!("{capability}: {m}"));
    let mut checked = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of `{name}` is not valid")))?;
        if !HOST_REQUEST_HEADERS.contains(&name.as_str()) {
            checked.push((name, value));
        }
    }
    Ok(checked)
}

/// Where a redirect from `url` to `location` goes.
pub fn redirect_target(
    capability: &str,
    url: &Url,
    location: &[u8],
) -> Result<Url, crate::Refusal> {
    let invalid = |m: String| crate::Refusal::Invalid(format!("{capability}: {m}"));
    let location = std::str::from_utf8(location)
        .map_err(|_| invalid("a redirect has an invalid Location".into()))?;
    url.join(location)
        .map_err(|_| invalid(format!("a redirect to `{location}` is not a URL")))
}

/// Whether a redirect with `status` after a `method` request continues with a `GET` and no
/// body: 303, and by custom 301 and 302 after a `POST`.
pub fn redirect_becomes_get(status: u16, method: &Method) -> bool {
    status == 303 || ((status == 301 || status == 302) && method == Method::POST)
}

/// The text of a request sent without the capability granted.
pub fn not_granted(capability: &str) -> String {
    format!("{capability}: this component is not granted the {capability} capability")
}

/// The text of a request that redirected more than [`MAX_REDIRECTS`] times.
pub fn too_many_redirects(capability: &str) -> String {
    format!("{capability}: more than {MAX_REDIRECTS} redirects")
}

/// The text of a response over [`MAX_RESPONSE_BYTES`].
pub fn too_large(capability: &str) -> String {
    format!("{capability}: the response is larger than {MAX_RESPONSE_BYTES} bytes")
}

/// The text of a request to `host` that took longer than its timeout.
pub fn timed_out(capability: &str, host: &str) -> String {
    format!("{capability}: the request to `{host}` timed out")
}

/// The text of a name that resolved only to private addresses.
pub fn resolves_to_private(capability: &str, host: &str) -> String {
    format!(
        "{capability}: `{host}` resolves to a private address (the grant needs `allowPrivate: true`)"
    )
}

/// Private, loopback, link-local (cloud metadata lives there), unique-local, shared, multicast,
/// reserved and unspecified addresses: nothing a component should reach without
/// `allowPrivate`.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_private_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
                || segments[0] == 0x2001 && segments[1] == 0x0db8 // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // shared address space 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240 // reserved
}

/// One entry of an allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// `http` or `https`, when the entry names one.
    pub scheme: Option<String>,
    /// The host in lower case; `*.` + domain for a wildcard.
    pub host: String,
    /// The port, when the entry names one.
    pub port: Option<u16>,
}

impl HostPattern {
    /// Parses an entry: `[scheme://]host[:port]`, host possibly `*.domain`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    return Err(format!("`{text}`: only http and https can be allowed"));
                }
                (Some(scheme), rest)
            }
            None => (None, text),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(format!(
                "`{text}` is not a host: write `host`, `*.domain` or `https://host:port`"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{text}`: `{port}` is not a port"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        let valid = !bare.is_empty()
            && !bare.contains('*')
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'));
        if !valid {
            return Err(format!(
                "`{text}` is not a host: write `host`, `*.domain` or `https://host:port`"
            ));
        }
        Ok(Self { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme)
            || self.port.is_some_and(|p| p != port)
        {
            return false;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.')
            }
            None => host == self.host,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_exact_wildcard_scheme_and_port() {
        let exact = HostPattern::parse("API.github.com").unwrap();
        assert!(exact.matches("https", "api.github.com", 443));
        assert!(exact.matches("http", "Api.GitHub.com", 8080));
        assert!(!exact.matches("https", "evil-api.github.com", 443));
        let wildcard = HostPattern::parse("*.example.com").unwrap();
        assert!(wildcard.matches("https", "a.b.example.com", 443));
        assert!(!wildcard.matches("https", "example.com", 443));
        assert!(!wildcard.matches("https", "badexample.com", 443));
        let scoped = HostPattern::parse("https://pay.example.com:8443").unwrap();
        assert!(scoped.matches("https", "pay.example.com", 8443));
        assert!(!scoped.matches("http", "pay.example.com", 8443));
        assert!(!scoped.matches("https", "pay.example.com", 443));
        assert!(
            HostPattern::parse("127.0.0.1:8080")
                .unwrap()
                .matches("http", "127.0.0.1", 8080)
        );
        assert!(
            HostPattern::parse("[::1]:80")
                .unwrap()
                .matches("http", "[::1]", 80)
        );
        assert!(HostPattern::parse("ftp://x").is_err());
        assert!(HostPattern::parse("x.com/path").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
    }

    #[test]
    fn classifies_private_and_public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private} is private");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn urls_are_checked_against_the_list_and_literal_private_addresses() {
        let allow = [
            HostPattern::parse("127.0.0.1:8080").unwrap(),
            HostPattern::parse("api.example.com").unwrap(),
        ];
        let url = |text: &str| Url::parse(text).unwrap();
        assert_eq!(
            check_url(&allow, true, &url("http://127.0.0.1:8080/x")),
            Ok(())
        );
        assert_eq!(
            check_url(&allow, false, &url("http://127.0.0.1:8080/x")),
            Err(Refusal::PrivateAddress("127.0.0.1".into()))
        );
        assert_eq!(
            check_url(&allow, true, &url("http://127.0.0.1:8081/x")),
            Err(Refusal::NotAllowed("127.0.0.1".into()))
        );
        assert_eq!(
            check_url(&allow, false, &url("ftp://api.example.com/")),
            Err(Refusal::NotHttp)
        );
        assert_eq!(
            check_url(&allow, false, &url("https://api.example.com/")),
            Ok(())
        );
        assert_eq!(
            Refusal::NotHttp.for_guest("http"),
            crate::Refusal::Invalid("http: only http and https URLs can be called".into())
        );
    }

    #[test]
    fn guest_requests_are_read_with_their_faults_named() {
        assert_eq!(parse_method("http", "post").unwrap(), Method::POST);
        assert_eq!(
            parse_method("http", "GE T"),
            Err(crate::Refusal::Invalid(
                "http: `GE T` is not an HTTP method".into()
            ))
        );
        assert!(matches!(
            parse_url("http", "not a url"),
            Err(crate::Refusal::Invalid(text)) if text.starts_with("http: `not a url` is not a URL (")
        ));
        let headers = request_headers(
            "http",
            &[
                ("Host".into(), "evil".into()),
                ("x-a".into(), "1".into()),
                ("Content-Length".into(), "9".into()),
            ],
        )
        .unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "x-a");
        assert!(request_headers("http", &[("x-a".into(), "a\nb".into())]).is_err());
        let base = Url::parse("http://a.example/x/y").unwrap();
        assert_eq!(
            redirect_target("http", &base, b"../z").unwrap().as_str(),
            "http://a.example/z"
        );
        assert!(redirect_becomes_get(303, &Method::PUT));
        assert!(redirect_becomes_get(302, &Method::POST));
        assert!(!redirect_becomes_get(307, &Method::POST));
        assert_eq!(timeout(None), DEFAULT_TIMEOUT);
        assert_eq!(timeout(Some(Duration::from_secs(600))), MAX_TIMEOUT);
    }
}
