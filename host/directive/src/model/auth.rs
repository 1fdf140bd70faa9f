//! Authentication: the credentials the host adds to outbound requests (`domains`), and how the
//! bearer tokens of callers of custom routes are verified (`jwt`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Location;

/// Default for `authentication.jwt.leeway`: clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// Default for `authentication.jwt.rolesClaim`.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";

/// How the host authenticates requests to one domain.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainCredential {
    /// The header the host sets.
    pub header: String,
    /// Its value (a secret: never printed, see `Debug`).
    pub value: String,
    /// Where it is declared.
    pub location: Location,
}

impl fmt::Debug for DomainCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainCredential")
            .field("header", &self.header)
            .field("value", &"<redacted>")
            .field("location", &self.location)
            .finish()
    }
}

/// `authentication:` of the Directive.
#[derive(Debug, Clone, Default)]
pub struct Authentication {
    /// Host (lower case, or `*.domain`) → the credential the host adds to requests to it.
    pub domains: BTreeMap<String, DomainCredential>,
    /// How bearer tokens of callers of custom routes are verified.
    pub jwt: Option<Jwt>,
}

impl Authentication {
    /// The credential for requests to `host`, if any (exact entries before wildcards).
    pub fn credential_for(&self, host: &str) -> Option<&DomainCredential> {
        let host = host.to_ascii_lowercase();
        self.domains.get(&host).or_else(|| {
            self.domains.iter().find_map(|(pattern, credential)| {
                let domain = pattern.strip_prefix("*.")?;
                (host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.'))
                .then_some(credential)
            })
        })
    }
}

/// `authentication.jwt`: how bearer tokens of custom routes are verified.
#[derive(Clone)]
pub struct Jwt {
    /// The algorithm and key tokens must be signed with (`alg` of the token must match).
    pub key: JwtKey,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The claim holding the roles (a list of strings, or one space-separated string).
    pub roles_claim: String,
    /// Where it is declared.
    pub location: Location,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("roles_claim", &self.roles_claim)
            .finish()
    }
}

/// The key tokens are verified with.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// HS256 with a shared secret (never printed).
    Hs256 {
        /// The secret.
        secret: String,
    },
    /// RS256 or ES256 with a PEM public key.
    PublicKey {
        /// `RS256` or `ES256`.
        algorithm: String,
        /// The PEM text.
        pem: String,
        /// The file it was read from.
        path: PathBuf,
    },
    /// RS256 or ES256 with the keys of a JWKS document, chosen by the token's `kid`.
    Jwks {
        /// `RS256` or `ES256`.
        algorithm: String,
        /// The JWKS JSON text.
        json: String,
        /// The file it was read from.
        path: PathBuf,
    },
}

impl JwtKey {
    /// The algorithm tokens must use.
    pub fn algorithm(&self) -> &str {
        match self {
            JwtKey::Hs256 { .. } => "HS256",
            JwtKey::PublicKey { algorithm, .. } | JwtKey::Jwks { algorithm, .. } => algorithm,
        }
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtKey::Hs256 { .. } => f.write_str("Hs256 { secret: <redacted> }"),
            JwtKey::PublicKey {
                algorithm, path, ..
            } => write!(f, "PublicKey {{ algorithm: {algorithm}, path: {path:?} }}"),
            JwtKey::Jwks {
                algorithm, path, ..
            } => write!(f, "Jwks {{ algorithm: {algorithm}, path: {path:?} }}"),
        }
    }
}
