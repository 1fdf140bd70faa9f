//! Pictures of a Karman app: what triggers each flow, the steps it runs and what each component
//! may do.
//!
//! [`Graph::new`] turns a validated [`App`] into a graph model, one **flow** per request handler,
//! stream handler, schedule and custom route, in that order and in Directive order within each:
//!
//! | node | drawn for |
//! |------|-----------|
//! | trigger | `GET /hello/:name`, `stream nats user.login`, `schedule nightly` + `every 24h`, `route billing` + its endpoints |
//! | step | one component call: its name (`as` key), its `with` view and its grants (`Grants`'s text) |
//! | group | the members of a `group:` step, side by side |
//! | end | what the result becomes: `response: key`, `reply: key`, `result: key`, `done` |
//! | error | where an `onErr` branch that returns leads, when one is declared |
//! | subject | a `respondTo` or `deadLetter` target, e.g. `bus user.login-completed` |
//! | exporter | a component others import an interface from (`imports:`): what it exports to whom, its grants |
//!
//! Edges follow the step order (every member of a group to every member of the next step),
//! the declared `onErr` branches (`onErr 404: continue`; the implicit `return` of a step without
//! `onErr` is not drawn), `respondTo` and `deadLetter` to their subjects, and from a subject to
//! every stream handler of the same source that listens to it, so a pipeline reads as one picture.
//! Dotted edges run from each box of a component that imports an interface to its exporter,
//! labelled with the interface. Components no flow uses and none imports from are drawn on
//! their own.
//!
//! The graph renders as Mermaid ([`Graph::mermaid`]), DOT ([`Graph::dot`]) and SVG
//! ([`Graph::svg`], a layered layout of its own: one column per flow, a pipeline stacked in one
//! column). The same app always gives the same bytes. Labels carry no secret: no connection
//! string, credential, state value or file path is drawn.
//!
//! # Examples
//!
//! ```
//! use karman_directive::{parse, ParseOptions};
//! use karman_graph::Graph;
//!
//! let yaml = r#"
//! identifier: com.example.hello
//! appVersion: v0.1.0
//! components:
//!   - name: greet
//!     source: greet.wasm
//!     capabilities: { cache: { prefix: "visits:" } }
//! handlers:
//!   - type: request
//!     method: GET
//!     resource: /hello/:name
//!     steps:
//!       - fn: greet
//! "#;
//! let mut options = ParseOptions::new("Directive.yaml", ".");
//! options.unbuilt_sources = true;
//! let app = parse(yaml, &options).unwrap();
//! let graph = Graph::new(&app);
//! let mermaid = graph.mermaid();
//! assert!(mermaid.starts_with("flowchart TB\n"));
//! assert!(mermaid.contains(r#"f0_t(["GET /hello/:name"])"#));
//! assert!(mermaid.contains(r#"f0_s0["greet<br/>grants: cache (prefix #quot;visits:#quot;), log"]"#));
//! assert!(graph.dot().contains(r#""f0_t" -> "f0_s0""#));
//! assert!(graph.svg().contains("<svg "));
//! ```

#![warn(missing_docs)]

mod dot;
mod from_app;
mod mermaid;
mod model;
mod svg;
mod text;

use std::path::Path;

use karman_directive::{App, DirectiveError, UnsetEnv};

pub use from_app::LABEL_WIDTH;
pub use model::{
    Branch, Edge, EdgeKind, Flow, FlowKind, Graph, Node, Output, OutputKind, Stage, StepNode,
    Subject,
};

/// Reads the Directive at `path` for a picture: as [`karman_directive::load_unbuilt`] (its
/// components need not be built), except that an `env(NAME)` without a default whose variable
/// is not set reads as a placeholder ([`karman_directive::UnsetEnv::Placeholder`]) instead of
/// being an error. A picture draws no secret, so `karman graph` needs none of the secrets an
/// app is served with.
pub fn load(path: &Path) -> Result<App, DirectiveError> {
    karman_directive::load_with(path, |options| {
        options.unbuilt_sources = true;
        options.unset_env = UnsetEnv::Placeholder;
    })
}

impl Graph {
    /// The graph as a Mermaid `flowchart` (for GitHub markdown, in a ```` ```mermaid ```` block).
    pub fn mermaid(&self) -> String {
        mermaid::render(self)
    }

    /// The graph in Graphviz's DOT language (`dot -Tsvg app.dot > app.svg`).
    pub fn dot(&self) -> String {
        dot::render(self)
    }

    /// The graph as a standalone SVG image, laid out here (no Graphviz needed).
    pub fn svg(&self) -> String {
        svg::render(self)
    }
}

#[cfg(test)]
mod tests;
