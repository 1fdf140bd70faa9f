//! The plan of an exported app, from its Directive: the request handlers with their steps, the
//! components with their grants. What the Directive asks that an export cannot do is refused
//! here, with where the Directive says it (the credentials of `authentication.domains` when a
//! component calls out); what the export leaves out (stream handlers, schedules, custom routes,
//! static files, the check of resolved addresses) is named in the notes.

use karman_directive::{App, ErrAction, Sequence, Step as DirectiveStep};
use karman_export_plan::{
    Call, Component, Grants, Handler, Limits, OnErr, Outbound, Plan, Retry, SLOTS, Step,
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
                http: grants.http.as_ref().map(|http| Outbound {
                    allow: http.allow.iter().map(ToString::to_string).collect(),
                    allow_private: http.allow_private,
                }),
            },
            timeout_ms: u64::try_from(component.limits.timeout.as_millis()).unwrap_or(u64::MAX),
        });
    }
    credentials(app, &mut refusals, &mut notes);
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

/// The credentials of `authentication.domains` stay with a host: refused when a component
/// calls out (the exported component would have to hold them), noted otherwise. A component
/// that calls out with `allowPrivate: false` is noted: its names are not checked after DNS.
fn credentials(app: &App, refusals: &mut Vec<Refusal>, notes: &mut Vec<String>) {
    let callers: Vec<&str> = app
        .components
        .iter()
        .filter(|component| component.grants.http.is_some())
        .map(|component| component.name.as_str())
        .collect();
    for (domain, credential) in &app.authentication.domains {
        if callers.is_empty() {
            notes.push(format!(
                "the credential of `authentication.domains` for `{domain}` is not exported"
            ));
        } else {
            refusals.push(Refusal::new(
                Some(credential.location.to_string()),
                format!(
                    "`authentication.domains` gives `{domain}` a credential the host adds to the \
                     requests of {}: an exported component cannot keep a secret out of its \
                     sandbox",
                    callers
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for component in &app.components {
        if let Some(http) = &component.grants.http
            && !http.allow_private
        {
            notes.push(format!(
                "component `{}`: its allow list is enforced inside the export, but a name that \
                 resolves to a private address is reached (that check needs Karman's host)",
                component.name
            ));
        }
    }
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
