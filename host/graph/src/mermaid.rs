//! The graph as a Mermaid `flowchart`: a subgraph per flow and per group, labels in double
//! quotes with Mermaid's entity codes, lines joined with `<br/>`.

use std::fmt::Write as _;

use crate::text;
use crate::{EdgeKind, Graph, Node};

/// The shape of a node: Mermaid's opening and closing brackets.
#[derive(Clone, Copy)]
enum Shape {
    /// `(["…"])`, a stadium.
    Trigger,
    /// `["…"]`, a rectangle.
    Step,
    /// `("…")`, a rounded rectangle.
    End,
    /// `[/"…"/]`, a parallelogram.
    Subject,
}

fn node(out: &mut String, indent: &str, node: &Node, shape: Shape, class: &str) {
    let (open, close) = match shape {
        Shape::Trigger => ("([", "])"),
        Shape::Step => ("[", "]"),
        Shape::End => ("(", ")"),
        Shape::Subject => ("[/", "/]"),
    };
    let _ = writeln!(
        out,
        "{indent}{}{open}\"{}\"{close}:::{class}",
        node.id,
        label(&node.lines)
    );
}

fn label(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| text::mermaid(line))
        .collect::<Vec<_>>()
        .join("<br/>")
}

pub fn render(graph: &Graph) -> String {
    let mut out = String::new();
    out.push_str("flowchart TB\n");
    let _ = writeln!(out, "  %% {}", graph.title);
    for flow in &graph.flows {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            flow.id,
            text::mermaid(flow.kind.caption())
        );
        node(&mut out, "    ", &flow.trigger, Shape::Trigger, "trigger");
        for stage in &flow.stages {
            match &stage.group {
                Some(group) => {
                    let _ = writeln!(out, "    subgraph {group}[\"group\"]");
                    out.push_str("      direction LR\n");
                    for step in &stage.steps {
                        node(&mut out, "      ", &step.node, Shape::Step, "step");
                    }
                    out.push_str("    end\n");
                }
                None => {
                    for step in &stage.steps {
                        node(&mut out, "    ", &step.node, Shape::Step, "step");
                    }
                }
            }
        }
        if let Some(end) = &flow.end {
            node(&mut out, "    ", end, Shape::End, "done");
        }
        if let Some(error) = &flow.error {
            node(&mut out, "    ", error, Shape::End, "error");
        }
        out.push_str("  end\n");
    }
    for subject in &graph.subjects {
        node(&mut out, "  ", &subject.node, Shape::Subject, "subject");
    }
    if !graph.exporters.is_empty() {
        out.push_str("  subgraph exporters[\"components imported by others\"]\n");
        for component in &graph.exporters {
            node(&mut out, "    ", component, Shape::Step, "exporter");
        }
        out.push_str("  end\n");
    }
    if !graph.unused.is_empty() {
        out.push_str("  subgraph unused[\"components used by no flow\"]\n");
        for component in &graph.unused {
            node(&mut out, "    ", component, Shape::Step, "step");
        }
        out.push_str("  end\n");
    }
    for edge in graph.edges() {
        // Mermaid's dotted arrow draws both the dashed kinds and the imports.
        let arrow = if edge.kind.dashed() || edge.kind == EdgeKind::Imports {
            "-.->"
        } else {
            "-->"
        };
        match &edge.label {
            Some(label) => {
                let _ = writeln!(
                    out,
                    "  {} {arrow}|\"{}\"| {}",
                    edge.from,
                    text::mermaid(label),
                    edge.to
                );
            }
            None => {
                let _ = writeln!(out, "  {} {arrow} {}", edge.from, edge.to);
            }
        }
    }
    out.push_str(concat!(
        "  classDef trigger fill:#dbeafe,stroke:#1d4ed8,color:#0f172a\n",
        "  classDef step fill:#ffffff,stroke:#334155,color:#0f172a\n",
        "  classDef done fill:#dcfce7,stroke:#15803d,color:#0f172a\n",
        "  classDef error fill:#fee2e2,stroke:#b91c1c,color:#0f172a\n",
        "  classDef subject fill:#fef3c7,stroke:#b45309,color:#0f172a\n",
    ));
    if !graph.exporters.is_empty() {
        out.push_str("  classDef exporter fill:#ede9fe,stroke:#6d28d9,color:#0f172a\n");
    }
    out
}
