//! `authentication:`: the credentials the host adds to outbound requests for a domain
//! (`domains`), and how bearer tokens of callers of custom routes are verified (`jwt`).
//!
//! ```yaml
//! authentication:
//!   domains:
//!     api.github.com: { headerType: bearer, value: env(GITHUB_TOKEN) }
//!   jwt: { algorithm: HS256, secret: env(JWT_SECRET), issuer: https://auth.example.com }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use marked_yaml::Node;

use crate::keys;
use crate::model::{
    Authentication, DEFAULT_JWT_LEEWAY, DEFAULT_ROLES_CLAIM, DomainCredential, HostPattern, Jwt,
    JwtKey,
};
use crate::units::parse_duration;
use crate::yaml::{Reader, start};

const ALGORITHMS: &[&str] = &["HS256", "RS256", "ES256"];

/// `authentication:`: `jwt` and `domains`.
pub(crate) fn parse_authentication(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
) -> Option<Authentication> {
    let fields = reader.mapping(node, "`authentication`", &keys::AUTHENTICATION)?;
    let mut authentication = Authentication::default();
    if let Some(jwt) = fields.get("jwt") {
        authentication.jwt = Some(parse_jwt(reader, jwt, base_dir)?);
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
    let fields = reader.mapping(node, &what, &keys::CREDENTIAL)?;
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

fn parse_jwt(reader: &mut Reader<'_>, node: &Node, base_dir: &Path) -> Option<Jwt> {
    let what = "`authentication.jwt`";
    let fields = reader.mapping(node, what, &keys::JWT)?;
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

/// The largest key or JWKS file read: 1 MiB.
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// The text of `path`, or `None` when it is larger than [`MAX_KEY_FILE_BYTES`] (never read
/// past that).
fn read_bounded(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read as _;
    let mut contents = String::new();
    std::fs::File::open(path)?
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut contents)?;
    Ok((contents.len() as u64 <= MAX_KEY_FILE_BYTES).then_some(contents))
}

fn read_key_file(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    what: &str,
) -> Option<(String, PathBuf)> {
    let text = reader.string_or_env(node, what)?;
    let path = base_dir.join(&text);
    match read_bounded(&path) {
        Ok(Some(contents)) => Some((contents, path)),
        Ok(None) => {
            reader.error(
                start(node),
                format!(
                    "{what} `{text}` is larger than {} KiB, the most a key or JWKS file may hold",
                    MAX_KEY_FILE_BYTES >> 10
                ),
            );
            None
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_read_up_to_their_bound() {
        let dir = std::env::temp_dir().join(format!("karman-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.pem");
        std::fs::write(&small, "key").unwrap();
        assert_eq!(read_bounded(&small).unwrap().as_deref(), Some("key"));
        let large = dir.join("large.json");
        std::fs::write(&large, vec![b' '; (MAX_KEY_FILE_BYTES + 1) as usize]).unwrap();
        assert_eq!(read_bounded(&large).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
