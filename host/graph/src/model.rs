//! The graph model: flows of nodes, the subjects they publish to, and the edges between them.

use karman_directive::{ErrAction, StreamSource};

/// The picture of an app: its flows, the subjects they publish to, the components others
/// import from, and the unused components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// `identifier appVersion`.
    pub title: String,
    /// One per request handler, stream handler, schedule and custom route.
    pub flows: Vec<Flow>,
    /// The `respondTo` and `deadLetter` targets, each once, in the order first published to.
    pub subjects: Vec<Subject>,
    /// Components other components import an interface from (`imports:`), each once: what
    /// they export to whom, and their grants (with which their exports run).
    pub exporters: Vec<Node>,
    /// The [`EdgeKind::Imports`] edges: from each box of an importing component (its steps,
    /// or its exporter box) to the box of the exporter, labelled with the interface.
    pub imports: Vec<Edge>,
    /// Components no flow runs and none imports from, with their grants.
    pub unused: Vec<Node>,
}

/// What kind of Directive entry a flow draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// `handlers:` with `type: request`.
    Request,
    /// `handlers:` with `type: stream`.
    Stream,
    /// `schedules:`.
    Schedule,
    /// `routes:`: a `wasi:http` component serving its endpoints.
    Route,
}

impl FlowKind {
    /// The caption of the flow's box: `request handler`, `stream handler`, …
    pub fn caption(self) -> &'static str {
        match self {
            FlowKind::Request => "request handler",
            FlowKind::Stream => "stream handler",
            FlowKind::Schedule => "schedule",
            FlowKind::Route => "custom route",
        }
    }
}

/// A box with an id (unique in the graph) and its lines of text, the first one its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique in the graph, made of ASCII letters, digits and `_`.
    pub id: String,
    /// The text, one entry per line; no control characters.
    pub lines: Vec<String>,
}

/// One handler, schedule or route: its trigger, its steps and where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// `f0`, `f1`, …; the ids of its nodes start with it.
    pub id: String,
    /// What it is.
    pub kind: FlowKind,
    /// What starts it.
    pub trigger: Node,
    /// The steps, in order; a group is one stage of several steps.
    pub stages: Vec<Stage>,
    /// What the result becomes (`response: key`, …); routes have none.
    pub end: Option<Node>,
    /// Where `onErr` branches that return lead, when any is declared.
    pub error: Option<Node>,
    /// `respondTo` and `deadLetter` of a stream handler.
    pub outputs: Vec<Output>,
    /// For stream handlers: where the messages come from and the subject pattern (not for
    /// `source: server`, whose resource is a path).
    pub listens: Option<(StreamSource, String)>,
}

/// One step of a flow: a single call, or the members of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// For a group, the id of its box (`f0_g1`); `None` for a single call.
    pub group: Option<String>,
    /// The calls (one unless a group).
    pub steps: Vec<StepNode>,
}

/// A component call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepNode {
    /// Its box: the component (and `as` key), the `with` view, the grants.
    pub node: Node,
    /// The declared `onErr` branches.
    pub branches: Vec<Branch>,
}

/// A declared `onErr` branch of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// `onErr 404, 409: continue`, `onErr any: continue`, `onErr 500: return`.
    pub label: String,
    /// Where it goes: on to the next step, or to the flow's error node.
    pub action: ErrAction,
}

/// A subject (or topic) a flow publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// `respondTo` or `deadLetter`.
    pub kind: OutputKind,
    /// Index into [`Graph::subjects`].
    pub subject: usize,
    /// The edge's text: `respondTo`, `deadLetter (maxDeliver 5)`.
    pub label: String,
}

/// Why a flow publishes to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The result, on success.
    RespondTo,
    /// A message given up after its deliveries.
    DeadLetter,
}

/// A `respondTo` or `deadLetter` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Its box: `bus user.login-completed`.
    pub node: Node,
    /// The source it is published on.
    pub source: StreamSource,
    /// The subject or topic.
    pub name: String,
    /// Indexes into [`Graph::flows`] of the stream handlers that receive it.
    pub listeners: Vec<usize>,
}

/// The style of an [`Edge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// Step order: trigger to the first step, step to step, last step to the end.
    Next,
    /// An `onErr` branch that continues.
    Continue,
    /// An `onErr` branch that returns, to the error node.
    Return,
    /// A result published to a subject.
    RespondTo,
    /// A message given up, published to a subject.
    DeadLetter,
    /// A subject received by a stream handler.
    Listens,
    /// Calls into an interface another component exports (`imports:`); drawn dotted.
    Imports,
}

impl EdgeKind {
    /// Whether it is drawn dashed (errors and failures).
    pub fn dashed(self) -> bool {
        matches!(
            self,
            EdgeKind::Continue | EdgeKind::Return | EdgeKind::DeadLetter
        )
    }
}

/// An arrow between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The id of the node it leaves.
    pub from: String,
    /// The id of the node it reaches.
    pub to: String,
    /// Its style.
    pub kind: EdgeKind,
    /// Its text, if any.
    pub label: Option<String>,
}

impl Graph {
    /// Every arrow of the picture, in a fixed order: each flow's own, then from the subjects to
    /// the flows that listen, then the imports.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        let edge = |from: &str, to: &str, kind, label: Option<String>| Edge {
            from: from.to_string(),
            to: to.to_string(),
            kind,
            label,
        };
        for flow in &self.flows {
            let mut previous: Vec<&str> = vec![&flow.trigger.id];
            for stage in &flow.stages {
                for from in &previous {
                    for step in &stage.steps {
                        edges.push(edge(from, &step.node.id, EdgeKind::Next, None));
                    }
                }
                previous = stage.steps.iter().map(|s| s.node.id.as_str()).collect();
            }
            if let Some(end) = &flow.end {
                for from in &previous {
                    edges.push(edge(from, &end.id, EdgeKind::Next, None));
                }
            }
            // The onErr branches: a continue goes where the step's success goes.
            for (i, stage) in flow.stages.iter().enumerate() {
                let next: Vec<&str> = match flow.stages.get(i + 1) {
                    Some(next) => next.steps.iter().map(|s| s.node.id.as_str()).collect(),
                    None => flow.end.iter().map(|end| end.id.as_str()).collect(),
                };
                for step in &stage.steps {
                    for branch in &step.branches {
                        match branch.action {
                            ErrAction::Continue => {
                                for to in &next {
                                    edges.push(edge(
                                        &step.node.id,
                                        to,
                                        EdgeKind::Continue,
                                        Some(branch.label.clone()),
                                    ));
                                }
                            }
                            ErrAction::Return => {
                                if let Some(error) = &flow.error {
                                    edges.push(edge(
                                        &step.node.id,
                                        &error.id,
                                        EdgeKind::Return,
                                        Some(branch.label.clone()),
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            for output in &flow.outputs {
                let subject = &self.subjects[output.subject].node.id;
                let label = Some(output.label.clone());
                match (output.kind, &flow.end) {
                    (OutputKind::RespondTo, Some(end)) => {
                        edges.push(edge(&end.id, subject, EdgeKind::RespondTo, label));
                    }
                    (OutputKind::RespondTo, None) => {}
                    (OutputKind::DeadLetter, _) => {
                        edges.push(edge(&flow.trigger.id, subject, EdgeKind::DeadLetter, label))
                    }
                }
            }
        }
        for subject in &self.subjects {
            for &listener in &subject.listeners {
                edges.push(edge(
                    &subject.node.id,
                    &self.flows[listener].trigger.id,
                    EdgeKind::Listens,
                    None,
                ));
            }
        }
        edges.extend(self.imports.iter().cloned());
        edges
    }

    /// Every node of the graph, flows first, in drawing order.
    pub fn nodes(&self) -> Vec<&Node> {
        let mut nodes = Vec::new();
        for flow in &self.flows {
            nodes.push(&flow.trigger);
            for stage in &flow.stages {
                nodes.extend(stage.steps.iter().map(|s| &s.node));
            }
            nodes.extend(flow.end.iter());
            nodes.extend(flow.error.iter());
        }
        nodes.extend(self.subjects.iter().map(|s| &s.node));
        nodes.extend(self.exporters.iter());
        nodes.extend(self.unused.iter());
        nodes
    }
}
