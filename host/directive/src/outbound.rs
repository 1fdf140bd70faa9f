//! Outbound access: the `http` and `graphql` grants (which hosts a component may call) and
//! `authentication.domains` (the credentials the host adds for a domain).
//!
//! ```yaml
//! components:
//!   - name: fetch-repo
//!     capabilities:
//!       http: { allow: ["api.github.com", "*.example.com", "https://api.stripe.com:443"] }
//!       graphql: { allow: ["api.github.com"] }
//! authentication:
//!   domains:
//!     api.github.com: { headerType: bearer, value: env(GITHUB_TOKEN) }
//! ```
//!
//! | allow entry               | matches                                        |
//! |---------------------------|------------------------------------------------|
//! | `api.github.com`          | that host, http or https, any port             |
//! | `*.example.com`           | any subdomain of example.com (not example.com) |
//! | `https://api.stripe.com`  | that host over https only                      |
//! | `api.local:8080`          | that host on port 8080 only                    |
//!
//! An empty list allows nothing. Addresses in private, loopback, link-local and unique-local
//! ranges are refused (after DNS resolution, at every redirect) unless `allowPrivate: true`.

use std::path::Path;

use marked_yaml::Node;

use crate::model::{Authentication, DomainCredential, HostPattern, OutboundGrant};
use crate::yaml::{Reader, start};

const OUTBOUND_GRANT: &[&str] = &["allow", "allowPrivate"];
const AUTHENTICATION: &[&str] = &["domains", "jwt"];
const DOMAIN: &[&str] = &["headerType", "value"];

pub(crate) fn parse_grant(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
    capability: &str,
) -> Option<OutboundGrant> {
    let context = format!("the `{capability}` grant of {what}");
    let fields = reader.mapping(node, &context, OUTBOUND_GRANT)?;
    let mut grant = OutboundGrant::default();
    let mut ok = true;
    if let Some(list) = fields.get("allow") {
        for item in reader.sequence(list, &format!("`allow` of {context}"))? {
            let Some(text) = reader
                .non_empty_string(item, "an allowed host")
                .and_then(|text| reader.resolve_env(item.span(), text, "an allowed host"))
            else {
                ok = false;
                continue;
            };
            match HostPattern::parse(&text) {
                Ok(pattern) => grant.allow.push(pattern),
                Err(message) => {
                    reader.error(item.span(), message);
                    ok = false;
                }
            }
        }
    }
    if let Some(private) = fields.get("allowPrivate") {
        grant.allow_private = reader.boolean_or_env(private, "`allowPrivate`")?;
    }
    ok.then_some(grant)
}

pub(crate) fn parse_authentication(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
) -> Option<Authentication> {
    let fields = reader.mapping(node, "`authentication`", AUTHENTICATION)?;
    let mut authentication = Authentication::default();
    if let Some(jwt) = fields.get("jwt") {
        authentication.jwt = Some(crate::routes::parse_jwt(reader, jwt, base_dir)?);
    }
    let Some(domains) = fields.get("domains") else {
        return Some(authentication);
    };
    let Some(map) = domains.as_mapping() else {
        reader.error(
            start(domains),
            "`authentication.domains` must map hosts to credentials",
        );
        return None;
    };
    let mut ok = true;
    for (host, entry) in map.iter() {
        let Some(name) = reader.resolve_env(host.span(), host.as_str().to_string(), "a domain")
        else {
            ok = false;
            continue;
        };
        let pattern = match HostPattern::parse(&name) {
            Ok(pattern) if pattern.scheme.is_none() && pattern.port.is_none() => pattern.host,
            _ => {
                reader.error_with_hint(
                    host.span(),
                    format!("`{name}` is not a domain"),
                    "write a host like `api.github.com` or `*.example.com`",
                );
                ok = false;
                continue;
            }
        };
        match parse_credential(reader, entry, &name) {
            Some(credential) => {
                authentication.domains.insert(pattern, credential);
            }
            None => ok = false,
        }
    }
    ok.then_some(authentication)
}

fn parse_credential(reader: &mut Reader<'_>, node: &Node, host: &str) -> Option<DomainCredential> {
    let what = format!("the credential of `{host}`");
    let fields = reader.mapping(node, &what, DOMAIN)?;
    let kind_node = reader.required(fields, "headerType", &what)?;
    let kind = reader.string(kind_node, "`headerType`")?;
    let value = reader
        .required(fields, "value", &what)
        .and_then(|n| reader.string_or_env(n, "`value`"))?;
    let (header, value) = match kind.as_str() {
        "bearer" => ("authorization".to_string(), format!("Bearer {value}")),
        "basic" => (
            "authorization".to_string(),
            format!("Basic {}", base64(value.as_bytes())),
        ),
        other => match other.strip_prefix("header:") {
            Some(name)
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                (name.to_ascii_lowercase(), value)
            }
            _ => {
                reader.error_with_hint(
                    kind_node.span(),
                    format!("`{other}` is not a header type"),
                    "use `bearer`, `basic` (value `user:password`) or `header:<Name>`",
                );
                return None;
            }
        },
    };
    Some(DomainCredential {
        header,
        value,
        location: reader.location_or_start(start(node)),
    })
}

/// Standard base64 (for `basic` credentials).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16
            | chunk.get(1).map_or(0, |&b| u32::from(b)) << 8
            | chunk.get(2).map_or(0, |&b| u32::from(b));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
