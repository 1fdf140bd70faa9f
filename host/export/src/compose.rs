//! The composition of an exported app with [`wac_graph`]: the plan feeds the adapter and the
//! sequencer; each Runnable's `karman:runnable` imports are the adapter's exports; the
//! sequencer's slots are the Runnables' `run`s (a slot the app does not fill gets the first
//! Runnable's, never called: the plan names no such component); the composition exports the
//! sequencer's `wasi:http/incoming-handler`. The standard WASI imports of every part are left
//! to the host, as imports of the exported component.

use std::collections::HashMap;

use karman_export_plan::SLOTS;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

/// The interface the exported component exports.
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.12";
const PLAN: &str = "karman:exported/plan@0.1.0";
const CONTEXT: &str = "karman:exported/context@0.1.0";
const TYPES: &str = "karman:runnable/types@0.1.0";

/// What an exported app is composed of.
pub struct Parts<'a> {
    pub plan: &'a [u8],
    pub adapter: &'a [u8],
    pub sequencer: &'a [u8],
    /// Each component of the app, by name, in plan order.
    pub runnables: &'a [(String, Vec<u8>)],
}

/// The exported component.
pub fn compose(parts: &Parts) -> Result<Vec<u8>, String> {
    let mut graph = CompositionGraph::new();
    let plan = register(&mut graph, "karman-export:plan", parts.plan)?;
    let adapter = register(&mut graph, "karman-export:adapter", parts.adapter)?;
    let sequencer = register(&mut graph, "karman-export:sequencer", parts.sequencer)?;

    let plan = graph.instantiate(plan);
    let plan = alias(&mut graph, plan, PLAN)?;
    let adapter = graph.instantiate(adapter);
    argument(&mut graph, adapter, PLAN, plan)?;
    let mut served = Served {
        adapter,
        aliases: HashMap::new(),
    };

    let mut runs = Vec::new();
    for (index, (name, bytes)) in parts.runnables.iter().enumerate() {
        let package = register(&mut graph, &format!("karman-app:component-{index}"), bytes)
            .map_err(|e| format!("component `{name}`: {e}"))?;
        let imports: Vec<String> = graph.types()[graph[package].ty()]
            .imports
            .keys()
            .filter(|name| name.starts_with("karman:runnable/"))
            .cloned()
            .collect();
        let instance = graph.instantiate(package);
        for import in imports {
            let export = served.export(&mut graph, &import)?;
            argument(&mut graph, instance, &import, export)
                .map_err(|e| format!("component `{name}`: {e}"))?;
        }
        runs.push(
            alias(&mut graph, instance, "run")
                .map_err(|e| format!("component `{name}` is not a Runnable: {e}"))?,
        );
    }
    let first = *runs.first().ok_or("the app has no component")?;

    let sequencer = graph.instantiate(sequencer);
    argument(&mut graph, sequencer, PLAN, plan)?;
    for interface in [CONTEXT, TYPES] {
        let export = served.export(&mut graph, interface)?;
        argument(&mut graph, sequencer, interface, export)?;
    }
    for slot in 0..SLOTS {
        let run = runs.get(slot).copied().unwrap_or(first);
        argument(&mut graph, sequencer, &format!("slot-{slot}"), run)?;
    }
    let handler = alias(&mut graph, sequencer, INCOMING_HANDLER)?;
    graph
        .export(handler, INCOMING_HANDLER)
        .map_err(|e| format!("{e:#}"))?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| format!("composing the exported component: {}", chain(&e)))
}

/// The adapter's instance, and the exports of it aliased so far.
struct Served {
    adapter: NodeId,
    aliases: HashMap<String, NodeId>,
}

impl Served {
    fn export(&mut self, graph: &mut CompositionGraph, name: &str) -> Result<NodeId, String> {
        if let Some(node) = self.aliases.get(name) {
            return Ok(*node);
        }
        let node = alias(graph, self.adapter, name)
            .map_err(|_| format!("imports `{name}`, which an exported app does not serve"))?;
        self.aliases.insert(name.to_string(), node);
        Ok(node)
    }
}

fn register(graph: &mut CompositionGraph, name: &str, bytes: &[u8]) -> Result<PackageId, String> {
    let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
        .map_err(|e| format!("{e:#}"))?;
    graph
        .register_package(package)
        .map_err(|e| format!("{e:#}"))
}

fn alias(graph: &mut CompositionGraph, instance: NodeId, name: &str) -> Result<NodeId, String> {
    graph
        .alias_instance_export(instance, name)
        .map_err(|e| chain(&e))
}

fn argument(
    graph: &mut CompositionGraph,
    instance: NodeId,
    name: &str,
    value: NodeId,
) -> Result<(), String> {
    graph
        .set_instantiation_argument(instance, name, value)
        .map_err(|e| format!("`{name}`: {}", chain(&e)))
}

/// An error with its sources, one after the other.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
