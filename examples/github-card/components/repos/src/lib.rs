//! `repos`: the user's five most recently updated repositories from GitHub's REST API, through
//! the `http` capability. The API base comes from the handler's `state:`; the token is added by
//! the host.

use karman_sdk::http::{self, Request};
use karman_sdk::{RunErr, Runnable, req};

struct Repos;

impl Runnable for Repos {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let login = req::url_param("login").unwrap_or_default();
        if login.is_empty() || !login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(RunErr::new(400, format!("`{login}` is not a GitHub login")));
        }
        let api = req::state_text("api")
            .ok_or_else(|| RunErr::new(500, "the handler's state has no `api` base URL"))?;
        let url = format!(
            "{}/users/{login}/repos?sort=updated&per_page=5",
            api.trim_end_matches('/')
        );
        let response = http::send(&Request {
            method: "GET".into(),
            url,
            headers: vec![("accept".into(), "application/vnd.github+json".into())],
            body: Vec::new(),
            timeout_ms: Some(5_000),
        })?;
        match response.status {
            200 => {}
            404 => return Err(RunErr::new(404, format!("no GitHub user `{login}`"))),
            status => {
                return Err(RunErr::new(
                    502,
                    format!("the API answered {status}: {}", response.text()),
                ));
            }
        }
        let repos: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| RunErr::new(502, format!("the API answered invalid JSON: {e}")))?;
        let repos: Vec<serde_json::Value> = repos
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|repo| {
                        serde_json::json!({
                            "name": repo["name"],
                            "stars": repo["stargazers_count"],
                            "description": repo["description"],
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(serde_json::Value::from(repos).to_string().into_bytes())
    }
}

karman_sdk::export!(Repos);
