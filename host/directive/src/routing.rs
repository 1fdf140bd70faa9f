//! Method and path routing over resource patterns, built once at start-up: the Directive's
//! request handlers, and the endpoints of its custom routes. (A Directive "route" is a custom
//! route; what this router finds for a request is a [`Match`].)
//!
//! Matching follows [`Resource`]: a literal segment matches itself, `:name` one non-empty
//! segment, `*name` the non-empty rest of the path; a literal segment wins over a parameter.
//! `HEAD` falls back to the `GET` entry.
//!
//! ```
//! use karman_directive::routing::{Entry, Match, Router};
//! use karman_directive::{Location, Resource};
//!
//! let resource = Resource::parse("/hello/:name").unwrap();
//! let location = Location { file: "Directive.yaml".into(), line: 1, column: 1 };
//! let entries = [Entry { method: "GET", resource: &resource, location: &location }];
//! let router = Router::build(entries).unwrap();
//! match router.route("GET", "/hello/ada") {
//!     Match::Handler { index, params } => {
//!         assert_eq!(index, 0);
//!         assert_eq!(params, [("name".to_string(), "ada".to_string())]);
//!     }
//!     _ => panic!("`/hello/ada` is routed"),
//! }
//! assert!(matches!(router.route("POST", "/hello/ada"), Match::MethodNotAllowed { .. }));
//! assert!(matches!(router.route("GET", "/hello"), Match::NotFound));
//! ```

use std::collections::HashMap;

use crate::{App, Location, Resource};

/// What a request's method and path resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// An entry (its index among the routed entries) with the resource's parameters, in the
    /// order of the pattern.
    Handler {
        /// The index of the entry, in the order given to [`Router::build`].
        index: usize,
        /// `(name, value)` of each `:name` and `*name` of the pattern.
        params: Vec<(String, String)>,
    },
    /// The path exists for other methods only.
    MethodNotAllowed {
        /// Those methods, sorted and comma-separated (an `Allow` header's value).
        allow: String,
    },
    /// No entry has this path.
    NotFound,
}

/// One routed method and resource.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The HTTP method, as written in the Directive (upper case).
    pub method: &'a str,
    /// The resource pattern.
    pub resource: &'a Resource,
    /// Where the entry is declared (named when two entries conflict).
    pub location: &'a Location,
}

/// Method → path router.
#[derive(Debug, Default)]
pub struct Router {
    by_method: HashMap<String, matchit::Router<usize>>,
}

impl Router {
    /// Routes the request handlers of `app` (indexes in `App::handlers`).
    pub fn for_handlers(app: &App) -> Result<Self, String> {
        Self::build(app.handlers.iter().map(|handler| Entry {
            method: &handler.method,
            resource: &handler.resource,
            location: &handler.location,
        }))
    }

    /// Routes `entries` (indexes in their order); fails, naming the entry, when two resources
    /// conflict.
    pub fn build<'a>(entries: impl IntoIterator<Item = Entry<'a>>) -> Result<Self, String> {
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
    pub fn route(&self, method: &str, path: &str) -> Match {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> Location {
        Location {
            file: "Directive.yaml".into(),
            line: 1,
            column: 1,
        }
    }

    fn router(routes: &[(&str, &str)]) -> Result<Router, String> {
        let resources: Vec<Resource> = routes
            .iter()
            .map(|(_, pattern)| Resource::parse(pattern).unwrap())
            .collect();
        let location = location();
        Router::build(
            routes
                .iter()
                .zip(&resources)
                .map(|((method, _), resource)| Entry {
                    method,
                    resource,
                    location: &location,
                }),
        )
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let router = router(&[("GET", "/users/:id"), ("GET", "/users/me")]).unwrap();
        assert_eq!(
            router.route("GET", "/users/me"),
            Match::Handler {
                index: 1,
                params: vec![]
            }
        );
        assert_eq!(
            router.route("GET", "/users/ada"),
            Match::Handler {
                index: 0,
                params: vec![("id".into(), "ada".into())]
            }
        );
    }

    #[test]
    fn head_falls_back_to_get_and_other_methods_are_listed() {
        let router =
            router(&[("GET", "/a/*rest"), ("POST", "/a/*rest"), ("DELETE", "/b")]).unwrap();
        assert_eq!(
            router.route("HEAD", "/a/b/c"),
            Match::Handler {
                index: 0,
                params: vec![("rest".into(), "b/c".into())]
            }
        );
        assert_eq!(
            router.route("PUT", "/a/b"),
            Match::MethodNotAllowed {
                allow: "GET, POST".into()
            }
        );
        assert_eq!(router.route("GET", "/a/"), Match::NotFound);
        assert_eq!(router.route("GET", "/c"), Match::NotFound);
    }

    #[test]
    fn conflicting_resources_are_refused_naming_the_entry() {
        let error = router(&[("GET", "/users/:id"), ("GET", "/users/:name")]).unwrap_err();
        assert!(
            error.starts_with("Directive.yaml:1:1: `GET /users/:name` conflicts"),
            "{error}"
        );
    }
}
