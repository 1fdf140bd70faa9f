//! The plan of an exported app, from its Directive: the request handlers with their steps, the
//! components with their grants. What the Directive asks that an export cannot do is refused
//! here, with where the Directive says it; what the export leaves out (stream handlers, schedules, custom routes,
//! static files) is named in the notes.

use karman_directive::{App, ErrAction, Sequence, Step as DirectiveStep};
use karman_export_plan::{
    Call, Component, Grants, Handler, Limits, OnErr, Plan, Retry, SLOTS, Step,
};

use crate::Refusal;

/// The plan of `app`, and notes on what the export leaves out.
pub fn plan_of(app: &App) -> Result<(Plan, Vec<String>), Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut notes = Vec::new();
    if app.handlers.is_empty() {
        refusals.push(Refusal::new(
            None,
            "the app has no request handler: `karman export` exports request handlers",
        ));
    }
    if app.components.len() > SLOTS {
        refusals.push(Refusal::new(
            None,
            format!(
                "the app has {} components; an exported app holds at most {SLOTS}",
                app.components.len()
            ),
        ));
    }
    let mut components = Vec::new();
    for component in &app.components {
        let grants = &component.grants;
        if let Some(link) = component.imports.first() {
            refusals.push(Refusal::new(
                Some(link.location.to_string()),
                format!(
                    "component `{}` imports `{}` from `{}`: links between components are not \
                     exported yet",
                    component.name, link.interface, link.from
                ),
            ));
        }
        if !component.config.is_empty() {
            refusals.push(Refusal::new(
                Some(component.location.to_string()),
                format!(
                    "component `{}` has `config:`, which an exported app does not serve yet",
                    component.name
                ),
            ));
        }
        components.push(Component {
            name: component.name.clone(),
            grants: Grants {
                cache: grants.cache.as_ref().map(|cache| cache.prefix.clone()),
                log: grants.log,
            },
            timeout_ms: u64::try_from(component.limits.timeout.as_millis()).unwrap_or(u64::MAX),
        });
    }
    let handlers = app
        .handlers
        .iter()
        .map(|handler| Handler {
            method: handler.method.clone(),
            resource: handler.resource.to_string(),
            state: handler.sequence.state.clone(),
            steps: steps_of(&handler.sequence),
            response: handler.sequence.response.clone(),
        })
        .collect();
    for (count, what) in [
        (app.streams.len(), "stream handlers"),
        (app.schedules.len(), "schedules"),
        (app.routes.len(), "custom routes"),
    ] {
        if count > 0 {
            notes.push(format!("{count} {what} of the app are not exported"));
        }
    }
    if app.headless.is_some() {
        notes.push("the headless endpoints of the app are not exported".into());
    }
    if app.static_dir.is_some() {
        notes.push("the static files of the app are not exported".into());
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let plan = Plan {
        components,
        handlers,
        limits: Limits::default(),
    };
    Ok((plan, notes))
}

fn steps_of(sequence: &Sequence) -> Vec<Step> {
    let call = |step: &karman_directive::FnStep| Call {
        component: u32::try_from(step.component.0).expect("fewer components than slots"),
        key: step.key.clone(),
        with: step.with.clone(),
        on_err: OnErr {
            codes: step
                .on_err
                .codes
                .iter()
                .map(|(code, action)| (*code, *action == ErrAction::Continue))
                .collect(),
            other_continues: step.on_err.other == ErrAction::Continue,
        },
        retry: step.retry.as_ref().map(|retry| Retry {
            attempts: retry.attempts,
            backoff_ms: u64::try_from(retry.backoff.as_millis()).unwrap_or(u64::MAX),
            on: retry.on.iter().copied().collect(),
        }),
    };
    sequence
        .steps
        .iter()
        .map(|step| match step {
            DirectiveStep::Fn(fn_step) => Step::Fn(call(fn_step)),
            DirectiveStep::Group(group) => Step::Group(group.iter().map(call).collect()),
        })
        .collect()
}
