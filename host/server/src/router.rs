//! Routes of the Directive's request handlers, built once at start-up.

use std::collections::HashMap;

use karman_directive::App;

/// What a request path resolved to.
pub(crate) enum Route {
    /// A handler (index in `App::handlers`) with the resource's parameters.
    Handler {
        index: usize,
        params: Vec<(String, String)>,
    },
    /// The path exists for other methods only.
    MethodNotAllowed { allow: String },
    /// No handler has this path.
    NotFound,
}

/// Method → path router.
pub(crate) struct Router {
    by_method: HashMap<String, matchit::Router<usize>>,
}

impl Router {
    /// Builds the router; fails (naming both handlers) when two resources conflict.
    pub(crate) fn new(app: &App) -> Result<Self, String> {
        let mut by_method: HashMap<String, matchit::Router<usize>> = HashMap::new();
        for (index, handler) in app.handlers.iter().enumerate() {
            let router = by_method.entry(handler.method.clone()).or_default();
            router
                .insert(handler.resource.to_matchit(), index)
                .map_err(|e| {
                    format!(
                        "{}: `{} {}` conflicts with another handler: {e}",
                        handler.location, handler.method, handler.resource
                    )
                })?;
        }
        Ok(Self { by_method })
    }

    pub(crate) fn route(&self, method: &str, path: &str) -> Route {
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
            return Route::NotFound;
        }
        allowed.sort_unstable();
        Route::MethodNotAllowed {
            allow: allowed.join(", "),
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<Route> {
        let matched = self.by_method.get(method)?.at(path).ok()?;
        Some(Route::Handler {
            index: *matched.value,
            params: matched
                .params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        })
    }
}
