//! The graph in Graphviz's DOT language: a cluster per flow and per group, every id and label
//! a double-quoted string.

use std::fmt::Write as _;

use crate::text;
use crate::{EdgeKind, Graph, Node};

fn node(out: &mut String, indent: &str, node: &Node, attributes: &str) {
    let label: Vec<String> = node.lines.iter().map(|line| text::dot(line)).collect();
    let _ = writeln!(
        out,
        "{indent}\"{}\" [label=\"{}\"{attributes}];",
        node.id,
        label.join("\\n")
    );
}

const TRIGGER: &str =
    ", shape=box, style=\"rounded,filled,bold\", fillcolor=\"#dbeafe\", color=\"#1d4ed8\"";
const STEP: &str = "";
const DONE: &str = ", style=\"rounded,filled\", fillcolor=\"#dcfce7\", color=\"#15803d\"";
const ERROR: &str = ", style=\"rounded,filled\", fillcolor=\"#fee2e2\", color=\"#b91c1c\"";
const SUBJECT: &str = ", shape=parallelogram, fillcolor=\"#fef3c7\", color=\"#b45309\"";
const EXPORTER: &str = ", shape=component, fillcolor=\"#ede9fe\", color=\"#6d28d9\"";

pub fn render(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", text::dot(&graph.title));
    let _ = writeln!(
        out,
        "  graph [rankdir=TB, label=\"{}\", labelloc=t, fontname=\"Helvetica\", fontsize=16, nodesep=0.4, ranksep=0.5];",
        text::dot(&graph.title)
    );
    out.push_str(
        "  node [shape=box, style=filled, fillcolor=\"#ffffff\", color=\"#334155\", fontname=\"Helvetica\", fontsize=11];\n",
    );
    out.push_str("  edge [color=\"#475569\", fontname=\"Helvetica\", fontsize=10];\n");
    for flow in &graph.flows {
        let _ = writeln!(out, "  subgraph \"cluster_{}\" {{", flow.id);
        let _ = writeln!(
            out,
            "    label=\"{}\"; style=\"rounded,filled\"; fillcolor=\"#f8fafc\"; color=\"#94a3b8\";",
            text::dot(flow.kind.caption())
        );
        node(&mut out, "    ", &flow.trigger, TRIGGER);
        for stage in &flow.stages {
            match &stage.group {
                Some(group) => {
                    let _ = writeln!(out, "    subgraph \"cluster_{group}\" {{");
                    out.push_str(
                        "      label=\"group\"; style=\"dashed,rounded\"; color=\"#64748b\";\n",
                    );
                    for step in &stage.steps {
                        node(&mut out, "      ", &step.node, STEP);
                    }
                    out.push_str("    }\n");
                }
                None => {
                    for step in &stage.steps {
                        node(&mut out, "    ", &step.node, STEP);
                    }
                }
            }
        }
        if let Some(end) = &flow.end {
            node(&mut out, "    ", end, DONE);
        }
        if let Some(error) = &flow.error {
            node(&mut out, "    ", error, ERROR);
        }
        out.push_str("  }\n");
    }
    for subject in &graph.subjects {
        node(&mut out, "  ", &subject.node, SUBJECT);
    }
    // The components drawn apart from the flows, each kind in a cluster of its own.
    for (cluster, label, nodes, attributes) in [
        (
            "exporters",
            "components imported by others",
            &graph.exporters,
            EXPORTER,
        ),
        ("unused", "components used by no flow", &graph.unused, STEP),
    ] {
        if !nodes.is_empty() {
            let _ = writeln!(out, "  subgraph \"cluster_{cluster}\" {{");
            let _ = writeln!(out, "    label=\"{label}\"; style=\"dashed,rounded\";");
            for component in nodes {
                node(&mut out, "    ", component, attributes);
            }
            out.push_str("  }\n");
        }
    }
    for edge in graph.edges() {
        let mut attributes = Vec::new();
        if let Some(label) = &edge.label {
            attributes.push(format!("label=\"{}\"", text::dot(label)));
        }
        if edge.kind.dashed() {
            attributes.push("style=dashed".to_string());
        } else if edge.kind == EdgeKind::Imports {
            attributes.push("style=dotted, color=\"#6d28d9\"".to_string());
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        let _ = writeln!(out, "  \"{}\" -> \"{}\"{attributes};", edge.from, edge.to);
    }
    out.push_str("}\n");
    out
}
