//! The graph of every example app, of a Directive that uses every kind of flow and branch, and
//! the three formats drawn from them.

use std::path::{Path, PathBuf};

use karman_directive::{App, ParseOptions, StreamSource};

use super::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example apps, by directory name, sorted.
fn examples() -> Vec<(String, App)> {
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

fn parse(yaml: &str) -> App {
    let mut options = ParseOptions::new("Directive.yaml", ".");
    options.unbuilt_sources = true;
    karman_directive::parse(yaml, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// The texts an SVG shows: each node's lines joined by spaces, and every other text.
fn svg_texts(svg: &str) -> Vec<String> {
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
struct Rendered {
    mermaid: String,
    dot: String,
    svg: Vec<String>,
}

impl Rendered {
    fn of(graph: &Graph) -> Self {
        Self {
            // Label lines joined back with spaces, as they were before wrapping.
            mermaid: graph.mermaid().replace("<br/>", " "),
            dot: graph.dot().replace("\\n", " "),
            svg: svg_texts(&graph.svg()),
        }
    }

    fn assert_shows(&self, what: &str, text: &str) {
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

#[test]
fn every_handler_step_group_subject_and_grant_of_the_examples_is_drawn_in_each_format() {
    let examples = examples();
    let names: Vec<&str> = examples.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.contains(&"hello") && names.contains(&"login-events") && names.len() >= 6,
        "{names:?}"
    );
    for (name, app) in &examples {
        let graph = Graph::new(app);
        let drawn = Rendered::of(&graph);
        let flows = app.handlers.len() + app.streams.len() + app.schedules.len() + app.routes.len();
        assert_eq!(graph.flows.len(), flows, "{name}");
        assert!(flows > 0, "{name} has a flow");
        for handler in &app.handlers {
            drawn.assert_shows(
                "a handler",
                &format!("{} {}", handler.method, handler.resource),
            );
        }
        for stream in &app.streams {
            drawn.assert_shows(
                "a stream",
                &format!("stream {} {}", stream.source, stream.resource),
            );
            if let Some(subject) = &stream.respond_to {
                drawn.assert_shows(
                    "a respondTo subject",
                    &format!("{} {subject}", stream.source),
                );
                drawn.assert_shows("a respondTo edge", "respondTo");
            }
        }
        for schedule in &app.schedules {
            drawn.assert_shows("a schedule", &format!("schedule {}", schedule.name));
        }
        for route in &app.routes {
            drawn.assert_shows("a route", &format!("route {}", route.plugin));
            for endpoint in &route.endpoints {
                drawn.assert_shows(
                    "an endpoint",
                    &format!("{} {} ({}", endpoint.method, endpoint.path, endpoint.auth),
                );
            }
        }
        let sequences = app
            .handlers
            .iter()
            .map(|h| &h.sequence)
            .chain(app.streams.iter().map(|s| &s.sequence))
            .chain(app.schedules.iter().map(|s| &s.sequence));
        let mut groups = 0;
        for sequence in sequences {
            for step in &sequence.steps {
                if let karman_directive::Step::Group(_) = step {
                    groups += 1;
                }
                for call in step.calls() {
                    let component = &app.component(call.component).name;
                    if call.key == *component {
                        drawn.assert_shows("a step", component);
                    } else {
                        drawn.assert_shows("a step", &format!("{component} as {}", call.key));
                    }
                }
            }
        }
        for component in &app.components {
            drawn.assert_shows("a component", &component.name);
            drawn.assert_shows("a grant", &format!("grants: {}", component.grants));
            for link in &component.imports {
                drawn.assert_shows(
                    "an export",
                    &format!("{} to {}", link.interface, component.name),
                );
            }
        }
        // Each group is drawn as one box in each format.
        assert_eq!(
            drawn.mermaid.matches("[\"group\"]").count(),
            groups,
            "{name}"
        );
        assert_eq!(
            drawn.dot.matches("label=\"group\"").count(),
            groups,
            "{name}"
        );
        assert_eq!(
            graph.svg().matches("class=\"group\"").count(),
            groups,
            "{name}"
        );
    }
}

#[test]
fn hello_draws_its_group_side_by_side_between_greet_and_render() {
    let app = examples()
        .into_iter()
        .find(|(name, _)| name == "hello")
        .unwrap()
        .1;
    let graph = Graph::new(&app);
    let flow = &graph.flows[0];
    assert_eq!(flow.trigger.lines, ["GET /hello/:name"]);
    let stages: Vec<Vec<&str>> = flow
        .stages
        .iter()
        .map(|s| s.steps.iter().map(|s| s.node.lines[0].as_str()).collect())
        .collect();
    assert_eq!(
        stages,
        [
            vec!["greet"],
            vec!["count-visits as visits", "fortune"],
            vec!["render"]
        ]
    );
    assert_eq!(
        flow.stages[1].steps[0].node.lines[1],
        "grants: cache (prefix \"visits:\"), log"
    );
    assert_eq!(
        flow.stages[2].steps[0].node.lines[1],
        "with: fortune, greeting=greet, visits"
    );
    let edges: Vec<(&str, &str)> = graph
        .edges()
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .map(|(a, b)| (leak(a), leak(b)))
        .collect();
    assert_eq!(
        edges,
        [
            ("f0_t", "f0_s0"),
            ("f0_s0", "f0_s1_0"),
            ("f0_s0", "f0_s1_1"),
            ("f0_s1_0", "f0_s2"),
            ("f0_s1_1", "f0_s2"),
            ("f0_s2", "f0_end"),
        ]
    );
    assert_eq!(flow.end.as_ref().unwrap().lines, ["response: render"]);

    // In the SVG, the members of the group share a row, left to right.
    let svg = graph.svg();
    let document = roxmltree::Document::parse(&svg).unwrap();
    let rect = |id: &str| -> (f64, f64, f64) {
        let group = document
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no `{id}` in the SVG"));
        let rect = group.children().find(|c| c.has_tag_name("rect")).unwrap();
        let number = |name| rect.attribute(name).unwrap().parse::<f64>().unwrap();
        (number("x"), number("y"), number("width"))
    };
    let (greet_x, greet_y, _) = rect("f0_s0");
    let (visits_x, visits_y, visits_w) = rect("f0_s1_0");
    let (fortune_x, fortune_y, _) = rect("f0_s1_1");
    let (_, render_y, _) = rect("f0_s2");
    assert_eq!(visits_y, fortune_y);
    assert!(visits_x + visits_w < fortune_x);
    assert!(greet_y < visits_y && visits_y < render_y);
    assert!(greet_x > 0.0);
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

/// A Directive with every kind of flow: branches, a pipeline on the bus, JetStream with dead
/// letters that a handler reads, a schedule, a route, an unused component, and text that
/// each format must escape.
const EVERYTHING: &str = r#"
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

#[test]
fn every_flow_branch_subject_and_listener_is_an_edge() {
    let graph = Graph::new(&parse(EVERYTHING));
    assert_eq!(graph.title, "com.example.everything v1.2.3");
    let kinds: Vec<FlowKind> = graph.flows.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FlowKind::Request,
            FlowKind::Stream,
            FlowKind::Stream,
            FlowKind::Stream,
            FlowKind::Stream,
            FlowKind::Schedule,
            FlowKind::Route
        ]
    );
    let triggers: Vec<&[String]> = graph.flows.iter().map(|f| &f.trigger.lines[..]).collect();
    assert_eq!(triggers[0], ["GET /items/:id", "state: endpoint"]);
    assert_eq!(triggers[1], ["stream bus orders.created"]);
    assert_eq!(
        triggers[3],
        ["stream nats jobs.run", "JetStream JOBS/karman-JOBS"]
    );
    assert_eq!(triggers[5], ["schedule cleanup", "every 5m"]);
    assert_eq!(
        triggers[6],
        ["route shop (/ext/shop/…)", "GET /status (public)"]
    );

    let edges: Vec<String> = graph
        .edges()
        .iter()
        .map(|e| {
            let label = e
                .label
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            format!("{} {:?} {}{label}", e.from, e.kind, e.to)
        })
        .collect();
    let expected = [
        // The request handler: step order, then its branches.
        "f0_t Next f0_s0",
        "f0_s0 Next f0_s1_0",
        "f0_s0 Next f0_s1_1",
        "f0_s1_0 Next f0_s2",
        "f0_s1_1 Next f0_s2",
        "f0_s2 Next f0_end",
        "f0_s0 Continue f0_s1_0 [onErr 404, 409: continue]",
        "f0_s0 Continue f0_s1_1 [onErr 404, 409: continue]",
        "f0_s1_0 Continue f0_s2 [onErr any: continue]",
        "f0_s2 Continue f0_end [onErr other: continue]",
        "f0_s2 Return f0_err [onErr 500: return]",
        // The bus pipeline: orders.done is published, and `orders.*` receives it.
        "f1_t Next f1_s0",
        "f1_s0 Next f1_end",
        "f1_end RespondTo subj0 [respondTo]",
        "f2_t Next f2_s0",
        "f2_s0 Next f2_end",
        // JetStream: its dead letters go to dead.jobs, which `dead.>` receives.
        "f3_t Next f3_s0",
        "f3_s0 Next f3_end",
        "f3_t DeadLetter subj1 [deadLetter (maxDeliver 3)]",
        "f4_t Next f4_s0",
        "f4_s0 Next f4_end",
        "f5_t Next f5_s0",
        "f5_s0 Next f5_end",
        "f6_t Next f6_s0",
        "subj0 Listens f2_t",
        "subj1 Listens f4_t",
    ];
    assert_eq!(edges, expected);
    assert_eq!(graph.subjects[0].node.lines, ["bus orders.done"]);
    assert_eq!(graph.subjects[1].node.lines, ["nats dead.jobs"]);
    // `orders.*` does not receive its own input's subject from anyone: only orders.done.
    assert_eq!(graph.subjects[0].listeners, [2]);
    assert_eq!(
        graph.flows[0].error.as_ref().unwrap().lines,
        ["error response"]
    );
    assert!(graph.flows[1].error.is_none());
    assert_eq!(graph.flows[5].end.as_ref().unwrap().lines, ["done"]);
    assert_eq!(
        graph.flows[6].stages[0].steps[0].node.lines[0],
        "plugin (wasi:http)"
    );
    assert_eq!(
        graph.unused,
        [Node {
            id: "c4".to_string(),
            lines: vec![
                "unused".to_string(),
                "used by no flow".to_string(),
                "grants: log".to_string()
            ]
        }]
    );
    assert_eq!(graph.subjects[0].source, StreamSource::Bus);

    // Every node and edge is in each format, and no state value.
    let drawn = Rendered::of(&graph);
    for node in graph.nodes() {
        drawn.assert_shows("a node", &node.lines.join(" "));
    }
    for edge in graph.edges() {
        if let Some(label) = &edge.label {
            drawn.assert_shows("an edge label", label);
        }
    }
    for text in [&drawn.mermaid, &drawn.dot, &graph.svg()] {
        assert!(!text.contains("secret.example.com"), "{text}");
    }
}

/// `(x, y, width, height)` of a box in the SVG.
type Bounds = (f64, f64, f64, f64);

#[test]
fn an_import_is_a_dotted_edge_from_each_box_of_the_importer_to_its_exporter() {
    let app = parse(
        r#"
identifier: com.example.teams
appVersion: v1
components:
  - { name: pricing, source: p.wasm, imports: { "acme:rates/table": rates } }
  - { name: rates, source: r.wasm }
  - { name: checkout, source: c.wasm, imports: { "acme:pricing/calc@0.1.0": pricing } }
handlers:
  - { type: request, method: POST, resource: /checkout, steps: [ { fn: checkout } ] }
  - { type: request, method: GET, resource: /again, steps: [ { fn: checkout, as: again } ] }
"#,
    );
    let graph = Graph::new(&app);
    let imports: Vec<(&str, &str, Option<&str>)> = graph
        .edges()
        .iter()
        .filter(|edge| edge.kind == EdgeKind::Imports)
        .map(|edge| {
            (
                leak(&edge.from),
                leak(&edge.to),
                edge.label.as_deref().map(leak),
            )
        })
        .collect();
    assert_eq!(
        imports,
        [
            ("c0", "c1", Some("acme:rates/table")),
            ("f0_s0", "c0", Some("acme:pricing/calc@0.1.0")),
            ("f1_s0", "c0", Some("acme:pricing/calc@0.1.0")),
        ]
    );
    let exporters: Vec<&[String]> = graph.exporters.iter().map(|n| n.lines.as_slice()).collect();
    assert_eq!(
        exporters,
        [
            &[
                "pricing (exports)".to_string(),
                "acme:pricing/calc@0.1.0 to checkout".to_string(),
                "grants: log".to_string(),
            ][..],
            &[
                "rates (exports)".to_string(),
                "acme:rates/table to pricing".to_string(),
                "grants: log".to_string(),
            ][..],
        ]
    );
    assert!(
        graph.unused.is_empty(),
        "an exporter is not unused: {:?}",
        graph.unused
    );

    let dot = graph.dot();
    assert!(
        dot.contains(
            r##""f1_s0" -> "c0" [label="acme:pricing/calc@0.1.0", style=dotted, color="#6d28d9"];"##
        ),
        "{dot}"
    );
    assert!(
        dot.contains("label=\"components imported by others\""),
        "{dot}"
    );
    let mermaid = graph.mermaid();
    assert!(
        mermaid.contains(r#"  c0 -.->|"acme:rates/table"| c1"#),
        "{mermaid}"
    );
    assert!(mermaid.contains(":::exporter"), "{mermaid}");
    let svg = graph.svg();
    assert_eq!(
        svg.matches(r#"marker-end="url(#arrow-imports)""#).count(),
        3,
        "{svg}"
    );
    let texts = svg_texts(&svg);
    assert!(
        texts.iter().any(|t| t == "components imported by others"),
        "{texts:?}"
    );
}

#[test]
fn a_pipeline_is_stacked_in_one_column() {
    let graph = Graph::new(&parse(EVERYTHING));
    let svg = graph.svg();
    let document = roxmltree::Document::parse(&svg).unwrap();
    let rect = |id: &str| -> (f64, f64, f64, f64) {
        let group = document
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no `{id}` in the SVG"));
        let shape = group
            .children()
            .find(|c| c.has_tag_name("rect") || c.has_tag_name("polygon"))
            .unwrap();
        if shape.has_tag_name("polygon") {
            let points: Vec<(f64, f64)> = shape
                .attribute("points")
                .unwrap()
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            let xs = points.iter().map(|p| p.0);
            let ys = points.iter().map(|p| p.1);
            let (x0, x1) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(0.0, f64::max));
            let (y0, y1) = (ys.clone().fold(f64::MAX, f64::min), ys.fold(0.0, f64::max));
            return (x0, y0, x1 - x0, y1 - y0);
        }
        let number = |name| shape.attribute(name).unwrap().parse::<f64>().unwrap();
        (number("x"), number("y"), number("width"), number("height"))
    };
    let overlaps = |a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)| {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    };
    // orders.created → orders.done → orders.*: one column, downwards.
    let producer = rect("f1_end");
    let subject = rect("subj0");
    let consumer = rect("f2_t");
    assert!(producer.1 < subject.1 && subject.1 < consumer.1);
    let centre = |r: (f64, f64, f64, f64)| r.0 + r.2 / 2.0;
    assert!((centre(producer) - centre(consumer)).abs() < 1.0);
    // No two boxes overlap, and all are inside the picture.
    let (width, height) = {
        let root = document.root_element();
        let number = |name| root.attribute(name).unwrap().parse::<f64>().unwrap();
        (number("width"), number("height"))
    };
    let boxes: Vec<(&str, Bounds)> = graph
        .nodes()
        .iter()
        .map(|n| (leak(&n.id), rect(&n.id)))
        .collect();
    for (i, (a, ra)) in boxes.iter().enumerate() {
        assert!(ra.0 >= 0.0 && ra.1 >= 0.0, "{a}");
        assert!(
            ra.0 + ra.2 <= width && ra.1 + ra.3 <= height,
            "{a} is outside"
        );
        for (b, rb) in &boxes[i + 1..] {
            assert!(!overlaps(*ra, *rb), "{a} overlaps {b}");
        }
    }
}

#[test]
fn quotes_and_markup_in_labels_are_escaped_in_each_format() {
    let graph = Graph::new(&parse(EVERYTHING));
    let grant = r#"grants: cache (prefix "say \"hi\" <b> & co"), log"#;
    let fetch = &graph.flows[0].stages[0].steps[0].node;
    assert_eq!(fetch.lines.join(" "), format!("fetch {grant}"));

    let mermaid = graph.mermaid();
    assert!(
        mermaid.contains(r#"f0_s0["fetch<br/>grants: cache (prefix #quot;say \#quot;hi\#quot; #lt;b#gt; #amp;<br/>co#quot;), log"]"#),
        "{mermaid}"
    );
    // Inside a node's brackets, the only quotes are the two around its label.
    for line in mermaid.lines().filter(|l| l.contains("[\"")) {
        assert_eq!(line.matches('"').count(), 2, "{line}");
    }

    let dot = graph.dot();
    assert!(
        dot.contains(
            r#""f0_s0" [label="fetch\ngrants: cache (prefix \"say \\\"hi\\\" <b> &\nco\"), log"];"#
        ),
        "{dot}"
    );

    // The SVG reads back as the very text.
    let texts = svg_texts(&graph.svg());
    assert!(texts.contains(&format!("fetch {grant}")), "{texts:#?}");
    assert!(!graph.svg().contains("<b>"));
}

#[test]
fn the_same_app_gives_the_same_bytes() {
    let (a, b) = (
        Graph::new(&parse(EVERYTHING)),
        Graph::new(&parse(EVERYTHING)),
    );
    assert_eq!(a, b);
    assert_eq!(a.mermaid(), b.mermaid());
    assert_eq!(a.dot(), b.dot());
    assert_eq!(a.svg(), b.svg());
}

#[test]
fn the_pictures_in_the_docs_are_those_of_the_examples() {
    for name in ["hello", "login-events"] {
        let directive = repo_root().join(format!("examples/{name}/Directive.yaml"));
        let app = crate::load(&directive).unwrap();
        let path = repo_root().join(format!("docs/graph/{name}.svg"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            committed == Graph::new(&app).svg(),
            "docs/graph/{name}.svg is stale: regenerate it with \
             `karman graph examples/{name}/Directive.yaml --format svg -o docs/graph/{name}.svg`"
        );
    }
}
