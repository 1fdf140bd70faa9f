//! Custom routes (`routes:`): `wasi:http` components mounted at `/ext/<plugin><path>`, and the
//! JWT verification (`authentication.jwt`) their endpoints use.
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
//!
//! A plugin owns only `/ext/<plugin>/…`, so it can shadow neither Karman's own paths nor another
//! plugin's. Each endpoint says who may call it: `public`, `authenticated` (a valid token) or
//! `role:<name>` (a valid token whose roles include the name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marked_yaml::Node;

use crate::error::Location;
use crate::model::{
    Access, Component, ComponentId, DEFAULT_JWT_LEEWAY, DEFAULT_ROLES_CLAIM, Endpoint, Jwt, JwtKey,
    RateLimit, Resource, Route,
};
use crate::units::{parse_byte_size, parse_duration};
use crate::yaml::{Reader, start};

const ROUTE: &[&str] = &["plugin", "component", "endpoints"];
const ENDPOINT: &[&str] = &["method", "path", "auth", "rateLimit", "maxBody", "timeout"];
const JWT: &[&str] = &[
    "algorithm",
    "secret",
    "publicKey",
    "jwks",
    "issuer",
    "audience",
    "leeway",
    "rolesClaim",
];
const ALGORITHMS: &[&str] = &["HS256", "RS256", "ES256"];

pub(crate) fn parse_jwt(reader: &mut Reader<'_>, node: &Node, base_dir: &Path) -> Option<Jwt> {
    let what = "`authentication.jwt`";
    let fields = reader.mapping(node, what, JWT)?;
    let algorithm_node = reader.required(fields, "algorithm", what)?;
    let algorithm = reader
        .non_empty_string(algorithm_node, "`algorithm`")?
        .to_ascii_uppercase();
    if !ALGORITHMS.contains(&algorithm.as_str()) {
        reader.error_with_hint(
            start(algorithm_node),
            format!("`{algorithm}` is not a JWT algorithm Karman verifies"),
            format!("use one of: {}", ALGORITHMS.join(", ")),
        );
        return None;
    }
    let given: Vec<&str> = ["secret", "publicKey", "jwks"]
        .into_iter()
        .filter(|key| fields.get(key).is_some())
        .collect();
    let wanted = if algorithm == "HS256" {
        "`secret`"
    } else {
        "`publicKey` or `jwks`"
    };
    let key = match (algorithm.as_str(), given.as_slice()) {
        ("HS256", ["secret"]) => {
            let node = fields.get("secret")?;
            let secret = reader.string_or_env(node, "`secret`")?;
            if secret.len() < 32 {
                reader.error_with_hint(
                    start(node),
                    "the HS256 `secret` is shorter than 32 bytes",
                    "use a random secret of at least 32 bytes (e.g. `openssl rand -hex 32`)",
                );
                return None;
            }
            JwtKey::Hs256 { secret }
        }
        (_, ["publicKey"]) if algorithm != "HS256" => {
            let node = fields.get("publicKey")?;
            let (pem, path) = read_key_file(reader, node, base_dir, "`publicKey`")?;
            if !pem.contains("-----BEGIN") {
                reader.error_with_hint(
                    start(node),
                    format!("`{}` is not a PEM file", path.display()),
                    "give the issuer's public key as PEM (`-----BEGIN PUBLIC KEY-----`)",
                );
                return None;
            }
            JwtKey::PublicKey {
                algorithm: algorithm.clone(),
                pem,
                path,
            }
        }
        (_, ["jwks"]) if algorithm != "HS256" => {
            let node = fields.get("jwks")?;
            let (json, path) = read_key_file(reader, node, base_dir, "`jwks`")?;
            JwtKey::Jwks {
                algorithm: algorithm.clone(),
                json,
                path,
            }
        }
        _ => {
            reader.error_with_hint(
                start(algorithm_node),
                format!(
                    "{algorithm} needs {wanted}, and only it (given: {})",
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
                "HS256 verifies with `secret: env(NAME)`; RS256 and ES256 with `publicKey: <file.pem>` or `jwks: <file.json>`",
            );
            return None;
        }
    };
    let optional = |reader: &mut Reader<'_>, key: &str| match fields.get(key) {
        Some(node) => reader
            .string_or_env(node, &format!("`{key}`"))
            .map(|value| Some(value).filter(|v| !v.is_empty())),
        None => Some(None),
    };
    let issuer = optional(reader, "issuer");
    let audience = optional(reader, "audience");
    let roles_claim = optional(reader, "rolesClaim");
    let leeway = match fields.get("leeway") {
        None => Some(DEFAULT_JWT_LEEWAY),
        Some(node) => {
            reader
                .string(node, "`leeway`")
                .and_then(|text| match parse_duration(&text) {
                    Ok(leeway) if leeway <= Duration::from_secs(300) => Some(leeway),
                    Ok(_) => {
                        reader.error(node.span(), "`leeway` must be at most 5m");
                        None
                    }
                    Err(message) => {
                        reader.error(node.span(), message);
                        None
                    }
                })
        }
    };
    Some(Jwt {
        key,
        issuer: issuer?,
        audience: audience?,
        leeway: leeway?,
        roles_claim: roles_claim?.unwrap_or_else(|| DEFAULT_ROLES_CLAIM.to_string()),
        location: reader.location_or_start(start(node)),
    })
}

fn read_key_file(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    what: &str,
) -> Option<(String, PathBuf)> {
    let text = reader.string_or_env(node, what)?;
    let path = base_dir.join(&text);
    match std::fs::read_to_string(&path) {
        Ok(contents) => Some((contents, path)),
        Err(error) => {
            reader.error_with_hint(
                start(node),
                format!("cannot read {what} `{text}`: {error}"),
                "paths are relative to the Directive",
            );
            None
        }
    }
}

pub(crate) fn parse_routes(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
) -> Vec<Route> {
    let Some(items) = reader.sequence(node, "`routes`") else {
        return Vec::new();
    };
    crate::parse::unique_by_name(
        reader,
        items,
        |reader, item| parse_route(reader, item, components),
        |route| ("plugin", &route.plugin, &route.location),
    )
}

fn parse_route(reader: &mut Reader<'_>, node: &Node, components: &[Component]) -> Option<Route> {
    let fields = reader.mapping(node, "a route", ROUTE)?;
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
                    let hint = match crate::did_you_mean(&name, names.iter().copied()) {
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
    let fields = reader.mapping(node, &format!("an endpoint of {what}"), ENDPOINT)?;
    let method = reader
        .required(fields, "method", "an endpoint")
        .and_then(|node| crate::parse::parse_method(reader, node));
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
        .and_then(|node| {
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
        });
    let rate_limit = match fields.get("rateLimit") {
        None => Some(None),
        Some(node) => {
            reader
                .string(node, "`rateLimit`")
                .and_then(|text| match parse_rate_limit(&text) {
                    Ok(limit) => Some(Some(limit)),
                    Err(message) => {
                        reader.error_with_hint(
                            node.span(),
                            message,
                            "write `<count>/s`, `<count>/m` or `<count>/h`, e.g. `50/s`",
                        );
                        None
                    }
                })
        }
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
        Some(node) => crate::parse::parse_timeout(reader, node, "an endpoint").map(Some),
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

/// `50/s`, `600/m`, `1000/h`.
pub(crate) fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    let (count, per) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a rate"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|&count| count > 0)
        .ok_or_else(|| format!("`{text}`: `{count}` is not a positive whole number"))?;
    let per = match per.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("`{text}`: `{other}` is not `s`, `m` or `h`")),
    };
    Ok(RateLimit { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_a_count_per_second_minute_or_hour() {
        assert_eq!(
            parse_rate_limit("50/s"),
            Ok(RateLimit {
                count: 50,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!(
            parse_rate_limit(" 600 / m ").unwrap().per,
            Duration::from_secs(60)
        );
        assert!(parse_rate_limit("0/s").is_err());
        assert!(parse_rate_limit("5/d").is_err());
        assert!(parse_rate_limit("fast").is_err());
    }
}
