//! `karman:runnable/principal`: the caller of a custom route, as the host verified it (a JWT,
//! checked before the component runs). Never read from anything the client can forge: a step
//! or a public call without a token sees no subject and no roles.

use std::sync::Arc;

use crate::bindings::principal;

/// A verified caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Principal {
    /// The `sub` claim.
    pub subject: Option<String>,
    /// The roles the token grants.
    pub roles: Vec<String>,
    /// Every claim of the token.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The `principal` capability of an instance.
#[derive(Default)]
pub(crate) struct PrincipalCtx {
    pub(crate) principal: Option<Arc<Principal>>,
}

impl principal::Host for PrincipalCtx {
    fn subject(&mut self) -> Option<String> {
        self.principal.as_ref()?.subject.clone()
    }

    fn roles(&mut self) -> Vec<String> {
        self.principal
            .as_ref()
            .map(|p| p.roles.clone())
            .unwrap_or_default()
    }

    fn claim(&mut self, name: String) -> Option<String> {
        let value = self.principal.as_ref()?.claims.get(&name)?;
        Some(value.to_string())
    }
}
