//! The graph of every example app, in each format.

use super::*;

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
