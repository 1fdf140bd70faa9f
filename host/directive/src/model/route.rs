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
    /// Requests accepted per window, across all callers; beyond it, 429.
    pub rate_limit: Option<RateLimit>,
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

/// `rateLimit: <count>/<s|m|h>`: a token bucket of `count` tokens refilled over `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per window (also the burst allowed).
    pub count: u32,
    /// The window.
    pub per: Duration,
}
