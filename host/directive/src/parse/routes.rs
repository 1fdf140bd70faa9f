//! `routes:`: custom routes, `wasi:http` components mounted at `/ext/<plugin><path>`, and their
//! endpoints (who may call them, rate limit, body size, timeout).
//!
//! ```yaml
//! authentication:
//!   jwt: { algorithm: HS256, secret: env(JWT_SECRET), issuer: https://auth.example.com, audience: billing }
//! routes:
//!   - plugin: billing
//!     component: billing          # exports wasi:http/incoming-handler
//!     endpoints:
//!       - { method: POST, path: /debit, auth: authenticated }
//!       - { method: GET, path: /balance/:account, auth: "role:reader", rateLimit: 50/s, maxBody: 16KiB, timeout: 2s }
//! ```

use std::collections::HashMap;

use marked_yaml::Node;

use crate::error::{Location, did_you_mean};
use crate::keys;
use crate::model::{Access, Component, ComponentId, Endpoint, RateLimits, Resource, Route};
use crate::parse::values::{parse_method, parse_rate_limits, parse_timeout, unique_by_name};
use crate::units::parse_byte_size;
use crate::yaml::{Reader, start};

/// `routes:`, each plugin declared once.
pub(crate) fn parse_routes(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
) -> Vec<Route> {
    let Some(items) = reader.sequence(node, "`routes`") else {
        return Vec::new();
    };
    unique_by_name(
        reader,
        items,
        |reader, item| parse_route(reader, item, components),
        |route| ("plugin", &route.plugin, &route.location),
    )
}

fn parse_route(reader: &mut Reader<'_>, node: &Node, components: &[Component]) -> Option<Route> {
    let fields = reader.mapping(node, "a route", &keys::ROUTE)?;
    let plugin = reader
        .required(fields, "plugin", "a route")
        .and_then(|node| plugin_name(reader, node));
    let what = match &plugin {
        Some(plugin) => format!("plugin `{plugin}`"),
        None => "a route".to_string(),
    };
    let component = reader
        .required(fields, "component", &what)
        .and_then(|node| {
            let name = reader.non_empty_string(node, "`component`")?;
            match components.iter().position(|c| c.name == name) {
                Some(index) => Some(ComponentId(index)),
                None if reader.invalid_components.contains(&name) => None,
                None => {
                    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
                    let hint = match did_you_mean(&name, names.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => "declare it under `components:`".to_string(),
                    };
                    reader.error_with_hint(
                        start(node),
                        format!("{what} is served by `{name}`, which is not a declared component"),
                        hint,
                    );
                    None
                }
            }
        });
    let endpoints = reader
        .required(fields, "endpoints", &what)
        .and_then(|node| {
            let items = reader.sequence(node, &format!("the `endpoints` of {what}"))?;
            if items.is_empty() {
                reader.error(
                    node.span(),
                    format!("{what} needs at least one endpoint"),
                );
                return None;
            }
            let mut endpoints: Vec<Endpoint> = Vec::new();
            let mut seen: HashMap<(String, String), Location> = HashMap::new();
            let mut ok = true;
            for item in items {
                let Some(endpoint) = parse_endpoint(reader, item, &what) else {
                    ok = false;
                    continue;
                };
                let key = (endpoint.method.clone(), endpoint.path.shape());
                if let Some(first) = seen.get(&key) {
                    reader.error_with_hint(
                        start(item),
                        format!(
                            "{what} has `{} {}` twice (first at {first})",
                            endpoint.method, endpoint.path
                        ),
                        "each method and path may have one endpoint; parameter names do not make paths different",
                    );
                    ok = false;
                    continue;
                }
                seen.insert(key, endpoint.location.clone());
                endpoints.push(endpoint);
            }
            ok.then_some(endpoints)
        });
    Some(Route {
        plugin: plugin?,
        component: component?,
        endpoints: endpoints?,
        location: reader.location_or_start(start(node)),
    })
}

fn plugin_name(reader: &mut Reader<'_>, node: &Node) -> Option<String> {
    let name = reader.non_empty_string(node, "`plugin`")?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        reader.error_with_hint(
            start(node),
            format!("plugin name `{name}` is not valid"),
            "it is a path segment: use lower-case letters, digits and `-`",
        );
        return None;
    }
    Some(name)
}

fn parse_endpoint(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Endpoint> {
    let fields = reader.mapping(node, &format!("an endpoint of {what}"), &keys::ENDPOINT)?;
    let method = reader
        .required(fields, "method", "an endpoint")
        .and_then(|node| parse_method(reader, node));
    let path = reader
        .required(fields, "path", "an endpoint")
        .and_then(|node| {
            let text = reader.non_empty_string(node, "`path`")?;
            match Resource::parse(&text) {
                Ok(path) => Some(path),
                Err(message) => {
                    reader.error_with_hint(
                        start(node),
                        message,
                        "write the path within the plugin, e.g. `/debit` or `/balance/:account`",
                    );
                    None
                }
            }
        });
    let auth = reader
        .required(fields, "auth", "an endpoint")
        .and_then(|node| parse_access(reader, node));
    let rate_limit = match fields.get("rateLimit") {
        None => Some(RateLimits::default()),
        Some(node) => parse_rate_limits(reader, node),
    };
    let max_body = match fields.get("maxBody") {
        None => Some(None),
        Some(node) => {
            reader
                .string(node, "`maxBody`")
                .and_then(|text| match parse_byte_size(&text) {
                    Ok(size) if size > 0 => Some(Some(size)),
                    Ok(_) => {
                        reader.error(node.span(), "`maxBody` must be above zero");
                        None
                    }
                    Err(message) => {
                        reader.error(node.span(), message);
                        None
                    }
                })
        }
    };
    let timeout = match fields.get("timeout") {
        None => Some(None),
        Some(node) => parse_timeout(reader, node, "an endpoint").map(Some),
    };
    Some(Endpoint {
        method: method?,
        path: path?,
        auth: auth?,
        rate_limit: rate_limit?,
        max_body: max_body?,
        timeout: timeout?,
        location: reader.location_or_start(start(node)),
    })
}

/// An access rule (`auth:` of an endpoint, of `headless:`): `public`, `authenticated` or
/// `role:<name>`.
pub(crate) fn parse_access(reader: &mut Reader<'_>, node: &Node) -> Option<Access> {
    let text = reader.non_empty_string(node, "`auth`")?;
    match text.as_str() {
        "public" => Some(Access::Public),
        "authenticated" => Some(Access::Authenticated),
        other => match other.strip_prefix("role:").map(str::trim) {
            Some(role) if !role.is_empty() && !role.contains(char::is_whitespace) => {
                Some(Access::Role(role.to_string()))
            }
            _ => {
                reader.error_with_hint(
                    start(node),
                    format!("`{text}` is not an access rule"),
                    "use `public`, `authenticated` or `role:<name>`",
                );
                None
            }
        },
    }
}
