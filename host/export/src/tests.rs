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
        "karman:runnable/http@0.1.0",
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
            "karman:runnable/graphql@0.1.0",
            "credentials stay with a host",
        ),
        (
            "wasi:keyvalue/store@0.2.0-draft",
            "a `wasi:http` host would serve it unconfined",
        ),
        (
            "wasi:http/outgoing-handler@0.2.12",
            "call out with `karman:runnable/http`",
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

/// The plan of a Directive given as text (its sources need not exist: only the plan is made).
fn plan_of_text(yaml: &str) -> Result<(karman_export_plan::Plan, Vec<String>), Vec<Refusal>> {
    let options = karman_directive::ParseOptions {
        unbuilt_sources: true,
        ..karman_directive::ParseOptions::new("Directive.yaml", ".")
    };
    let app = karman_directive::parse(yaml, &options).unwrap_or_else(|e| panic!("{e}"));
    plan_of(&app)
}

const CALLERS: &str = r#"identifier: com.example.callers
appVersion: v1
components:
  - name: open
    source: open.wasm
    capabilities: { http: { allow: ["api.example.com", "10.0.0.8:8080"], allowPrivate: true } }
  - name: guarded
    source: guarded.wasm
    capabilities: { http: { allow: ["https://*.example.com"] } }
handlers:
  - { type: request, method: GET, resource: /x, steps: [ { fn: open }, { fn: guarded } ] }
"#;

#[test]
fn an_http_grant_goes_into_the_plan_and_what_stays_unchecked_is_noted() {
    let (plan, notes) = plan_of_text(CALLERS).unwrap();
    let grant = |index: usize| plan.components[index].grants.http.clone().unwrap();
    assert_eq!(grant(0).allow, ["api.example.com", "10.0.0.8:8080"]);
    assert!(grant(0).allow_private);
    assert_eq!(grant(1).allow, ["https://*.example.com"]);
    assert!(!grant(1).allow_private);
    assert_eq!(
        notes,
        [
            "component `guarded`: its allow list is enforced inside the export, but a name that \
          resolves to a private address is reached (that check needs Karman's host)"
        ]
    );
}

#[test]
fn credentials_of_authentication_domains_are_refused_when_a_component_calls_out() {
    let with_credentials = format!(
        "{CALLERS}authentication:\n  domains:\n    api.example.com: {{ headerType: bearer, value: s3cr3t }}\n"
    );
    let refusals = plan_of_text(&with_credentials).unwrap_err();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(
        refusals[0].location.as_deref(),
        Some("Directive.yaml:14:24")
    );
    assert_eq!(
        refusals[0].message,
        "`authentication.domains` gives `api.example.com` a credential the host adds to the \
         requests of `open`, `guarded`: an exported component cannot keep a secret out of its \
         sandbox"
    );
    assert!(!refusals[0].to_string().contains("s3cr3t"));
    // Nobody calls out: the credential is only left out.
    let quiet = with_credentials.replace("capabilities: { http: { allow: [\"https://*.example.com\"] } }", "")
        .replace("capabilities: { http: { allow: [\"api.example.com\", \"10.0.0.8:8080\"], allowPrivate: true } }", "");
    let (_, notes) = plan_of_text(&quiet).unwrap();
    assert_eq!(
        notes,
        ["the credential of `authentication.domains` for `api.example.com` is not exported"]
    );
}
