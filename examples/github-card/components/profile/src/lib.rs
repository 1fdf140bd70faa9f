//! `profile`: the user's name, bio and follower count from GitHub's GraphQL API. The endpoint
//! comes from the handler's `state:`; the token is added by the host (never seen here).

use karman_sdk::graphql::{self, QueryError};
use karman_sdk::{CapabilityError, RunErr, Runnable, req};

const QUERY: &str =
    "query($login: String!) { user(login: $login) { login name bio followers { totalCount } } }";

struct Profile;

/// A GitHub login: 1–39 letters, digits or single hyphens.
fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !login.starts_with('-')
}

impl Runnable for Profile {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let login = req::url_param("login").unwrap_or_default();
        if !valid_login(&login) {
            return Err(RunErr::new(400, format!("`{login}` is not a GitHub login")));
        }
        let endpoint = req::state_text("graphql")
            .ok_or_else(|| RunErr::new(500, "the handler's state has no `graphql` endpoint"))?;
        let variables = serde_json::json!({ "login": login }).to_string();
        let data = graphql::query(&endpoint, QUERY, &variables).map_err(|error| match error {
            // GitHub answers an unknown login with a GraphQL error rather than a null user.
            QueryError::Server(messages)
                if messages
                    .iter()
                    .any(|m| m.starts_with("Could not resolve to a User")) =>
            {
                RunErr::new(404, format!("no GitHub user `{login}`"))
            }
            // The API refused or failed (e.g. 401 for a bad token): a bad gateway, not our bug.
            QueryError::Capability(CapabilityError::Other(message)) => RunErr::new(502, message),
            other => other.into(),
        })?;
        let data: serde_json::Value = serde_json::from_str(&data)
            .map_err(|e| RunErr::new(502, format!("the API answered invalid JSON: {e}")))?;
        let user = &data["user"];
        if user.is_null() {
            return Err(RunErr::new(404, format!("no GitHub user `{login}`")));
        }
        let profile = serde_json::json!({
            "login": user["login"],
            "name": user["name"],
            "bio": user["bio"],
            "followers": user["followers"]["totalCount"],
        });
        Ok(profile.to_string().into_bytes())
    }
}

karman_sdk::export!(Profile);
