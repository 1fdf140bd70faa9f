//! Callers of custom routes: bearer JWTs verified per `authentication.jwt`, and the access rule
//! of each endpoint (`public`, `authenticated`, `role:<name>`).
//!
//! A token is accepted only when its `alg` is the configured one (so `none`, or an HMAC token
//! signed with a public key, never pass), its signature verifies, `exp` is in the future (with
//! the leeway), `nbf` (when present) has passed, and `iss`/`aud`, when configured, are present
//! and match.

use std::collections::HashMap;
use std::sync::Arc;

use http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use karman_directive::{Access, Jwt, JwtKey};
use karman_runtime::{HttpBody, Principal};

use crate::responses::error;

/// Verifies bearer tokens.
pub(crate) struct Verifier {
    algorithm: Algorithm,
    keys: Keys,
    validation: Validation,
    roles_claim: String,
}

enum Keys {
    One(DecodingKey),
    /// From a JWKS document: by `kid`, and the keys without one.
    ByKid {
        named: HashMap<String, DecodingKey>,
        unnamed: Vec<DecodingKey>,
    },
}

/// Why a request may not call an endpoint.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No token, or an invalid one: 401.
    Unauthenticated(String),
    /// A valid token without the role: 403.
    Forbidden(String),
}

impl Verifier {
    /// The verifier of `app.authentication.jwt`, if the app verifies tokens.
    pub(crate) fn of_app(app: &karman_directive::App) -> Result<Option<Self>, String> {
        app.authentication.jwt.as_ref().map(Self::new).transpose()
    }

    /// Prepares the keys of `jwt`; a key that cannot be used is an error naming it.
    pub(crate) fn new(jwt: &Jwt) -> Result<Self, String> {
        let at = &jwt.location;
        let (algorithm, keys) = match &jwt.key {
            JwtKey::Hs256 { secret } => {
                let key = DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|e| format!("{at}: the HS256 secret cannot be used: {e}"))?;
                (Algorithm::HS256, Keys::One(key))
            }
            JwtKey::PublicKey {
                algorithm,
                pem,
                path,
            } => {
                let (algorithm, key) = match algorithm.as_str() {
                    "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(pem.as_bytes())),
                    _ => (Algorithm::ES256, DecodingKey::from_ec_pem(pem.as_bytes())),
                };
                let key = key.map_err(|e| {
                    format!(
                        "{at}: `{}` is not a {algorithm:?} public key: {e}",
                        path.display()
                    )
                })?;
                (algorithm, Keys::One(key))
            }
            JwtKey::Jwks {
                algorithm,
                json,
                path,
            } => {
                let algorithm = if algorithm == "RS256" {
                    Algorithm::RS256
                } else {
                    Algorithm::ES256
                };
                let set: JwkSet = serde_json::from_str(json).map_err(|e| {
                    format!("{at}: `{}` is not a JWKS document: {e}", path.display())
                })?;
                let mut named = HashMap::new();
                let mut unnamed = Vec::new();
                for jwk in &set.keys {
                    let key = DecodingKey::from_jwk(jwk).map_err(|e| {
                        format!("{at}: a key of `{}` cannot be used: {e}", path.display())
                    })?;
                    match &jwk.common.key_id {
                        Some(kid) => {
                            named.insert(kid.clone(), key);
                        }
                        None => unnamed.push(key),
                    }
                }
                if named.is_empty() && unnamed.is_empty() {
                    return Err(format!("{at}: `{}` holds no key", path.display()));
                }
                (algorithm, Keys::ByKid { named, unnamed })
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = jwt.leeway.as_secs();
        validation.validate_nbf = true;
        // A configured `iss` or `aud` is required: a token without the claim is refused, not
        // waved through (the check alone only runs on claims that are present).
        let mut required = vec!["exp"];
        match &jwt.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &jwt.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Self {
            algorithm,
            keys,
            validation,
            roles_claim: jwt.roles_claim.clone(),
        })
    }

    /// The principal of a valid `token`, or why it is not valid.
    pub(crate) fn verify(&self, token: &str) -> Result<Principal, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if header.alg != self.algorithm {
            return Err(format!(
                "the token is signed with {:?}; this server accepts {:?}",
                header.alg, self.algorithm
            ));
        }
        let candidates: Vec<&DecodingKey> = match &self.keys {
            Keys::One(key) => vec![key],
            Keys::ByKid { named, unnamed } => match header.kid.as_deref() {
                Some(kid) => vec![
                    named
                        .get(kid)
                        .ok_or_else(|| format!("unknown key id `{kid}`"))?,
                ],
                None => unnamed.iter().chain(named.values()).collect(),
            },
        };
        let mut last = String::from("no key");
        for key in candidates {
            match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                token,
                key,
                &self.validation,
            ) {
                Ok(data) => return Ok(self.principal(data.claims)),
                Err(error) => last = describe(&error),
            }
        }
        Err(last)
    }

    fn principal(&self, claims: serde_json::Map<String, serde_json::Value>) -> Principal {
        let roles = match claims.get(&self.roles_claim) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(text)) => {
                text.split_whitespace().map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        Principal {
            subject: claims
                .get("sub")
                .and_then(|sub| sub.as_str())
                .map(str::to_string),
            roles,
            claims,
        }
    }
}

fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer (iss) is not accepted".into(),
        ErrorKind::InvalidAudience => "the token's audience (aud) is not accepted".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        _ => format!("invalid token: {error}"),
    }
}

/// Applies `access` to a request's `authorization` header value: the principal to give the
/// handler (none for a public call without a token), or why the call is refused. On a public
/// endpoint an invalid token is refused too: a caller who sends one expects it to count.
pub(crate) fn authorize(
    verifier: Option<&Verifier>,
    access: &Access,
    authorization: Option<&str>,
) -> Result<Option<Arc<Principal>>, Denied> {
    let token = match authorization {
        None => None,
        Some(value) => {
            let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(Denied::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                ));
            }
            Some(token.trim())
        }
    };
    let principal = match (token, verifier) {
        (None, _) if *access == Access::Public => return Ok(None),
        (None, _) => {
            return Err(Denied::Unauthenticated(
                "this endpoint needs a bearer token".into(),
            ));
        }
        (Some(_), None) => {
            return Err(Denied::Unauthenticated(
                "this server verifies no tokens (no `authentication.jwt`)".into(),
            ));
        }
        (Some(token), Some(verifier)) => verifier.verify(token).map_err(Denied::Unauthenticated)?,
    };
    if let Access::Role(role) = access
        && !principal.roles.iter().any(|r| r == role)
    {
        return Err(Denied::Forbidden(format!(
            "this endpoint needs the role `{role}`"
        )));
    }
    Ok(Some(Arc::new(principal)))
}

/// [`authorize`] on a request's `Authorization` header.
pub(crate) fn authorize_request<B>(
    verifier: Option<&Verifier>,
    access: &Access,
    request: &Request<B>,
) -> Result<Option<Arc<Principal>>, Denied> {
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    authorize(verifier, access, authorization)
}

impl Denied {
    /// The refusal as a response: 401 with `WWW-Authenticate: Bearer`, or 403.
    pub(crate) fn into_response(self, request_id: &str) -> Response<HttpBody> {
        match self {
            Denied::Unauthenticated(why) => {
                tracing::debug!(request_id, %why, "unauthenticated call");
                let mut response = error(StatusCode::UNAUTHORIZED, 401, &why, request_id);
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Denied::Forbidden(why) => error(StatusCode::FORBIDDEN, 403, &why, request_id),
        }
    }
}
