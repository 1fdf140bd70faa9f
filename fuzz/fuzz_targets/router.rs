//! The resource router on arbitrary routes and paths. The input is text (invalid UTF-8
//! replaced): lines up to the first empty line are routes, `METHOD /pattern` or `/pattern`
//! (GET); the lines after it are request paths. Patterns the Directive refuses are skipped, as
//! are routes that conflict with one already taken (the server refuses to start with those).
//!
//! For every path and method, the router never panics, answers the same twice, and agrees with
//! a plain reference matcher written from the pattern rules (`model/resource.rs`):
//! - a handler it returns has the method (or GET for HEAD), its pattern matches the path, and
//!   its params are exactly the pattern's, with the values the path holds (so each is a
//!   non-empty substring of the path);
//! - when it returns no handler, no route of that method (nor GET for HEAD) matches the path;
//! - 405 lists exactly the methods with a route matching the path, sorted; 404 means none.

#![no_main]

use karman_directive::routing::{Entry, Match, Router};
use karman_directive::{Location, Resource, Segment};
use libfuzzer_sys::fuzz_target;

/// Bounds on one input, so one run stays quick.
const MAX_ROUTES: usize = 32;
const MAX_PATHS: usize = 32;

/// Methods probed for every path, besides those of the routes.
const PROBED: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// The params of `resource` for `path`, when it matches, by the rules of the pattern syntax:
/// a literal matches itself, `:name` one non-empty segment, `*name` the non-empty rest.
fn reference_match(resource: &Resource, path: &str) -> Option<Vec<(String, String)>> {
    let mut rest = path.strip_prefix('/')?;
    let mut params = Vec::new();
    for (i, segment) in resource.segments().iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('/')?;
        }
        let end = rest.find('/').unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        match segment {
            Segment::Literal(literal) => {
                if part != literal {
                    return None;
                }
                rest = tail;
            }
            Segment::Param(name) => {
                if part.is_empty() {
                    return None;
                }
                params.push((name.clone(), part.to_string()));
                rest = tail;
            }
            Segment::Wildcard(name) => {
                if rest.is_empty() {
                    return None;
                }
                params.push((name.clone(), rest.to_string()));
                rest = "";
            }
        }
    }
    rest.is_empty().then_some(params)
}

struct Route {
    method: String,
    resource: Resource,
}

fn parse_route(line: &str) -> Option<Route> {
    let (method, pattern) = match line.split_once(' ') {
        Some((method, pattern)) if !method.is_empty() && !method.starts_with('/') => {
            (method, pattern)
        }
        _ => ("GET", line),
    };
    let method = method.to_ascii_uppercase();
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let resource = Resource::parse(pattern).ok()?;
    Some(Route { method, resource })
}

fn build(routes: &[Route], location: &Location) -> Result<Router, String> {
    Router::build(routes.iter().map(|route| Entry {
        method: &route.method,
        resource: &route.resource,
        location,
    }))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (route_lines, path_lines) = text.split_once("\n\n").unwrap_or((&text, ""));
    let location = Location {
        file: "Directive.yaml".into(),
        line: 1,
        column: 1,
    };

    // The routes the server would accept: each refused or conflicting one is left out.
    let mut routes: Vec<Route> = Vec::new();
    for line in route_lines.lines().take(MAX_ROUTES) {
        let Some(route) = parse_route(line) else {
            continue;
        };
        routes.push(route);
        if build(&routes, &location).is_err() {
            routes.pop();
        }
    }
    let router = build(&routes, &location).expect("routes accepted one by one build together");

    let mut methods: Vec<&str> = routes.iter().map(|r| r.method.as_str()).collect();
    methods.extend(PROBED);
    methods.sort_unstable();
    methods.dedup();

    for path in path_lines.lines().take(MAX_PATHS) {
        let matching_methods: Vec<&str> = methods
            .iter()
            .copied()
            .filter(|method| {
                routes
                    .iter()
                    .any(|r| r.method == *method && reference_match(&r.resource, path).is_some())
            })
            .collect();
        for &method in &methods {
            let answer = router.route(method, path);
            assert_eq!(
                answer,
                router.route(method, path),
                "routing is deterministic"
            );
            let has_route = |m: &str| matching_methods.contains(&m);
            match answer {
                Match::Handler { index, params } => {
                    let route = &routes[index];
                    assert!(
                        route.method == method || (method == "HEAD" && route.method == "GET"),
                        "`{method} {path}` routed to `{} {}`",
                        route.method,
                        route.resource
                    );
                    let expected = reference_match(&route.resource, path).unwrap_or_else(|| {
                        panic!(
                            "`{path}` routed to `{}`, which does not match it",
                            route.resource
                        )
                    });
                    assert_eq!(
                        params, expected,
                        "params of `{path}` for `{}`",
                        route.resource
                    );
                    for (_, value) in &params {
                        assert!(!value.is_empty() && path.contains(value.as_str()));
                    }
                }
                Match::MethodNotAllowed { allow } => {
                    assert!(
                        !(has_route(method) || (method == "HEAD" && has_route("GET"))),
                        "`{method} {path}` has a matching route but answered 405"
                    );
                    assert_eq!(allow, matching_methods.join(", "), "Allow for `{path}`");
                }
                Match::NotFound => {
                    assert!(
                        matching_methods.is_empty(),
                        "`{method} {path}` answered 404 but {matching_methods:?} match"
                    );
                }
            }
        }
    }
});
