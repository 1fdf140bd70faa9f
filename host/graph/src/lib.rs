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
//!
//! Edges follow the step order (every member of a group to every member of the next step),
//! the declared `onErr` branches (`onErr 404: continue`; the implicit `return` of a step without
//! `onErr` is not drawn), `respondTo` and `deadLetter` to their subjects, and from a subject to
//! every stream handler of the same source that listens to it, so a pipeline reads as one picture.
//! Components no flow uses are drawn on their own.
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
mod mermaid;
mod svg;
mod text;

use std::path::{Path, PathBuf};

use karman_directive::{
    App, Diagnostic, DirectiveError, ErrAction, FnStep, Grants, OnErr, ParseOptions, Sequence,
    StreamHandler, StreamSource, Trigger, subject_matches,
};

/// Reads the Directive at `path` for a picture: as [`karman_directive::load_unbuilt`] (its
/// components need not be built), except that an `env(NAME)` without a default whose variable
/// is not set reads as `unset:NAME` instead of being an error. A picture draws no secret, so
/// `karman graph` needs none of the secrets an app is served with.
pub fn load(path: &Path) -> Result<App, DirectiveError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DirectiveError::single(Diagnostic::new(
            None,
            format!("cannot read the Directive `{}`: {e}", path.display()),
        ))
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    // The variables read without a default: `env(NAME)`.
    let required: Vec<&str> = text
        .match_indices("env(")
        .filter_map(|(at, _)| {
            let inner = &text[at + 4..];
            let inner = &inner[..inner.find(')')?];
            (!inner.contains(',')).then(|| inner.trim())
        })
        .collect();
    let env = |name: &str| match std::env::var(name) {
        Ok(value) => Some(value),
        // Long enough for any length check a secret has (it is drawn nowhere).
        Err(_) => required
            .contains(&name)
            .then(|| format!("{:-<64}", format!("unset:{name}"))),
    };
    let mut options = ParseOptions::new(path.display().to_string(), base_dir);
    options.env = &env;
    options.unbuilt_sources = true;
    karman_directive::parse(&text, &options)
}

/// Characters per line of a step's label before it wraps.
pub const LABEL_WIDTH: usize = 44;

/// The picture of an app: its flows, the subjects they publish to, and the unused components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// `identifier appVersion`.
    pub title: String,
    /// One per request handler, stream handler, schedule and custom route.
    pub flows: Vec<Flow>,
    /// The `respondTo` and `deadLetter` targets, each once, in the order first published to.
    pub subjects: Vec<Subject>,
    /// Components no flow runs, with their grants.
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
    /// The picture of `app`.
    pub fn new(app: &App) -> Graph {
        let mut builder = Builder {
            app,
            subjects: Vec::new(),
            used: vec![false; app.components.len()],
        };
        let mut flows = Vec::new();
        for handler in &app.handlers {
            let mut lines = vec![format!("{} {}", handler.method, handler.resource)];
            lines.extend(state_line(&handler.sequence));
            let id = format!("f{}", flows.len());
            flows.push(builder.sequence_flow(
                id,
                FlowKind::Request,
                lines,
                &handler.sequence,
                format!("response: {}", handler.sequence.response),
                "error response",
            ));
        }
        for stream in &app.streams {
            let id = format!("f{}", flows.len());
            flows.push(builder.stream_flow(id, stream));
        }
        for schedule in &app.schedules {
            let mut lines = vec![format!("schedule {}", schedule.name)];
            lines.push(match &schedule.trigger {
                Trigger::Every(_) => schedule.trigger.to_string(),
                Trigger::Cron(cron) => format!("cron {cron} (UTC)"),
            });
            lines.extend(state_line(&schedule.sequence));
            let id = format!("f{}", flows.len());
            flows.push(builder.sequence_flow(
                id,
                FlowKind::Schedule,
                lines,
                &schedule.sequence,
                "done".to_string(),
                "failed run",
            ));
        }
        for route in &app.routes {
            let id = format!("f{}", flows.len());
            let mut lines = vec![format!("route {} (/ext/{}/…)", route.plugin, route.plugin)];
            for endpoint in &route.endpoints {
                let limits = endpoint.limits();
                let limits = if limits.is_empty() {
                    String::new()
                } else {
                    format!(", {limits}")
                };
                lines.push(format!(
                    "{} {} ({}{limits})",
                    endpoint.method, endpoint.path, endpoint.auth
                ));
            }
            builder.used[route.component.0] = true;
            let component = app.component(route.component);
            let mut step_lines = vec![format!("{} (wasi:http)", component.name)];
            step_lines.push(grant_line(&component.grants));
            flows.push(Flow {
                trigger: node(format!("{id}_t"), lines),
                stages: vec![Stage {
                    group: None,
                    steps: vec![StepNode {
                        node: node(format!("{id}_s0"), step_lines),
                        branches: Vec::new(),
                    }],
                }],
                kind: FlowKind::Route,
                end: None,
                error: None,
                outputs: Vec::new(),
                listens: None,
                id,
            });
        }
        // Who listens to each subject.
        for subject in &mut builder.subjects {
            subject.listeners = flows
                .iter()
                .enumerate()
                .filter(|(_, flow)| {
                    flow.listens.as_ref().is_some_and(|(source, pattern)| {
                        *source == subject.source && subject_matches(pattern, &subject.name)
                    })
                })
                .map(|(i, _)| i)
                .collect();
        }
        let unused = app
            .components
            .iter()
            .enumerate()
            .filter(|(i, _)| !builder.used[*i])
            .map(|(i, component)| {
                let mut lines = vec![component.name.clone(), "used by no flow".to_string()];
                lines.push(grant_line(&component.grants));
                node(format!("c{i}"), lines)
            })
            .collect();
        Graph {
            title: text::clean(&format!("{} {}", app.identifier, app.app_version)),
            flows,
            subjects: builder.subjects,
            unused,
        }
    }

    /// Every arrow of the picture, in a fixed order: each flow's own, then from the subjects to
    /// the flows that listen.
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
        edges
    }

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
        nodes.extend(self.unused.iter());
        nodes
    }
}

struct Builder<'a> {
    app: &'a App,
    subjects: Vec<Subject>,
    used: Vec<bool>,
}

impl Builder<'_> {
    fn sequence_flow(
        &mut self,
        id: String,
        kind: FlowKind,
        trigger: Vec<String>,
        sequence: &Sequence,
        end: String,
        error: &str,
    ) -> Flow {
        let mut stages = Vec::new();
        for (i, step) in sequence.steps.iter().enumerate() {
            let calls = step.calls();
            let group = (calls.len() > 1 || matches!(step, karman_directive::Step::Group(_)))
                .then(|| format!("{id}_g{i}"));
            let steps = calls
                .iter()
                .enumerate()
                .map(|(j, call)| {
                    let node_id = if group.is_some() {
                        format!("{id}_s{i}_{j}")
                    } else {
                        format!("{id}_s{i}")
                    };
                    self.step(node_id, call)
                })
                .collect();
            stages.push(Stage { group, steps });
        }
        let returns = stages
            .iter()
            .flat_map(|s: &Stage| &s.steps)
            .flat_map(|s| &s.branches)
            .any(|b| b.action == ErrAction::Return);
        Flow {
            trigger: node(format!("{id}_t"), trigger),
            stages,
            end: Some(node(format!("{id}_end"), vec![end])),
            error: returns.then(|| node(format!("{id}_err"), vec![error.to_string()])),
            kind,
            outputs: Vec::new(),
            listens: None,
            id,
        }
    }

    fn stream_flow(&mut self, id: String, stream: &StreamHandler) -> Flow {
        let mut lines = vec![format!("stream {} {}", stream.source, stream.resource)];
        if let Some(jetstream) = &stream.jetstream {
            lines.push(format!(
                "JetStream {}/{}",
                jetstream.stream, jetstream.durable
            ));
        }
        lines.extend(state_line(&stream.sequence));
        let end = match stream.source {
            StreamSource::Server => format!("reply: {}", stream.sequence.response),
            _ => format!("result: {}", stream.sequence.response),
        };
        let mut flow = self.sequence_flow(
            id,
            FlowKind::Stream,
            lines,
            &stream.sequence,
            end,
            "failed message",
        );
        if let Some(subject) = &stream.respond_to {
            let subject = self.subject(stream.source.clone(), subject);
            flow.outputs.push(Output {
                kind: OutputKind::RespondTo,
                subject,
                label: "respondTo".to_string(),
            });
        }
        if let Some(subject) = &stream.dead_letter {
            let subject = self.subject(stream.source.clone(), subject);
            flow.outputs.push(Output {
                kind: OutputKind::DeadLetter,
                subject,
                label: text::clean(&format!("deadLetter (maxDeliver {})", stream.max_deliver)),
            });
        }
        if stream.source != StreamSource::Server {
            flow.listens = Some((stream.source.clone(), stream.resource.clone()));
        }
        flow
    }

    fn step(&mut self, id: String, call: &FnStep) -> StepNode {
        self.used[call.component.0] = true;
        let component = self.app.component(call.component);
        let mut lines = vec![if call.key == component.name {
            component.name.clone()
        } else {
            format!("{} as {}", component.name, call.key)
        }];
        if let Some(with) = &call.with {
            let view: Vec<String> = with
                .iter()
                .map(|(view, key)| {
                    if view == key {
                        view.clone()
                    } else {
                        format!("{view}={key}")
                    }
                })
                .collect();
            lines.push(format!("with: {}", view.join(", ")));
        }
        lines.push(grant_line(&component.grants));
        StepNode {
            node: node(id, lines),
            branches: branches(&call.on_err),
        }
    }

    /// The index of the subject `name` on `source`, added when new.
    fn subject(&mut self, source: StreamSource, name: &str) -> usize {
        if let Some(i) = self
            .subjects
            .iter()
            .position(|s| s.source == source && s.name == name)
        {
            return i;
        }
        let id = format!("subj{}", self.subjects.len());
        self.subjects.push(Subject {
            node: node(id, vec![format!("{source} {name}")]),
            source,
            name: name.to_string(),
            listeners: Vec::new(),
        });
        self.subjects.len() - 1
    }
}

/// A node whose lines are cleaned of control characters and wrapped to [`LABEL_WIDTH`].
fn node(id: String, lines: Vec<String>) -> Node {
    Node {
        id,
        lines: lines
            .iter()
            .flat_map(|line| text::wrap(&text::clean(line), LABEL_WIDTH))
            .collect(),
    }
}

/// `state: a, b` (the keys only: values may be configuration that is not for a picture).
fn state_line(sequence: &Sequence) -> Option<String> {
    (!sequence.state.is_empty()).then(|| {
        let keys: Vec<&str> = sequence.state.keys().map(String::as_str).collect();
        format!("state: {}", keys.join(", "))
    })
}

/// `grants: …`, from [`Grants`]'s text.
fn grant_line(grants: &Grants) -> String {
    format!("grants: {grants}")
}

/// The declared branches of an `onErr`: the continues first, then the returns. The implicit
/// `return` for any other code is not a branch.
fn branches(on_err: &OnErr) -> Vec<Branch> {
    let codes = |action: ErrAction| -> Vec<String> {
        on_err
            .codes
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(code, _)| code.to_string())
            .collect()
    };
    let mut branches = Vec::new();
    for action in [ErrAction::Continue, ErrAction::Return] {
        let name = match action {
            ErrAction::Continue => "continue",
            ErrAction::Return => "return",
        };
        let mut which = codes(action);
        if on_err.other == action && action == ErrAction::Continue {
            which.push(if on_err.codes.is_empty() {
                "any".to_string()
            } else {
                "other".to_string()
            });
        }
        // An explicit return when any other code also returns changes nothing: not drawn.
        if action == ErrAction::Return && on_err.other == ErrAction::Return {
            which.clear();
        }
        if !which.is_empty() {
            branches.push(Branch {
                label: format!("onErr {}: {name}", which.join(", ")),
                action,
            });
        }
    }
    branches
}

#[cfg(test)]
mod tests;
