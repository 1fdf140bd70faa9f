//! From YAML nodes to a validated [`App`]: structure first, then cross-references
//! (steps name known components, `with:` names keys earlier steps produce, …).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use marked_yaml::{Node, Span};

use crate::model::*;
use crate::units::{parse_byte_size, parse_duration};
use crate::yaml::{Fields, Reader, start};
use crate::{Location, did_you_mean};

const TOP_LEVEL: &[&str] = &[
    "identifier",
    "appVersion",
    "components",
    "handlers",
    "connections",
    "queries",
    "authentication",
    "schedules",
    "routes",
];
const COMPONENT: &[&str] = &["name", "source", "build", "capabilities", "limits", "reuse"];
const REUSE: &[&str] = &["maxUses", "idleTimeout", "poolSize"];
const CAPABILITIES: &[&str] = &["cache", "log", "sql", "http", "graphql"];
const CACHE_GRANT: &[&str] = &["prefix"];
const LIMITS: &[&str] = &["timeout", "memory"];
const HANDLER: &[&str] = &[
    "type",
    "method",
    "resource",
    "state",
    "steps",
    "response",
    "source",
    "respondTo",
    "stream",
    "durable",
    "maxDeliver",
    "deadLetter",
    "maxInFlight",
];
const STEP: &[&str] = &["fn", "group", "as", "with", "onErr"];
const GROUP_MEMBER: &[&str] = &["fn", "as", "with", "onErr"];
const ON_ERR: &[&str] = &["any", "code", "other"];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Paths Karman serves itself; handlers cannot take them.
const RESERVED_PATHS: &[&str] = &["/health"];
const RESERVED_PREFIXES: &[&str] = &["/ext/"];

/// Header of a WebAssembly component (binary format, layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// Header of a core WebAssembly module (version 1).
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

pub(crate) fn parse_app(reader: &mut Reader<'_>, root: &Node, base_dir: &Path) -> Option<App> {
    let top = top_level(reader, root)?;
    let identifier = reader
        .required(top, "identifier", "the Directive")
        .and_then(|node| reader.non_empty_string(node, "`identifier`"));
    let app_version = reader
        .required(top, "appVersion", "the Directive")
        .and_then(|node| reader.string_or_env(node, "`appVersion`"));

    let connections = match top.get("connections") {
        Some(node) => crate::connections::parse(reader, node, base_dir),
        None => Some(Connections::default()),
    };
    let kind = connections
        .as_ref()
        .and_then(|c| c.database.as_ref())
        .map_or(DatabaseKind::Sqlite, |d| d.kind);
    let queries = match top.get("queries") {
        Some(node) => crate::sql::parse_queries(reader, node, kind),
        None => Vec::new(),
    };
    let components = match top.get("components") {
        Some(node) => parse_components(reader, node, base_dir, &queries),
        None => Vec::new(),
    };
    let handlers = match top.get("handlers") {
        Some(node) => parse_handlers(reader, node, &components, connections.as_ref()),
        None => Handlers {
            requests: Vec::new(),
            streams: Vec::new(),
        },
    };
    let schedules = match top.get("schedules") {
        Some(node) => crate::streams::parse_schedules(reader, node, &components),
        None => Vec::new(),
    };
    let authentication = match top.get("authentication") {
        Some(node) => crate::outbound::parse_authentication(reader, node, base_dir),
        None => Some(Authentication::default()),
    };
    let routes = match top.get("routes") {
        Some(node) => crate::routes::parse_routes(reader, node, &components),
        None => Vec::new(),
    };
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

fn top_level<'n>(reader: &mut Reader<'_>, root: &'n Node) -> Option<Fields<'n>> {
    reader.mapping(root, "the Directive", TOP_LEVEL)
}

// ---------------------------------------------------------------------------------------------
// components

fn parse_components(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    queries: &[Query],
) -> Vec<Component> {
    let Some(items) = reader.sequence(node, "`components`") else {
        return Vec::new();
    };
    unique_by_name(
        reader,
        items,
        |reader, item| {
            let component = parse_component(reader, item, base_dir, queries);
            if component.is_none()
                && let Some(name) = item
                    .as_mapping()
                    .and_then(|map| map.get_scalar("name"))
                    .map(|name| name.as_str().to_string())
            {
                reader.invalid_components.insert(name);
            }
            component
        },
        |component| ("component", &component.name, &component.location),
    )
}

/// Parses each item of a list whose entries are named, reporting a name used twice.
pub(crate) fn unique_by_name<T>(
    reader: &mut Reader<'_>,
    items: &[Node],
    mut parse: impl FnMut(&mut Reader<'_>, &Node) -> Option<T>,
    name_of: impl Fn(&T) -> (&'static str, &String, &Location),
) -> Vec<T> {
    let mut parsed: Vec<T> = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    for item in items {
        let Some(value) = parse(reader, item) else {
            continue;
        };
        let (kind, name, location) = name_of(&value);
        if let Some(first) = seen.get(name) {
            reader.error(
                start(item),
                format!("{kind} `{name}` is declared twice (first at {first})"),
            );
            continue;
        }
        seen.insert(name.clone(), location.clone());
        parsed.push(value);
    }
    parsed
}

fn parse_component(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    queries: &[Query],
) -> Option<Component> {
    let fields = reader.mapping(node, "a component", COMPONENT)?;
    let name_node = reader.required(fields, "name", "a component");
    let name = name_node.and_then(|n| component_name(reader, n));
    let what = match &name {
        Some(name) => format!("component `{name}`"),
        None => "a component".to_string(),
    };
    let source = reader
        .required(fields, "source", &what)
        .and_then(|n| component_source(reader, n, base_dir, &what));
    let build = match fields.get("build") {
        Some(n) => reader
            .non_empty_string(n, &format!("the `build` directory of {what}"))
            .map(|dir| Some(base_dir.join(dir))),
        None => Some(None),
    };
    let grants = match fields.get("capabilities") {
        Some(n) => parse_grants(reader, n, &what, queries),
        None => Some(Grants::default()),
    };
    let limits = match fields.get("limits") {
        Some(n) => parse_limits(reader, n, &what),
        None => Some(Limits::default()),
    };
    let reuse = match fields.get("reuse") {
        Some(n) => parse_reuse(reader, n, &what),
        None => Some(None),
    };
    Some(Component {
        name: name?,
        source: source?,
        grants: grants?,
        limits: limits?,
        reuse: reuse?,
        build: build?,
        location: reader.location_or_start(start(node)),
    })
}

fn component_name(reader: &mut Reader<'_>, node: &Node) -> Option<String> {
    let name = reader.non_empty_string(node, "a component's `name`")?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        reader.error_with_hint(
            start(node),
            format!("component name `{name}` is not valid"),
            "use letters, digits, `-`, `_` and `.`, starting with a letter or digit",
        );
        return None;
    }
    Some(name)
}

fn component_source(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    what: &str,
) -> Option<std::path::PathBuf> {
    let text = reader.non_empty_string(node, &format!("the `source` of {what}"))?;
    let path = base_dir.join(&text);
    let mut header = [0u8; 8];
    let read = std::fs::File::open(&path).and_then(|mut file| {
        use std::io::Read;
        file.read_exact(&mut header)
    });
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && reader.unbuilt_sources => Some(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            reader.error_with_hint(
                start(node),
                format!("the source of {what}, `{text}`, does not exist"),
                "paths are relative to the Directive; build the component first (scripts/build-guests)",
            );
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            reader.error(
                start(node),
                format!(
                    "the source of {what}, `{text}`, is not a WebAssembly component (too short)"
                ),
            );
            None
        }
        Err(e) => {
            reader.error(
                start(node),
                format!("cannot read the source of {what}, `{text}`: {e}"),
            );
            None
        }
        Ok(()) if header == COMPONENT_HEADER => Some(path),
        Ok(()) if header == MODULE_HEADER => {
            reader.error_with_hint(
                start(node),
                format!("the source of {what}, `{text}`, is a core WebAssembly module, not a component"),
                "build for `--target wasm32-wasip2`, or wrap the module with `wasm-tools component new`",
            );
            None
        }
        Ok(()) => {
            reader.error(
                start(node),
                format!("the source of {what}, `{text}`, is not a WebAssembly component"),
            );
            None
        }
    }
}

fn parse_grants(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
    queries: &[Query],
) -> Option<Grants> {
    let context = format!("the capabilities of {what}");
    let fields = reader.mapping(node, &context, CAPABILITIES)?;
    let cache = match fields.get("cache") {
        Some(node) => parse_cache_grant(reader, node, what),
        None => Some(None),
    };
    let log = match fields.get("log") {
        Some(node) => reader.boolean(node, &format!("the `log` grant of {what}")),
        None => Some(true),
    };
    let sql = match fields.get("sql") {
        Some(node) => crate::sql::parse_grant(reader, node, what, queries).map(Some),
        None => Some(None),
    };
    let http = match fields.get("http") {
        Some(node) => crate::outbound::parse_grant(reader, node, what, "http").map(Some),
        None => Some(None),
    };
    let graphql = match fields.get("graphql") {
        Some(node) => crate::outbound::parse_grant(reader, node, what, "graphql").map(Some),
        None => Some(None),
    };
    let grants = Grants {
        cache: cache?,
        log: log?,
        sql: sql?,
        http: http?,
        graphql: graphql?,
    };
    Some(grants)
}

/// `cache: true`, `cache: false`, or `cache: { prefix: "users:" }`.
fn parse_cache_grant(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<Option<CacheGrant>> {
    if node.as_scalar().is_some() {
        let on = reader.boolean(node, &format!("the `cache` grant of {what}"))?;
        return Some(on.then(CacheGrant::default));
    }
    let fields = reader.mapping(node, &format!("the `cache` grant of {what}"), CACHE_GRANT)?;
    let prefix = match fields.get("prefix") {
        Some(n) => {
            let prefix = reader.string(n, "a cache `prefix`")?;
            if prefix.contains('\0') {
                reader.error(n.span(), "a cache `prefix` cannot contain a NUL character");
                return None;
            }
            prefix
        }
        None => String::new(),
    };
    Some(Some(CacheGrant { prefix }))
}

fn parse_limits(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Limits> {
    let fields = reader.mapping(node, &format!("the limits of {what}"), LIMITS)?;
    let defaults = Limits::default();
    let timeout = match fields.get("timeout") {
        Some(node) => parse_timeout(reader, node, what),
        None => Some(defaults.timeout),
    };
    let memory = match fields.get("memory") {
        Some(node) => parse_memory(reader, node, what),
        None => Some(defaults.memory),
    };
    Some(Limits {
        timeout: timeout?,
        memory: memory?,
    })
}

/// `reuse: true|false` or `reuse: { maxUses, idleTimeout, poolSize }`.
fn parse_reuse(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Option<Reuse>> {
    if node.as_scalar().is_some() {
        let on = reader.boolean(node, &format!("`reuse` of {what}"))?;
        return Some(on.then(Reuse::default));
    }
    let fields = reader.mapping(node, &format!("`reuse` of {what}"), REUSE)?;
    let defaults = Reuse::default();
    let mut count =
        |key: &str, default: u32, range: std::ops::RangeInclusive<u32>| match fields.get(key) {
            None => Some(default),
            Some(node) => {
                let text = reader.string(node, &format!("`{key}`"))?;
                match text.trim().parse::<u32>() {
                    Ok(value) if range.contains(&value) => Some(value),
                    _ => {
                        reader.error(
                            node.span(),
                            format!(
                                "`{key}` of {what} must be a number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        );
                        None
                    }
                }
            }
        };
    let max_uses = count("maxUses", defaults.max_uses, 1..=1_000_000);
    let pool_size = count("poolSize", defaults.pool_size, 1..=10_000);
    let idle_timeout = match fields.get("idleTimeout") {
        None => Some(defaults.idle_timeout),
        Some(node) => {
            let text = reader.string(node, "`idleTimeout`")?;
            match parse_duration(&text) {
                Ok(timeout) if !timeout.is_zero() => Some(timeout),
                Ok(_) => {
                    reader.error(
                        node.span(),
                        format!("`idleTimeout` of {what} must be above zero"),
                    );
                    None
                }
                Err(message) => {
                    reader.error(node.span(), message);
                    None
                }
            }
        }
    };
    Some(Some(Reuse {
        max_uses: max_uses?,
        idle_timeout: idle_timeout?,
        pool_size: pool_size?,
    }))
}

pub(crate) fn parse_timeout(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<std::time::Duration> {
    let text = reader.string_or_env(node, "`timeout`")?;
    match parse_duration(&text) {
        Ok(timeout) if timeout.is_zero() || timeout > MAX_TIMEOUT => {
            reader.error(
                node.span(),
                format!(
                    "`timeout` of {what} must be above zero and at most {}",
                    humantime::format_duration(MAX_TIMEOUT)
                ),
            );
            None
        }
        Ok(timeout) => Some(timeout),
        Err(message) => {
            reader.error(node.span(), message);
            None
        }
    }
}

fn parse_memory(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<u64> {
    let text = reader.string_or_env(node, "`memory`")?;
    match parse_byte_size(&text) {
        Ok(memory) if !(64 << 10..=MAX_MEMORY).contains(&memory) => {
            reader.error(
                node.span(),
                format!("`memory` of {what} must be between 64KiB and 4GiB"),
            );
            None
        }
        Ok(memory) => Some(memory),
        Err(message) => {
            reader.error(node.span(), message);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// handlers

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
        let Some(fields) = reader.mapping(item, "a handler", HANDLER) else {
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
                if let Some(stream) = crate::streams::parse_stream_handler(
                    reader,
                    item,
                    fields,
                    components,
                    connections,
                ) {
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
    handlers
}

fn parse_request_handler(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: Fields<'_>,
    components: &[Component],
) -> Option<RequestHandler> {
    for key in crate::streams::STREAM_ONLY {
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
    let sequence = parse_sequence(reader, fields, &what, components)?;
    Some(RequestHandler {
        method: method?,
        resource: resource?,
        sequence,
        location: reader.location_or_start(start(node)),
    })
}

/// `state`, `steps` and `response` of a handler or schedule.
pub(crate) fn parse_sequence(
    reader: &mut Reader<'_>,
    fields: Fields<'_>,
    what: &str,
    components: &[Component],
) -> Option<Sequence> {
    let state = match fields.get("state") {
        Some(node) => parse_initial_state(reader, node, what)?,
        None => BTreeMap::new(),
    };
    let steps_node = reader.required(fields, "steps", what)?;
    let items = reader.sequence(steps_node, &format!("the `steps` of {what}"))?;
    if items.is_empty() {
        reader.error(steps_node.span(), format!("{what} has no steps"));
        return None;
    }
    let mut produced: BTreeSet<String> = state.keys().cloned().collect();
    let mut steps = Vec::new();
    let mut failed = false;
    for item in items {
        match parse_step(reader, item, components, &produced) {
            Some(step) => {
                for call in step.calls() {
                    produced.insert(call.key.clone());
                }
                steps.push(step);
            }
            None => failed = true,
        }
    }
    let response = match fields.get("response") {
        Some(node) => {
            let key = reader.non_empty_string(node, "`response`")?;
            if !failed && !produced.contains(&key) {
                unknown_key_error(
                    reader,
                    start(node),
                    &format!("`response` of {what} names `{key}`"),
                    &key,
                    &produced,
                );
                return None;
            }
            Some(key)
        }
        None => None,
    };
    if failed {
        return None;
    }
    let response = match (response, steps.last()) {
        (Some(key), _) => key,
        (None, Some(Step::Fn(call))) => call.key.clone(),
        (None, Some(Step::Group(calls))) => {
            let keys: Vec<&str> = calls.iter().map(|c| c.key.as_str()).collect();
            reader.error_with_hint(
                steps_node.span(),
                format!("the last step of {what} is a group, so its response is ambiguous"),
                format!(
                    "add `response:` naming the state key to return, e.g. `response: {}`",
                    keys[0]
                ),
            );
            return None;
        }
        (None, None) => return None,
    };
    Some(Sequence {
        state,
        steps,
        response,
    })
}

/// `state:` of a handler: keys to text values (`env(NAME)` allowed) the steps start with.
fn parse_initial_state(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = node.as_mapping() else {
        reader.error(
            start(node),
            format!("the `state` of {what} must map keys to values"),
        );
        return None;
    };
    let mut state = BTreeMap::new();
    let mut ok = true;
    for (key, value) in map.iter() {
        let name = key.as_str().trim().to_string();
        if name.is_empty() {
            reader.error(
                key.span(),
                format!("the `state` of {what} has an empty key"),
            );
            ok = false;
            continue;
        }
        match reader.string_or_env(value, &format!("`state.{name}`")) {
            Some(text) => {
                state.insert(name, text);
            }
            None => ok = false,
        }
    }
    ok.then_some(state)
}

pub(crate) fn parse_method(reader: &mut Reader<'_>, node: &Node) -> Option<String> {
    let text = reader.non_empty_string(node, "`method`")?;
    let upper = text.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        Some(upper)
    } else {
        reader.error_with_hint(
            start(node),
            format!("`{text}` is not an HTTP method Karman routes"),
            format!("use one of: {}", METHODS.join(", ")),
        );
        None
    }
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

pub(crate) fn parse_step(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
    produced: &BTreeSet<String>,
) -> Option<Step> {
    let fields = reader.mapping(node, "a step", STEP)?;
    match (fields.get("fn"), fields.get("group")) {
        (Some(_), Some(group)) => {
            reader.error_with_hint(
                group.span(),
                "a step has both `fn` and `group`",
                "a step runs one component (`fn:`) or a list of them concurrently (`group:`)",
            );
            None
        }
        (None, None) => {
            reader.error_with_hint(
                start(node),
                "a step needs `fn` or `group`",
                "write `- fn: <component>`",
            );
            None
        }
        (Some(_), None) => parse_call(reader, node, fields, components, produced).map(Step::Fn),
        (None, Some(group)) => {
            for key in ["as", "with", "onErr"] {
                if let Some(value) = fields.get(key) {
                    reader.error_with_hint(
                        value.span(),
                        format!("`{key}` does not apply to a group"),
                        format!("put `{key}` on the group's `fn` steps"),
                    );
                }
            }
            let items = reader.sequence(group, "a `group`")?;
            if items.is_empty() {
                reader.error(group.span(), "a `group` needs at least one `fn` step");
                return None;
            }
            let mut calls: Vec<FnStep> = Vec::new();
            let mut failed = false;
            for item in items {
                let Some(member) = reader.mapping(item, "a group step", GROUP_MEMBER) else {
                    failed = true;
                    continue;
                };
                if member.get("fn").is_none() {
                    reader.error_with_hint(
                        start(item),
                        "a group step needs `fn` (groups do not nest)",
                        "write `- fn: <component>`",
                    );
                    failed = true;
                    continue;
                }
                match parse_call(reader, item, member, components, produced) {
                    Some(call) => {
                        if let Some(twin) = calls.iter().find(|c| c.key == call.key) {
                            reader.error_with_hint(
                                start(item),
                                format!(
                                    "two steps of a group store their output under `{}` (the other at {})",
                                    call.key, twin.location
                                ),
                                "give one of them a distinct `as:`",
                            );
                            failed = true;
                        }
                        calls.push(call);
                    }
                    None => failed = true,
                }
            }
            (!failed).then_some(Step::Group(calls))
        }
    }
}

fn parse_call(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: Fields<'_>,
    components: &[Component],
    produced: &BTreeSet<String>,
) -> Option<FnStep> {
    let fn_node = fields.get("fn")?;
    let name = reader.non_empty_string(fn_node, "`fn`")?;
    let Some(index) = components.iter().position(|c| c.name == name) else {
        if reader.invalid_components.contains(&name) {
            return None;
        }
        let message = format!("step runs `{name}`, which is not a declared component");
        match did_you_mean(&name, components.iter().map(|c| c.name.as_str())) {
            Some(close) => {
                reader.error_with_hint(fn_node.span(), message, format!("did you mean `{close}`?"))
            }
            None => reader.error_with_hint(
                fn_node.span(),
                message,
                "declare it under `components:` with a `name` and a `source`",
            ),
        }
        return None;
    };
    let key = match fields.get("as") {
        Some(node) => reader.non_empty_string(node, "`as`")?,
        None => name,
    };
    let with = match fields.get("with") {
        Some(node) => Some(parse_with(reader, node, produced)?),
        None => None,
    };
    let on_err = match fields.get("onErr") {
        Some(node) => parse_on_err(reader, node)?,
        None => OnErr::default(),
    };
    Some(FnStep {
        component: ComponentId(index),
        key,
        with,
        on_err,
        location: reader.location_or_start(start(node)),
    })
}

/// `with: { view-key: state-key }`.
fn parse_with(
    reader: &mut Reader<'_>,
    node: &Node,
    produced: &BTreeSet<String>,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = node.as_mapping() else {
        reader.error_with_hint(
            start(node),
            "`with` must be a mapping",
            "write `with: { name-in-this-step: key-in-state }`",
        );
        return None;
    };
    let mut view = BTreeMap::new();
    let mut ok = true;
    for (alias, source) in map.iter() {
        let Some(source_key) = reader.non_empty_string(source, "a `with` value") else {
            ok = false;
            continue;
        };
        if !produced.contains(&source_key) {
            unknown_key_error(
                reader,
                source.span(),
                &format!("`with` reads `{source_key}`"),
                &source_key,
                produced,
            );
            ok = false;
            continue;
        }
        view.insert(alias.as_str().to_string(), source_key);
    }
    ok.then_some(view)
}

fn unknown_key_error(
    reader: &mut Reader<'_>,
    span: &Span,
    subject: &str,
    key: &str,
    produced: &BTreeSet<String>,
) {
    let message = format!("{subject}, but no earlier step stores that key in the state");
    let hint = match did_you_mean(key, produced.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`?"),
        None if produced.is_empty() => "no step before this one stores anything".to_string(),
        None => format!(
            "earlier steps store: {}",
            produced
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    reader.error_with_hint(span, message, hint);
}

/// `onErr: { any: continue }` or `onErr: { code: { 404: continue }, other: return }`.
fn parse_on_err(reader: &mut Reader<'_>, node: &Node) -> Option<OnErr> {
    let fields = reader.mapping(node, "`onErr`", ON_ERR)?;
    match (fields.get("any"), fields.get("code"), fields.get("other")) {
        (Some(any), Some(_), _) | (Some(any), _, Some(_)) => {
            reader.error_with_hint(
                any.span(),
                "`onErr` has `any` together with `code`/`other`",
                "use `any: continue|return` alone, or `code: {404: continue}` with `other:`",
            );
            None
        }
        (Some(any), None, None) => Some(OnErr {
            codes: BTreeMap::new(),
            other: parse_action(reader, any)?,
        }),
        (None, codes, other) => {
            let mut on_err = OnErr::default();
            if let Some(other) = other {
                on_err.other = parse_action(reader, other)?;
            }
            if let Some(codes) = codes {
                let Some(map) = codes.as_mapping() else {
                    reader.error_with_hint(
                        codes.span(),
                        "`code` must be a mapping of status codes to actions",
                        "write `code: { 404: continue }`",
                    );
                    return None;
                };
                for (code, action) in map.iter() {
                    let Ok(number) = code.as_str().parse::<u16>() else {
                        reader.error(
                            code.span(),
                            format!("`{}` is not an error code (0..65535)", code.as_str()),
                        );
                        return None;
                    };
                    on_err.codes.insert(number, parse_action(reader, action)?);
                }
            } else if other.is_none() {
                reader.error_with_hint(
                    start(node),
                    "`onErr` is empty",
                    "write `onErr: { any: continue }` or `onErr: { code: { 404: continue } }`",
                );
                return None;
            }
            Some(on_err)
        }
    }
}

fn parse_action(reader: &mut Reader<'_>, node: &Node) -> Option<ErrAction> {
    let text = reader.string(node, "an `onErr` action")?;
    match text.as_str() {
        "continue" => Some(ErrAction::Continue),
        "return" => Some(ErrAction::Return),
        other => {
            reader.error_with_hint(
                start(node),
                format!("`{other}` is not an `onErr` action"),
                "use `continue` or `return`",
            );
            None
        }
    }
}
