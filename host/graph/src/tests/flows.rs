//! The flows, edges and layout of one Directive with every kind of flow and branch.

use super::*;

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
