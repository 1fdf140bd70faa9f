use super::*;

#[test]
fn the_plan_interface_is_the_one_the_export_wit_declares() {
    let wit = include_str!("../wit/export.wit");
    let interface = |text: &str| {
        let start = text.find("interface plan {").expect("an interface plan");
        let end = start + text[start..].find('}').expect("closed");
        text[start..=end].to_string()
    };
    assert_eq!(interface(PLAN_WIT), interface(wit));
}

#[test]
fn the_plan_component_exports_the_plan_interface_and_imports_nothing() {
    let component = plan_component::plan_component(br#"{"x":1}"#).unwrap();
    assert_eq!(
        imports::import_names(&component).unwrap(),
        Vec::<String>::new()
    );
    let exports: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(&component)
        .filter_map(|payload| match payload.unwrap() {
            wasmparser::Payload::ComponentExportSection(exports) => Some(
                exports
                    .into_iter()
                    .map(|e| e.unwrap().name.name.to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        exports.contains(&"karman:exported/plan@0.1.0".to_string()),
        "{exports:?}"
    );
}

#[test]
fn what_an_export_cannot_serve_is_named() {
    for served in [
        "karman:runnable/req@0.1.0",
        "karman:runnable/cache@0.1.0",
        "karman:runnable/types@0.1.0",
        "wasi:cli/environment@0.2.0",
        "wasi:http/types@0.2.3",
        "wasi:random/random@0.2.12",
    ] {
        assert_eq!(imports::unserved(served), None, "{served}");
    }
    for (refused, why) in [
        (
            "karman:runnable/sql@0.1.0",
            "WASI has no standard SQL interface",
        ),
        (
            "karman:runnable/http@0.1.0",
            "outbound HTTP is not confined",
        ),
        (
            "wasi:keyvalue/store@0.2.0-draft",
            "a `wasi:http` host would serve it unconfined",
        ),
        (
            "wasi:http/outgoing-handler@0.2.12",
            "outbound HTTP is not confined",
        ),
        (
            "acme:pricing/calc@0.1.0",
            "no interface an exported app serves",
        ),
    ] {
        let said = imports::unserved(refused).unwrap_or_else(|| panic!("{refused} is refused"));
        assert!(said.contains(why), "{refused}: {said}");
    }
}

#[test]
fn a_core_module_is_not_a_component() {
    let module = wasm_encoder::Module::new().finish();
    assert_eq!(
        imports::import_names(&module),
        Err("it is a core module, not a component".to_string())
    );
}
