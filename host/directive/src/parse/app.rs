//! The top level of a Directive and its `handlers:` (request handlers here; stream handlers in
//! `streams`). The checks across sections run last: a route's component is no step, and an
//! endpoint that needs a caller needs `authentication.jwt`.

use std::collections::HashMap;
use std::path::Path;

use marked_yaml::Node;

use crate::error::Location;
use crate::keys;
use crate::model::{
    Access, App, Authentication, Component, ComponentId, Connections, DEFAULT_SQLITE_FILE,
    DEFAULT_STATIC_DIR, DatabaseConnection, DatabaseKind, Headless, RateLimits, RequestHandler,
    Resource, Route, Schedule, Step, StreamHandler,
};
use crate::parse::authentication::parse_authentication;
use crate::parse::components::parse_components;
use crate::parse::connections::parse_connections;
use crate::parse::imports::check_links;
use crate::parse::queries::parse_queries;
use crate::parse::routes::{parse_access, parse_routes};
use crate::parse::schedules::parse_schedules;
use crate::parse::sequences::parse_sequence;
use crate::parse::static_files::parse_static;
use crate::parse::streams::{STREAM_ONLY, check_bus_cycles, parse_stream_handler};
use crate::parse::values::{parse_method, parse_rate_limits};
use crate::yaml::{Fields, Reader, start};

/// Paths Karman serves itself; handlers cannot take them.
const RESERVED_PATHS: &[&str] = &["/health"];
const RESERVED_PREFIXES: &[&str] = &["/ext/"];

/// The whole Directive: every section, then the checks across them.
pub(crate) fn parse_app(reader: &mut Reader<'_>, root: &Node, base_dir: &Path) -> Option<App> {
    let top = top_level(reader, root)?;
    let identifier = reader
        .required(top, "identifier", "the Directive")
        .and_then(|node| reader.non_empty_string(node, "`identifier`"));
    let app_version = reader
        .required(top, "appVersion", "the Directive")
        .and_then(|node| reader.string_or_env(node, "`appVersion`"));

    let connections = match top.get("connections") {
        Some(node) => parse_connections(reader, node, base_dir),
        None => Some(Connections::default()),
    };
    let kind = connections
        .as_ref()
        .and_then(|c| c.database.as_ref())
        .map_or(DatabaseKind::Sqlite, |d| d.kind);
    let queries = match top.get("queries") {
        Some(node) => parse_queries(reader, node, kind),
        None => Vec::new(),
    };
    let components = match top.get("components") {
        Some(node) => parse_components(reader, node, base_dir, &queries),
        None => Vec::new(),
    };
    check_links(reader, &components);
    let handlers = match top.get("handlers") {
        Some(node) => parse_handlers(reader, node, &components, connections.as_ref()),
        None => Handlers {
            requests: Vec::new(),
            streams: Vec::new(),
        },
    };
    let schedules = match top.get("schedules") {
        Some(node) => parse_schedules(reader, node, &components),
        None => Vec::new(),
    };
    let authentication = match top.get("authentication") {
        Some(node) => parse_authentication(reader, node, base_dir),
        None => Some(Authentication::default()),
    };
    let routes = match top.get("routes") {
        Some(node) => parse_routes(reader, node, &components),
        None => Vec::new(),
    };
    let headless = match (top.get("headless"), authentication.as_ref()) {
        (Some(node), Some(authentication)) => parse_headless(reader, node, authentication),
        (None, _) => Some(None),
        (Some(_), None) => None,
    };
    if let Some(Some(_)) = &headless {
        for handler in &handlers.requests {
            let path = handler.resource.to_string();
            if path == "/_run" || path.starts_with("/_run/") {
                reader.error_at(
                    &handler.location,
                    format!("`{path}` is under `/_run/`, which headless mode serves"),
                    "move the handler to another path, or turn `headless` off",
                );
            }
        }
    }
    let static_files = parse_static(reader, top.get("static"), base_dir);
    if let Some(static_files) = &static_files
        && static_files.dir.is_none()
    {
        for component in components.iter().filter(|c| c.grants.files.is_some()) {
            reader.error_at(
                &component.location,
                format!(
                    "component `{}` is granted `files`, but the app has no static files (no `{DEFAULT_STATIC_DIR}/` beside the Directive)",
                    component.name
                ),
                "create the directory, or name one with `static: <dir>`",
            );
        }
    }
    check_routes(
        reader,
        &routes,
        &handlers,
        &schedules,
        &components,
        authentication.as_ref(),
    );
    let mut connections = connections?;
    let uses_sql = !queries.is_empty() || components.iter().any(|c| c.grants.sql.is_some());
    if uses_sql && connections.database.is_none() {
        let file = base_dir.join(DEFAULT_SQLITE_FILE);
        connections.database = Some(DatabaseConnection::sqlite_file(
            &file,
            reader.location_or_start(start(root)),
        ));
    }
    if reader.has_errors() {
        return None;
    }
    let static_files = static_files?;
    Some(App {
        identifier: identifier?,
        app_version: app_version?,
        components,
        handlers: handlers.requests,
        streams: handlers.streams,
        schedules,
        connections,
        queries,
        authentication: authentication?,
        routes,
        headless: headless?,
        static_dir: static_files.dir,
        static_mount: static_files.mount,
    })
}

/// A route's component serves HTTP (`wasi:http`) and is no step; an endpoint that needs a
/// caller needs `authentication.jwt`.
fn check_routes(
    reader: &mut Reader<'_>,
    routes: &[Route],
    handlers: &Handlers,
    schedules: &[Schedule],
    components: &[Component],
    authentication: Option<&Authentication>,
) {
    let sequences = handlers
        .requests
        .iter()
        .map(|h| &h.sequence)
        .chain(handlers.streams.iter().map(|h| &h.sequence))
        .chain(schedules.iter().map(|s| &s.sequence));
    let mut step_uses: HashMap<ComponentId, Location> = HashMap::new();
    for sequence in sequences {
        for call in sequence.steps.iter().flat_map(Step::calls) {
            step_uses
                .entry(call.component)
                .or_insert_with(|| call.location.clone());
        }
    }
    for route in routes {
        if let Some(step) = step_uses.get(&route.component) {
            let name = &components[route.component.0].name;
            reader.error_at(
                &route.location,
                format!(
                    "component `{name}` serves the routes of plugin `{}`, so it cannot also run as a step (at {step})",
                    route.plugin
                ),
                "a route's component exports wasi:http/incoming-handler; a step's component exports `run`: declare two components",
            );
        }
        let Some(authentication) = authentication else {
            continue;
        };
        if authentication.jwt.is_some() {
            continue;
        }
        for endpoint in &route.endpoints {
            if endpoint.auth != Access::Public {
                reader.error_at(
                    &endpoint.location,
                    format!(
                        "`{} {}` of plugin `{}` is `{}`, but `authentication.jwt` is not configured",
                        endpoint.method, endpoint.path, route.plugin, endpoint.auth
                    ),
                    "add `authentication: { jwt: { algorithm: HS256, secret: env(JWT_SECRET) } }`, or make the endpoint `public`",
                );
            }
        }
    }
}

/// `headless: true | false | { auth: … }`; an `auth` other than `public` needs
/// `authentication.jwt`.
fn parse_headless(
    reader: &mut Reader<'_>,
    node: &Node,
    authentication: &Authentication,
) -> Option<Option<Headless>> {
    if node.as_mapping().is_none() {
        let on = reader.boolean(node, "`headless`")?;
        return Some(on.then(|| Headless::enabled(authentication)));
    }
    let fields = reader.mapping(node, "`headless`", &keys::HEADLESS)?;
    let auth_node = reader.required(fields, "auth", "`headless`")?;
    let auth = parse_access(reader, auth_node)?;
    if auth != Access::Public && authentication.jwt.is_none() {
        reader.error_with_hint(
            start(auth_node),
            format!("`headless` is `{auth}`, but `authentication.jwt` is not configured"),
            "add `authentication: { jwt: { algorithm: HS256, secret: env(JWT_SECRET) } }`, or make it `public`",
        );
        return None;
    }
    Some(Some(Headless { auth }))
}

fn top_level<'n>(reader: &mut Reader<'_>, root: &'n Node) -> Option<Fields<'n>> {
    reader.mapping(root, "the Directive", &keys::TOP_LEVEL)
}

/// Both kinds of handler, in Directive order.
pub(crate) struct Handlers {
    pub(crate) requests: Vec<RequestHandler>,
    pub(crate) streams: Vec<StreamHandler>,
}

fn parse_handlers(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
    connections: Option<&Connections>,
) -> Handlers {
    let mut handlers = Handlers {
        requests: Vec::new(),
        streams: Vec::new(),
    };
    let Some(items) = reader.sequence(node, "`handlers`") else {
        return handlers;
    };
    let mut routes: HashMap<(String, String), Location> = HashMap::new();
    for item in items {
        let Some(fields) = reader.mapping(item, "a handler", &keys::HANDLER) else {
            continue;
        };
        let Some(kind) = reader.required(fields, "type", "a handler") else {
            continue;
        };
        let Some(kind_text) = reader.string(kind, "a handler's `type`") else {
            continue;
        };
        match kind_text.as_str() {
            "request" => {}
            "stream" => {
                if let Some(stream) =
                    parse_stream_handler(reader, item, fields, components, connections)
                {
                    handlers.streams.push(stream);
                }
                continue;
            }
            other => {
                reader.error_with_hint(
                    kind.span(),
                    format!("unknown handler type `{other}`"),
                    "use `type: request` or `type: stream`",
                );
                continue;
            }
        }
        let Some(handler) = parse_request_handler(reader, item, fields, components) else {
            continue;
        };
        let route = (handler.method.clone(), handler.resource.shape());
        if let Some(first) = routes.get(&route) {
            reader.error_with_hint(
                start(item),
                format!(
                    "duplicate route: `{} {}` is already handled (at {first})",
                    handler.method, handler.resource
                ),
                "each method and resource may have one handler; parameter names do not make routes different",
            );
            continue;
        }
        routes.insert(route, handler.location.clone());
        handlers.requests.push(handler);
    }
    check_bus_cycles(reader, &handlers.streams);
    handlers
}

fn parse_request_handler(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: Fields<'_>,
    components: &[Component],
) -> Option<RequestHandler> {
    for key in STREAM_ONLY {
        if let Some(value) = fields.get(key) {
            reader.error_with_hint(
                start(value),
                format!("`{key}` applies to stream handlers, not to request handlers"),
                "remove it, or use `type: stream`",
            );
        }
    }
    let method = reader
        .required(fields, "method", "a request handler")
        .and_then(|n| parse_method(reader, n));
    let resource = reader
        .required(fields, "resource", "a request handler")
        .and_then(|n| parse_resource(reader, n));
    let what = match (&method, &resource) {
        (Some(m), Some(r)) => format!("handler `{m} {r}`"),
        _ => "a handler".to_string(),
    };
    let rate_limit = match fields.get("rateLimit") {
        None => Some(RateLimits::default()),
        Some(node) => parse_rate_limits(reader, node),
    };
    let sequence = parse_sequence(reader, fields, &what, components)?;
    Some(RequestHandler {
        method: method?,
        resource: resource?,
        sequence,
        rate_limit: rate_limit?,
        location: reader.location_or_start(start(node)),
    })
}

fn parse_resource(reader: &mut Reader<'_>, node: &Node) -> Option<Resource> {
    let text = reader.non_empty_string(node, "`resource`")?;
    let resource = match Resource::parse(&text) {
        Ok(resource) => resource,
        Err(message) => {
            reader.error_with_hint(
                start(node),
                message,
                "write e.g. `/users/:id` or `/files/*path`",
            );
            return None;
        }
    };
    let reserved = RESERVED_PATHS.contains(&resource.as_str())
        || RESERVED_PREFIXES.iter().any(|prefix| {
            resource.as_str().starts_with(prefix)
                || resource.as_str() == prefix.trim_end_matches('/')
        });
    if reserved {
        reader.error_with_hint(
            start(node),
            format!("resource `{text}` is reserved by Karman"),
            "Karman serves `/health` itself and mounts custom routes under `/ext/`",
        );
        return None;
    }
    Some(resource)
}
