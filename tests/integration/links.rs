//! Components that import each other: `calc-user` (a Runnable) imports `acme:pricing/calc`,
//! which `calc-provider` exports, declared with `imports:`. The exporter runs with its own
//! grants on an instance per importing instance; a missing, mismatched or misplaced link is
//! refused when the app loads, naming the components and the interface.

use crate::loading::load_error;
use crate::support::TestServer;

fn directive(consumer_imports: &str, extra: &str) -> String {
    format!(
        r#"
identifier: test.links
appVersion: v1
components:
  - name: pricing
    source: guest(calc-provider)
    capabilities: {{ cache: {{ prefix: "pricing:" }} }}
    config: {{ discount-percent: 10 }}
  - name: checkout
    source: guest(calc-user)
    {consumer_imports}
{extra}handlers:
  - {{ type: request, method: GET, resource: /checkout, steps: [ {{ fn: checkout }} ] }}
"#
    )
}

const LINKED: &str = r#"imports: { "acme:pricing/calc": pricing }"#;

#[tokio::test]
async fn an_importer_calls_the_exporter_which_runs_with_its_own_grants() {
    let server = TestServer::start(&directive(LINKED, "")).await;
    // 2 × 500 + 1 × 1000, less 10% for 3 items (the exporter's own `config:`).
    let reply = server
        .get("/checkout?op=total&lines=a:2:500,b:1:1000")
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "1800"));
    let reply = server.get("/checkout?op=discount&quantity=1").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "0"));

    // The exporter reaches its cache and configuration; the importer, granted no cache,
    // does not reach the cache, though it calls the exporter that does.
    let reply = server.get("/checkout?op=probe").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            200,
            "provider: cache ok, discount-percent 10; consumer: cache denied"
        )
    );
}

#[tokio::test]
async fn each_importing_instance_gets_a_fresh_exporter_instance() {
    let server = TestServer::start(&directive(LINKED, "")).await;
    // Within a step, one exporter instance serves every call; the next step starts afresh.
    for _ in 0..2 {
        let reply = server.get("/checkout?op=calls&n=3").await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "1,2,3"));
    }
}

#[tokio::test]
async fn an_exporter_that_traps_fails_the_step_with_500() {
    let server = TestServer::start(&directive(LINKED, "")).await;
    let reply = server.get("/checkout?op=discount&quantity=13").await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        reply.body.contains("component `checkout` trapped"),
        "{}",
        reply.body
    );
    // The server goes on serving.
    let reply = server.get("/checkout?op=discount&quantity=2").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "10"));
}

#[test]
fn an_import_no_component_provides_is_refused_with_the_key_to_declare() {
    let error = load_error(&directive("", ""));
    assert!(
        error.contains(
            "component `checkout`: imports `acme:pricing/calc@0.1.0`, which neither Karman nor \
             another component provides; if a component of the app exports it, declare \
             `imports: { \"acme:pricing/calc\": <component> }`"
        ),
        "{error}"
    );
}

#[test]
fn an_exporter_that_does_not_export_the_interface_is_refused() {
    let extra = "  - { name: hello, source: guest(hello) }\n";
    let error = load_error(&directive(
        r#"imports: { "acme:pricing/calc": hello }"#,
        extra,
    ));
    assert!(
        error.contains(
            "component `checkout`: imports `acme:pricing/calc@0.1.0` from `hello`, which does \
             not export it"
        ),
        "{error}"
    );
}

#[test]
fn an_exporter_with_other_types_is_refused_naming_the_function() {
    let extra = "  - { name: impostor, source: guest(calc-impostor) }\n";
    let error = load_error(&directive(
        r#"imports: { "acme:pricing/calc": impostor }"#,
        extra,
    ));
    assert!(
        error.contains(
            "component `checkout`: imports `acme:pricing/calc@0.1.0` from `impostor`, whose \
             `total` has other types (build both against the same WIT)"
        ),
        "{error}"
    );
}

#[test]
fn a_link_to_another_version_or_interface_is_refused() {
    let error = load_error(&directive(
        r#"imports: { "acme:pricing/calc@0.2.0": pricing }"#,
        "",
    ));
    assert!(
        error.contains("it declares `imports: { \"acme:pricing/calc@0.2.0\": pricing }`, but does not import that interface"),
        "{error}"
    );
    let error = load_error(&directive(
        r#"imports: { "acme:pricing/calc": pricing, "acme:tax/rates": pricing }"#,
        "",
    ));
    assert!(
        error.contains(
            "component `checkout`: it declares `imports: { \"acme:tax/rates\": pricing }`, but \
             does not import that interface (what it imports from other components: \
             `acme:pricing/calc@0.1.0`)"
        ),
        "{error}"
    );
    // Reported at the link, not at the component.
    assert!(error.starts_with("test.yaml:11:46:"), "{error}");
}

#[test]
fn an_exporter_cannot_be_a_step() {
    let yaml =
        directive(LINKED, "").replace("steps: [ { fn: checkout } ]", "steps: [ { fn: pricing } ]");
    let error = load_error(&yaml);
    assert!(
        error.contains(
            "component `pricing`: this step runs a component that exports only interfaces \
             other components import (no `run`): a step needs a Runnable"
        ),
        "{error}"
    );
}

#[test]
fn a_component_exporting_nothing_karman_runs_and_imported_by_none_is_refused() {
    let yaml = r#"
identifier: test.links
appVersion: v1
components:
  - { name: pricing, source: guest(calc-provider) }
"#;
    let error = load_error(yaml);
    assert!(
        error.contains("component `pricing`: does not export `run`"),
        "{error}"
    );
}
