//! `components:`: each component's name, source, build directory, limits, reuse, grants
//! (`cache`, `log`, `http`, `graphql`, `files`; the `sql` grant is read with the queries it
//! names), configuration (`config`, read through `wasi:config/store`) and the interfaces it
//! imports from other components (`imports`, see [`imports`](super::imports)).
//!
//! ```yaml
//! components:
//!   - name: fetch-repo
//!     source: fetch-repo.wasm
//!     capabilities:
//!       http: { allow: ["api.github.com", "*.example.com", "https://api.stripe.com:443"] }
//!       graphql: { allow: ["api.github.com"] }
//!     limits: { timeout: 5s, memory: 64MiB }
//!     config: { owner: karman-dev, pages: 3 }
//! ```

use std::path::Path;

use marked_yaml::Node;

use crate::keys;
use crate::model::{
    CacheGrant, Component, FilesGrant, Grants, HostPattern, Limits, MAX_MEMORY, OutboundGrant,
    Query, Reuse,
};
use crate::parse::imports::parse_imports;
use crate::parse::queries::parse_sql_grant;
use crate::parse::values::{parse_timeout, unique_by_name};
use crate::units::{parse_byte_size, parse_duration};
use crate::yaml::{Reader, start};

/// Header of a WebAssembly component (binary format, layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// Header of a core WebAssembly module (version 1).
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// `components:`, each name declared once.
pub(crate) fn parse_components(
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

fn parse_component(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    queries: &[Query],
) -> Option<Component> {
    let fields = reader.mapping(node, "a component", &keys::COMPONENT)?;
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
    let config = match fields.get("config") {
        Some(n) => parse_config(reader, n, &what),
        None => Some(Vec::new()),
    };
    let imports = match fields.get("imports") {
        Some(n) => parse_imports(reader, n, &what),
        None => Some(Vec::new()),
    };
    Some(Component {
        name: name?,
        source: source?,
        grants: grants?,
        limits: limits?,
        reuse: reuse?,
        config: config?,
        imports: imports?,
        build: build?,
        location: reader.location_or_start(start(node)),
    })
}

/// `config: { name: value, … }`: the values `wasi:config/store` gives the component, in the
/// Directive's order. A value is a scalar, read as its text (`env(NAME)` as elsewhere).
fn parse_config(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Vec<(String, String)>> {
    if node
        .as_scalar()
        .is_some_and(|s| s.as_str().trim().is_empty() || s.as_str() == "null")
    {
        return Some(Vec::new());
    }
    let Some(map) = node.as_mapping() else {
        reader.error_with_hint(
            start(node),
            format!("the `config` of {what} must be a mapping"),
            "write `config: { name: value }`",
        );
        return None;
    };
    let mut values = Vec::with_capacity(map.len());
    let mut ok = true;
    for (name, value) in map.iter() {
        let name = name.as_str();
        if name.trim().is_empty() {
            reader.error(start(node), format!("a `config` name of {what} is empty"));
            ok = false;
            continue;
        }
        match reader.string_or_env(value, &format!("the `config` value `{name}` of {what}")) {
            Some(value) => values.push((name.to_string(), value)),
            None => ok = false,
        }
    }
    ok.then_some(values)
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
    let fields = reader.mapping(node, &context, &keys::CAPABILITIES)?;
    let cache = match fields.get("cache") {
        Some(node) => parse_cache_grant(reader, node, what),
        None => Some(None),
    };
    let log = match fields.get("log") {
        Some(node) => reader.boolean(node, &format!("the `log` grant of {what}")),
        None => Some(true),
    };
    let sql = match fields.get("sql") {
        Some(node) => parse_sql_grant(reader, node, what, queries).map(Some),
        None => Some(None),
    };
    let http = match fields.get("http") {
        Some(node) => parse_outbound_grant(reader, node, what, "http").map(Some),
        None => Some(None),
    };
    let graphql = match fields.get("graphql") {
        Some(node) => parse_outbound_grant(reader, node, what, "graphql").map(Some),
        None => Some(None),
    };
    let files = match fields.get("files") {
        Some(node) => parse_files_grant(reader, node, what),
        None => Some(None),
    };
    let grants = Grants {
        cache: cache?,
        log: log?,
        sql: sql?,
        http: http?,
        graphql: graphql?,
        files: files?,
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
    let fields = reader.mapping(
        node,
        &format!("the `cache` grant of {what}"),
        &keys::CACHE_GRANT,
    )?;
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

/// `files: true`, `files: false`, or `files: { path: "img/" }` (a relative directory of the
/// static files, without `..`).
fn parse_files_grant(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<Option<FilesGrant>> {
    let context = format!("the `files` grant of {what}");
    if node.as_scalar().is_some() {
        let on = reader.boolean(node, &context)?;
        return Some(on.then(FilesGrant::default));
    }
    let fields = reader.mapping(node, &context, &keys::FILES_GRANT)?;
    let Some(path_node) = fields.get("path") else {
        return Some(Some(FilesGrant::default()));
    };
    let text = reader.string(path_node, &format!("`path` of {context}"))?;
    let hint = "write a directory relative to the static files, e.g. `img/` or `assets/css`";
    let problem = if text.starts_with('/') {
        Some("is absolute")
    } else if text.contains('\\') || text.contains('\0') {
        Some("contains a backslash or a NUL character")
    } else if text.split('/').any(|segment| segment == "..") {
        Some("has a `..` segment")
    } else {
        None
    };
    if let Some(problem) = problem {
        reader.error_with_hint(
            start(path_node),
            format!("`path` of {context}, `{text}`, {problem}"),
            hint,
        );
        return None;
    }
    let path = text
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != ".")
        .collect::<Vec<_>>()
        .join("/");
    Some(Some(FilesGrant { path }))
}

fn parse_outbound_grant(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
    capability: &str,
) -> Option<OutboundGrant> {
    let context = format!("the `{capability}` grant of {what}");
    let fields = reader.mapping(node, &context, &keys::OUTBOUND_GRANT)?;
    let mut grant = OutboundGrant::default();
    let mut ok = true;
    if let Some(list) = fields.get("allow") {
        for item in reader.sequence(list, &format!("`allow` of {context}"))? {
            let Some(text) = reader
                .non_empty_string(item, "an allowed host")
                .and_then(|text| reader.resolve_env(item.span(), text, "an allowed host"))
            else {
                ok = false;
                continue;
            };
            match HostPattern::parse(&text) {
                Ok(pattern) => grant.allow.push(pattern),
                Err(message) => {
                    reader.error(item.span(), message);
                    ok = false;
                }
            }
        }
    }
    if let Some(private) = fields.get("allowPrivate") {
        grant.allow_private = reader.boolean_or_env(private, "`allowPrivate`")?;
    }
    ok.then_some(grant)
}

fn parse_limits(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Limits> {
    let fields = reader.mapping(node, &format!("the limits of {what}"), &keys::LIMITS)?;
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
    let fields = reader.mapping(node, &format!("`reuse` of {what}"), &keys::REUSE)?;
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
