//! Custom routes: `wasi:http` components mounted at `/ext/<plugin>/`, their endpoints, who may
//! call them and how often.
//!
//! A plugin owns only `/ext/<plugin>/…`, so it can shadow neither Karman's own paths nor another
//! plugin's. Each endpoint says who may call it: `public`, `authenticated` (a valid token) or
//! `role:<name>` (a valid token whose roles include the name).

use std::fmt;
use std::time::Duration;

use crate::error::Location;
use crate::model::component::ComponentId;
use crate::model::resource::Resource;

/// One `routes:` entry: a plugin and the endpoints its component serves.
#[derive(Debug, Clone)]
pub struct Route {
    /// The plugin's name: the routes live under `/ext/<plugin>/`.
    pub plugin: String,
    /// The `wasi:http` component that serves every endpoint of the plugin.
    pub component: ComponentId,
    /// The endpoints, in Directive order.
    pub endpoints: Vec<Endpoint>,
    /// Where the route is declared.
    pub location: Location,
}

/// One endpoint of a plugin.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path within the plugin, e.g. `/balance/:account`.
    pub path: Resource,
    /// Who may call it.
    pub auth: Access,
    /// Requests accepted per window, across all callers and per caller; beyond either, 429.
    pub rate_limit: RateLimits,
    /// Largest request body; `None`: the server's `--max-body`.
    pub max_body: Option<u64>,
    /// How long the handler may run; `None`: the component's `limits.timeout`.
    pub timeout: Option<Duration>,
    /// Where the endpoint is declared.
    pub location: Location,
}

impl Endpoint {
    /// The full path the endpoint is served at, e.g. `/ext/billing/balance/:account`.
    pub fn mounted_path(&self, plugin: &str) -> String {
        format!("/ext/{plugin}{}", self.path)
    }

    /// Who may call the endpoint and the limits it sets, for reports:
    /// `role:admin, rate 50/s, maxBody 16384 B, timeout 2s` (only the limits that are set).
    pub fn terms(&self) -> EndpointTerms<'_> {
        EndpointTerms { endpoint: self }
    }
}

/// Who may call an [`Endpoint`] and the limits it sets (rate, body size, timeout), displayed as
/// `public, rate 50/s, maxBody 16384 B, timeout 2s`: the limits only when set.
#[derive(Debug, Clone, Copy)]
pub struct EndpointTerms<'a> {
    endpoint: &'a Endpoint,
}

impl fmt::Display for EndpointTerms<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = self.endpoint;
        write!(f, "{}", endpoint.auth)?;
        if let Some(rate) = endpoint.rate_limit.endpoint {
            write!(f, ", rate {rate}")?;
        }
        if let Some(rate) = endpoint.rate_limit.caller {
            write!(f, ", rate per caller {rate}")?;
        }
        if let Some(max) = endpoint.max_body {
            write!(f, ", maxBody {max} B")?;
        }
        if let Some(timeout) = endpoint.timeout {
            write!(f, ", timeout {}", humantime::format_duration(timeout))?;
        }
        Ok(())
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone; a valid token, when sent, still gives the handler its principal.
    Public,
    /// A caller with a valid token.
    Authenticated,
    /// A caller with a valid token whose roles include this one.
    Role(String),
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Authenticated => f.write_str("authenticated"),
            Access::Role(role) => write!(f, "role:{role}"),
        }
    }
}

/// `rateLimit:` of an endpoint or a request handler: `50/s` (across all callers), or
/// `{endpoint: 100/s, caller: 10/s}`. A caller is the JWT subject, else the client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Across all callers.
    pub endpoint: Option<RateLimit>,
    /// For each caller.
    pub caller: Option<RateLimit>,
}

impl RateLimits {
    /// Whether no limit is set.
    pub fn is_none(&self) -> bool {
        self.endpoint.is_none() && self.caller.is_none()
    }
}

/// `rateLimit: <count>/<s|m|h>`: a token bucket of `count` tokens refilled over `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per window (also the burst allowed).
    pub count: u32,
    /// The window.
    pub per: Duration,
}

impl fmt::Display for RateLimit {
    /// `50/s`, `600/m`, `1000/h`, as written in the Directive (another window: `5/2s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match (self.per.as_secs(), self.per.subsec_nanos()) {
            (1, 0) => "s",
            (60, 0) => "m",
            (3600, 0) => "h",
            _ => return write!(f, "{}/{}", self.count, humantime::format_duration(self.per)),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(count: u32, secs: u64) -> RateLimit {
        RateLimit {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn rate_limits_display_as_written() {
        assert_eq!(rate(50, 1).to_string(), "50/s");
        assert_eq!(rate(600, 60).to_string(), "600/m");
        assert_eq!(rate(1000, 3600).to_string(), "1000/h");
        assert_eq!(rate(5, 2).to_string(), "5/2s");
    }

    #[test]
    fn endpoint_terms_display_the_access_and_only_the_limits_set() {
        let mut endpoint = Endpoint {
            method: "GET".to_string(),
            path: Resource::parse("/balance/:account").unwrap(),
            auth: Access::Public,
            rate_limit: RateLimits::default(),
            max_body: None,
            timeout: None,
            location: Location {
                file: "Directive.yaml".into(),
                line: 1,
                column: 1,
            },
        };
        assert_eq!(endpoint.terms().to_string(), "public");
        endpoint.max_body = Some(16 << 10);
        endpoint.auth = Access::Role("admin".to_string());
        assert_eq!(endpoint.terms().to_string(), "role:admin, maxBody 16384 B");
        endpoint.rate_limit.endpoint = Some(rate(50, 1));
        endpoint.timeout = Some(Duration::from_secs(2));
        assert_eq!(
            endpoint.terms().to_string(),
            "role:admin, rate 50/s, maxBody 16384 B, timeout 2s"
        );
        endpoint.rate_limit.caller = Some(rate(5, 1));
        assert_eq!(
            endpoint.terms().to_string(),
            "role:admin, rate 50/s, rate per caller 5/s, maxBody 16384 B, timeout 2s"
        );
    }
}

/// Headless mode (`headless:`): every Runnable of the app answers `POST /_run/<name>`, run as a
/// handler of one step would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headless {
    /// Who may call: `headless: true` needs a valid token when the app has
    /// `authentication.jwt`, and lets anyone call when it has not; `headless: { auth: … }` says
    /// it as an endpoint's `auth` does.
    pub auth: Access,
}

impl Headless {
    /// What `headless: true` (or `karman serve --headless`) means for an app with
    /// `authentication`: a token is needed when the app verifies tokens.
    pub fn enabled(authentication: &crate::model::Authentication) -> Self {
        Self {
            auth: if authentication.jwt.is_some() {
                Access::Authenticated
            } else {
                Access::Public
            },
        }
    }
}
