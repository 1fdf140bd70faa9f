//! From an [`App`] to its [`Graph`]: a flow per handler, stream, schedule and route, the
//! subjects their results go to, the components others import from, and the components no
//! flow uses.

use karman_directive::{
    App, ErrAction, FnStep, Grants, OnErr, Sequence, StreamHandler, StreamSource, Trigger,
    subject_matches,
};

use crate::text;
use crate::{
    Branch, Edge, EdgeKind, Flow, FlowKind, Graph, Node, Output, OutputKind, Stage, StepNode,
    Subject,
};

/// Characters per line of a step's label before it wraps.
pub const LABEL_WIDTH: usize = 44;

impl Graph {
    /// The picture of `app`.
    pub fn new(app: &App) -> Graph {
        let mut builder = Builder {
            app,
            subjects: Vec::new(),
            used: vec![false; app.components.len()],
            boxes: vec![Vec::new(); app.components.len()],
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
                lines.push(format!(
                    "{} {} ({})",
                    endpoint.method,
                    endpoint.path,
                    endpoint.terms()
                ));
            }
            builder.used[route.component.0] = true;
            builder.boxes[route.component.0].push(format!("{id}_s0"));
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
        // Each exporter once, with the interfaces it exports and to whom.
        let exporter_of = |name: &str| app.components.iter().position(|c| c.name == name);
        let mut exported: Vec<Vec<String>> = vec![Vec::new(); app.components.len()];
        for component in &app.components {
            for link in &component.imports {
                if let Some(exporter) = exporter_of(&link.from) {
                    exported[exporter].push(format!("{} to {}", link.interface, component.name));
                }
            }
        }
        let mut exporters = Vec::new();
        for (i, component) in app.components.iter().enumerate() {
            if exported[i].is_empty() {
                continue;
            }
            let mut lines = vec![format!("{} (exports)", component.name)];
            lines.extend(exported[i].iter().cloned());
            lines.push(grant_line(&component.grants));
            exporters.push(node(format!("c{i}"), lines));
            builder.boxes[i].push(format!("c{i}"));
        }
        let mut imports = Vec::new();
        for (i, component) in app.components.iter().enumerate() {
            for link in &component.imports {
                let Some(exporter) = exporter_of(&link.from) else {
                    continue;
                };
                for from in &builder.boxes[i] {
                    imports.push(Edge {
                        from: from.clone(),
                        to: format!("c{exporter}"),
                        kind: EdgeKind::Imports,
                        label: Some(text::clean(&link.interface)),
                    });
                }
            }
        }
        let unused = app
            .components
            .iter()
            .enumerate()
            .filter(|(i, _)| !builder.used[*i] && exported[*i].is_empty())
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
            exporters,
            imports,
            unused,
        }
    }
}

struct Builder<'a> {
    app: &'a App,
    subjects: Vec<Subject>,
    used: Vec<bool>,
    /// The ids of each component's boxes, by component index.
    boxes: Vec<Vec<String>>,
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
        self.boxes[call.component.0].push(id.clone());
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
