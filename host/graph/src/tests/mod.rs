//! The graph of every example app, of a Directive that uses every kind of flow and branch, and
//! the three formats drawn from them: the shared helpers here, the examples in `examples`, the
//! flows, edges and layout of one Directive in `flows`.

mod examples;
mod flows;

use std::path::{Path, PathBuf};

use karman_directive::{App, ParseOptions, StreamSource};

use super::*;

pub(super) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example apps, by directory name, sorted.
pub(super) fn examples() -> Vec<(String, App)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Directive.yaml").exists())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let app = crate::load(&dir.join("Directive.yaml"))
                .unwrap_or_else(|e| panic!("examples/{name}: {e}"));
            (name, app)
        })
        .collect()
}

pub(super) fn parse(yaml: &str) -> App {
    let mut options = ParseOptions::new("Directive.yaml", ".");
    options.unbuilt_sources = true;
    karman_directive::parse(yaml, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// The texts an SVG shows: each node's lines joined by spaces, and every other text.
pub(super) fn svg_texts(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let mut texts = Vec::new();
    for element in document.descendants().filter(|n| n.is_element()) {
        let name = element.tag_name().name();
        if name == "g" {
            let lines: Vec<&str> = element
                .children()
                .filter(|c| c.has_tag_name("text"))
                .map(|c| c.text().unwrap_or(""))
                .collect();
            texts.push(lines.join(" "));
        } else if name == "text" && !element.parent().is_some_and(|p| p.has_tag_name("g")) {
            texts.push(element.text().unwrap_or("").to_string());
        }
    }
    texts
}

/// The three renderings of a graph, each with a check that a text appears in it as drawn.
pub(super) struct Rendered {
    mermaid: String,
    dot: String,
    svg: Vec<String>,
}

impl Rendered {
    pub(super) fn of(graph: &Graph) -> Self {
        Self {
            // Label lines joined back with spaces, as they were before wrapping.
            mermaid: graph.mermaid().replace("<br/>", " "),
            dot: graph.dot().replace("\\n", " "),
            svg: svg_texts(&graph.svg()),
        }
    }

    pub(super) fn assert_shows(&self, what: &str, text: &str) {
        assert!(
            self.mermaid.contains(&text::mermaid(text)),
            "Mermaid lacks {what} `{text}`:\n{}",
            self.mermaid
        );
        assert!(
            self.dot.contains(&text::dot(text)),
            "DOT lacks {what} `{text}`:\n{}",
            self.dot
        );
        assert!(
            self.svg.iter().any(|t| t.contains(text)),
            "the SVG lacks {what} `{text}`: {:#?}",
            self.svg
        );
    }
}

pub(super) fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

/// A Directive with every kind of flow: branches, a pipeline on the bus, JetStream with dead
/// letters that a handler reads, a schedule, a route, an unused component, and text that
/// each format must escape.
pub(super) const EVERYTHING: &str = r#"
identifier: com.example.everything
appVersion: v1.2.3
connections:
  nats: { serverAddress: 127.0.0.1:4222 }
components:
  - name: fetch
    source: fetch.wasm
    capabilities:
      cache: { prefix: 'say "hi" <b> & co' }
  - name: enrich
    source: enrich.wasm
  - name: audit
    source: audit.wasm
  - name: render
    source: render.wasm
    capabilities:
      http: { allow: ["api.example.com", "*.example.org"] }
  - name: unused
    source: unused.wasm
  - name: plugin
    source: plugin.wasm
handlers:
  - type: request
    method: GET
    resource: /items/:id
    state: { endpoint: "https://secret.example.com/?token=abc" }
    steps:
      - fn: fetch
        onErr: { code: { 404: continue, 409: continue }, other: return }
      - group:
          - fn: enrich
            as: extra
            onErr: { any: continue }
          - fn: audit
      - fn: render
        onErr: { code: { 500: return }, other: continue }
  - type: stream
    source: bus
    resource: orders.created
    respondTo: orders.done
    steps: [ { fn: audit } ]
  - type: stream
    source: bus
    resource: orders.*
    steps: [ { fn: enrich } ]
  - type: stream
    source: nats
    resource: jobs.run
    stream: JOBS
    maxDeliver: 3
    deadLetter: dead.jobs
    steps: [ { fn: fetch } ]
  - type: stream
    source: nats
    resource: dead.>
    steps: [ { fn: audit } ]
schedules:
  - name: cleanup
    every: { minutes: 5 }
    steps: [ { fn: enrich } ]
routes:
  - plugin: shop
    component: plugin
    endpoints:
      - { method: GET, path: /status, auth: public }
"#;
