//! Method and path routing, built once at start-up: the Directive's request handlers, and the
//! endpoints of its custom routes. (A Directive "route" is a custom route; what this router
//! finds for a request is a [`Match`].)

use std::collections::HashMap;

use karman_directive::{App, Location, Resource};

/// What a request's method and path resolved to.
pub(crate) enum Match {
    /// A handler (its index among the routed entries) with the resource's parameters.
    Handler {
        index: usize,
        params: Vec<(String, String)>,
    },
    /// The path exists for other methods only.
    MethodNotAllowed { allow: String },
    /// No handler has this path.
    NotFound,
}

/// One routed method and resource.
pub(crate) struct Entry<'a> {
    pub(crate) method: &'a str,
    pub(crate) resource: &'a Resource,
    pub(crate) location: &'a Location,
}

/// Method → path router.
pub(crate) struct Router {
    by_method: HashMap<String, matchit::Router<usize>>,
}

impl Router {
    /// Routes the request handlers of `app` (indexes in `App::handlers`).
    pub(crate) fn new(app: &App) -> Result<Self, String> {
        Self::build(app.handlers.iter().map(|handler| Entry {
            method: &handler.method,
            resource: &handler.resource,
            location: &handler.location,
        }))
    }

    /// Routes `entries` (indexes in their order); fails, naming the entry, when two resources
    /// conflict.
    pub(crate) fn build<'a>(entries: impl IntoIterator<Item = Entry<'a>>) -> Result<Self, String> {
        let mut by_method: HashMap<String, matchit::Router<usize>> = HashMap::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let router = by_method.entry(entry.method.to_string()).or_default();
            router
                .insert(entry.resource.to_matchit(), index)
                .map_err(|e| {
                    format!(
                        "{}: `{} {}` conflicts with another route: {e}",
                        entry.location, entry.method, entry.resource
                    )
                })?;
        }
        Ok(Self { by_method })
    }

    /// The entry for `method` and `path` (HEAD falls back to GET), or why there is none.
    pub(crate) fn route(&self, method: &str, path: &str) -> Match {
        if let Some(route) = self.find(method, path) {
            return route;
        }
        // HEAD is answered by the GET handler when there is no HEAD handler.
        if method == "HEAD"
            && let Some(route) = self.find("GET", path)
        {
            return route;
        }
        let mut allowed: Vec<&str> = self
            .by_method
            .iter()
            .filter(|(_, router)| router.at(path).is_ok())
            .map(|(method, _)| method.as_str())
            .collect();
        if allowed.is_empty() {
            return Match::NotFound;
        }
        allowed.sort_unstable();
        Match::MethodNotAllowed {
            allow: allowed.join(", "),
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<Match> {
        let matched = self.by_method.get(method)?.at(path).ok()?;
        Some(Match::Handler {
            index: *matched.value,
            params: matched
                .params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        })
    }
}
