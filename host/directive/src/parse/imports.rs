//! A component's `imports:`: the interfaces it takes from other components of the app, and the
//! checks across components (the exporter exists, is not the importer, and no chain of links
//! comes back to where it started).
//!
//! ```yaml
//! components:
//!   - name: checkout
//!     source: build/checkout.wasm
//!     imports: { "acme:pricing/calc": pricing }
//!   - name: pricing
//!     source: build/pricing.wasm
//! ```
//!
//! Whether `pricing` really exports `acme:pricing/calc`, with the types `checkout` expects, is
//! checked when the components load: it needs their binaries.

use marked_yaml::Node;

use crate::error::did_you_mean;
use crate::model::{Component, ComponentLink};
use crate::yaml::{Reader, start};

/// Namespaces Karman provides itself: they cannot come from a component.
const HOST_NAMESPACES: [&str; 2] = ["wasi:", "karman:"];

/// `imports: { "<namespace>:<package>/<interface>[@<version>]": <component> }`.
pub(crate) fn parse_imports(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<Vec<ComponentLink>> {
    let Some(map) = node.as_mapping() else {
        reader.error_with_hint(
            start(node),
            format!("the `imports` of {what} must be a mapping"),
            "write `imports: { \"acme:pricing/calc\": <component> }`",
        );
        return None;
    };
    let mut links = Vec::with_capacity(map.len());
    let mut ok = true;
    for (interface, from) in map.iter() {
        let name = interface.as_str();
        if !is_interface_name(name) {
            reader.error_with_hint(
                interface.span(),
                format!("`{name}` in the `imports` of {what} is not an interface name"),
                "write `namespace:package/interface`, optionally with `@version`, e.g. `acme:pricing/calc`",
            );
            ok = false;
            continue;
        }
        if let Some(namespace) = HOST_NAMESPACES.iter().find(|ns| name.starts_with(**ns)) {
            reader.error_with_hint(
                interface.span(),
                format!("{what} imports `{name}` from a component, but Karman provides `{namespace}*` itself"),
                "list only interfaces another component of the app exports",
            );
            ok = false;
            continue;
        }
        match reader.non_empty_string(
            from,
            &format!("the component `{what}` imports `{name}` from"),
        ) {
            Some(from_name) => links.push(ComponentLink {
                interface: name.to_string(),
                from: from_name,
                location: reader.location_or_start(interface.span()),
            }),
            None => ok = false,
        }
    }
    ok.then_some(links)
}

/// `namespace:package/interface` or with `@version`; names are WIT identifiers (lower case,
/// digits and `-`), the version is not empty.
fn is_interface_name(name: &str) -> bool {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let identifier = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_lowercase())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let Some((namespace, rest)) = path.split_once(':') else {
        return false;
    };
    let Some((package, interface)) = rest.split_once('/') else {
        return false;
    };
    identifier(namespace)
        && identifier(package)
        && identifier(interface)
        && version.is_none_or(|v| !v.is_empty() && !v.contains(char::is_whitespace))
}

/// The checks across components: each link names another, existing component, and links do
/// not form a cycle (each is reported once, at the link that closes it).
pub(crate) fn check_links(reader: &mut Reader<'_>, components: &[Component]) {
    let index = |name: &str| components.iter().position(|c| c.name == name);
    for component in components {
        for link in &component.imports {
            if link.from == component.name {
                reader.error_at(
                    &link.location,
                    format!(
                        "component `{}` imports `{}` from itself",
                        component.name, link.interface
                    ),
                    "a component calls its own functions directly; name the component that exports it",
                );
            } else if index(&link.from).is_none() && !reader.invalid_components.contains(&link.from)
            {
                let known = components
                    .iter()
                    .map(|c| c.name.as_str())
                    .chain(reader.invalid_components.iter().map(String::as_str));
                let hint = match did_you_mean(&link.from, known) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "declare that component under `components`".to_string(),
                };
                reader.error_at(
                    &link.location,
                    format!(
                        "component `{}` imports `{}` from `{}`, which is not a component of the app",
                        component.name, link.interface, link.from
                    ),
                    hint,
                );
            }
        }
    }
    // Depth-first search over the links; a link into the path on the stack closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        at: usize,
        components: &[Component],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        cycles: &mut Vec<(usize, usize, Vec<usize>)>,
    ) {
        marks[at] = Mark::OnPath;
        path.push(at);
        for (link_index, link) in components[at].imports.iter().enumerate() {
            let Some(next) = components.iter().position(|c| c.name == link.from) else {
                continue;
            };
            if next == at {
                continue;
            }
            match marks[next] {
                Mark::OnPath => {
                    let from = path.iter().position(|&p| p == next).unwrap_or(0);
                    cycles.push((at, link_index, path[from..].to_vec()));
                }
                Mark::New => visit(next, components, marks, path, cycles),
                Mark::Done => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
    }
    let mut marks = vec![Mark::New; components.len()];
    let mut cycles = Vec::new();
    for start in 0..components.len() {
        if marks[start] == Mark::New {
            visit(start, components, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    for (at, link_index, cycle) in cycles {
        let link = &components[at].imports[link_index];
        let mut names: Vec<&str> = cycle.iter().map(|&i| components[i].name.as_str()).collect();
        names.push(&components[cycle[0]].name);
        reader.error_at(
            &link.location,
            format!(
                "components import each other in a cycle: {}",
                names
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            "an exporter cannot import from a component that imports from it; move the shared part into a third component",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::is_interface_name;

    #[test]
    fn interface_names_are_namespace_package_interface_and_a_version() {
        for good in [
            "acme:pricing/calc",
            "acme:pricing/calc@0.1.0",
            "a-b:c-d/e-f2",
        ] {
            assert!(is_interface_name(good), "{good}");
        }
        for bad in [
            "calc",
            "acme/calc",
            "acme:pricing",
            "Acme:pricing/calc",
            "acme:pricing/calc@",
            "acme:pricing/ca lc",
            "acme:/calc",
            "acme:shop:pricing/calc",
        ] {
            assert!(!is_interface_name(bad), "{bad}");
        }
    }
}
