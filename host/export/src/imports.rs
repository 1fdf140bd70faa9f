//! What a component imports, and whether an exported app can serve it: Karman's own
//! interfaces the adapter serves (`req`, `resp`, `cache`, `log`, `http`, and their `types`) and the
//! standard WASI interfaces any `wasi:http` host serves. Anything else is refused, naming the
//! component and the import: Karman's capabilities that need a host (`sql`, `graphql`, `file`,
//! `principal`), the Runnable's own `wasi:http/outgoing-handler` (not confined inside an export
//! yet: `karman:runnable/http` is), the standard interfaces
//! Karman confines by grants (`wasi:keyvalue`, `wasi:config`, `wasi:logging`: a `wasi:http`
//! host would serve them unconfined), and interfaces of other components.

use wasmparser::{Parser, Payload};

/// The adapter's `karman:runnable` interfaces.
const SERVED: &[&str] = &["types", "req", "resp", "cache", "log", "http"];

/// The standard interfaces a `wasi:http` host serves unconfined: fine for any component.
const STANDARD: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:io/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/types@",
];

/// The names of the instances and functions a component imports at its top level.
pub fn import_names(component: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    let import = import.map_err(|e| e.to_string())?;
                    // A world's `use` of a type is a type import bound to the instance's type:
                    // not something served.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        names.push(import.name.name.to_string());
                    }
                }
            }
            Payload::Version { encoding, .. }
                if depth == 0 && encoding != wasmparser::Encoding::Component =>
            {
                return Err("it is a core module, not a component".into());
            }
            _ => {}
        }
    }
    Ok(names)
}

/// Why `import` cannot be served inside an exported app, if it cannot.
pub fn unserved(import: &str) -> Option<&'static str> {
    if let Some(rest) = import.strip_prefix("karman:runnable/") {
        let interface = rest.split('@').next().unwrap_or(rest);
        return (!SERVED.contains(&interface)).then_some(match interface {
            "sql" => "a database's address and credentials stay with a host; WASI has no standard SQL interface",
            "graphql" => "a GraphQL endpoint's credentials stay with a host",
            "file" => "the app's static files are not inside the exported component",
            _ => "an exported app does not serve it",
        });
    }
    if STANDARD.iter().any(|prefix| import.starts_with(prefix)) {
        return None;
    }
    Some(
        if ["wasi:keyvalue/", "wasi:config/", "wasi:logging/"]
            .iter()
            .any(|prefix| import.starts_with(prefix))
        {
            "Karman confines it by the component's grants, a `wasi:http` host would serve it unconfined"
        } else if import.starts_with("wasi:http/") {
            "a Runnable's own outbound HTTP is not confined inside an exported app: call out with `karman:runnable/http`, which is"
        } else {
            "it is no interface an exported app serves"
        },
    )
}
