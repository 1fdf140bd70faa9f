//! `state`, `steps` and `response` of a handler or schedule: the steps (`fn`, `group`), the
//! state keys they read (`with`) and store (`as`), what an error does (`onErr`), and when a
//! step is tried again (`retry`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use marked_yaml::{Node, Span};

use crate::error::did_you_mean;
use crate::keys;
use crate::model::{
    Component, ComponentId, DEFAULT_RETRY_BACKOFF, DEFAULT_RETRY_ON, ErrAction, FnStep,
    MAX_RETRY_ATTEMPTS, MAX_RETRY_BACKOFF, OnErr, Retry, Sequence, Step,
};
use crate::units::parse_duration;
use crate::yaml::{Fields, Reader, start};

/// `state`, `steps` and `response` of a handler or schedule.
pub(crate) fn parse_sequence(
    reader: &mut Reader<'_>,
    fields: Fields<'_>,
    what: &str,
    components: &[Component],
) -> Option<Sequence> {
    let state = match fields.get("state") {
        Some(node) => parse_initial_state(reader, node, what)?,
        None => BTreeMap::new(),
    };
    let steps_node = reader.required(fields, "steps", what)?;
    let items = reader.sequence(steps_node, &format!("the `steps` of {what}"))?;
    if items.is_empty() {
        reader.error(steps_node.span(), format!("{what} has no steps"));
        return None;
    }
    let mut produced: BTreeSet<String> = state.keys().cloned().collect();
    let mut steps = Vec::new();
    let mut failed = false;
    for item in items {
        match parse_step(reader, item, components, &produced) {
            Some(step) => {
                for call in step.calls() {
                    produced.insert(call.key.clone());
                }
                steps.push(step);
            }
            None => failed = true,
        }
    }
    let response = match fields.get("response") {
        Some(node) => {
            let key = reader.non_empty_string(node, "`response`")?;
            if !failed && !produced.contains(&key) {
                unknown_key_error(
                    reader,
                    start(node),
                    &format!("`response` of {what} names `{key}`"),
                    &key,
                    &produced,
                );
                return None;
            }
            Some(key)
        }
        None => None,
    };
    if failed {
        return None;
    }
    let response = match (response, steps.last()) {
        (Some(key), _) => key,
        (None, Some(Step::Fn(call))) => call.key.clone(),
        (None, Some(Step::Group(calls))) => {
            let keys: Vec<&str> = calls.iter().map(|c| c.key.as_str()).collect();
            reader.error_with_hint(
                steps_node.span(),
                format!("the last step of {what} is a group, so its response is ambiguous"),
                format!(
                    "add `response:` naming the state key to return, e.g. `response: {}`",
                    keys[0]
                ),
            );
            return None;
        }
        (None, None) => return None,
    };
    Some(Sequence {
        state,
        steps,
        response,
    })
}

/// `state:` of a handler: keys to text values (`env(NAME)` allowed) the steps start with.
fn parse_initial_state(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = node.as_mapping() else {
        reader.error(
            start(node),
            format!("the `state` of {what} must map keys to values"),
        );
        return None;
    };
    let mut state = BTreeMap::new();
    let mut ok = true;
    for (key, value) in map.iter() {
        let name = key.as_str().trim().to_string();
        if name.is_empty() {
            reader.error(
                key.span(),
                format!("the `state` of {what} has an empty key"),
            );
            ok = false;
            continue;
        }
        match reader.string_or_env(value, &format!("`state.{name}`")) {
            Some(text) => {
                state.insert(name, text);
            }
            None => ok = false,
        }
    }
    ok.then_some(state)
}

fn parse_step(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
    produced: &BTreeSet<String>,
) -> Option<Step> {
    let fields = reader.mapping(node, "a step", &keys::STEP)?;
    match (fields.get("fn"), fields.get("group")) {
        (Some(_), Some(group)) => {
            reader.error_with_hint(
                group.span(),
                "a step has both `fn` and `group`",
                "a step runs one component (`fn:`) or a list of them concurrently (`group:`)",
            );
            None
        }
        (None, None) => {
            reader.error_with_hint(
                start(node),
                "a step needs `fn` or `group`",
                "write `- fn: <component>`",
            );
            None
        }
        (Some(_), None) => parse_call(reader, node, fields, components, produced).map(Step::Fn),
        (None, Some(group)) => {
            for key in ["as", "with", "onErr", "retry"] {
                if let Some(value) = fields.get(key) {
                    reader.error_with_hint(
                        value.span(),
                        format!("`{key}` does not apply to a group"),
                        format!("put `{key}` on the group's `fn` steps"),
                    );
                }
            }
            let items = reader.sequence(group, "a `group`")?;
            if items.is_empty() {
                reader.error(group.span(), "a `group` needs at least one `fn` step");
                return None;
            }
            let mut calls: Vec<FnStep> = Vec::new();
            let mut failed = false;
            for item in items {
                let Some(member) = reader.mapping(item, "a group step", &keys::GROUP_MEMBER) else {
                    failed = true;
                    continue;
                };
                if member.get("fn").is_none() {
                    reader.error_with_hint(
                        start(item),
                        "a group step needs `fn` (groups do not nest)",
                        "write `- fn: <component>`",
                    );
                    failed = true;
                    continue;
                }
                match parse_call(reader, item, member, components, produced) {
                    Some(call) => {
                        if let Some(twin) = calls.iter().find(|c| c.key == call.key) {
                            reader.error_with_hint(
                                start(item),
                                format!(
                                    "two steps of a group store their output under `{}` (the other at {})",
                                    call.key, twin.location
                                ),
                                "give one of them a distinct `as:`",
                            );
                            failed = true;
                        }
                        calls.push(call);
                    }
                    None => failed = true,
                }
            }
            (!failed).then_some(Step::Group(calls))
        }
    }
}

fn parse_call(
    reader: &mut Reader<'_>,
    node: &Node,
    fields: Fields<'_>,
    components: &[Component],
    produced: &BTreeSet<String>,
) -> Option<FnStep> {
    let fn_node = fields.get("fn")?;
    let name = reader.non_empty_string(fn_node, "`fn`")?;
    let Some(index) = components.iter().position(|c| c.name == name) else {
        if reader.invalid_components.contains(&name) {
            return None;
        }
        let message = format!("step runs `{name}`, which is not a declared component");
        match did_you_mean(&name, components.iter().map(|c| c.name.as_str())) {
            Some(close) => {
                reader.error_with_hint(fn_node.span(), message, format!("did you mean `{close}`?"))
            }
            None => reader.error_with_hint(
                fn_node.span(),
                message,
                "declare it under `components:` with a `name` and a `source`",
            ),
        }
        return None;
    };
    let key = match fields.get("as") {
        Some(node) => reader.non_empty_string(node, "`as`")?,
        None => name,
    };
    let with = match fields.get("with") {
        Some(node) => Some(parse_with(reader, node, produced)?),
        None => None,
    };
    let on_err = match fields.get("onErr") {
        Some(node) => parse_on_err(reader, node)?,
        None => OnErr::default(),
    };
    let retry = match fields.get("retry") {
        Some(node) => Some(parse_retry(reader, node)?),
        None => None,
    };
    Some(FnStep {
        component: ComponentId(index),
        key,
        with,
        on_err,
        retry,
        location: reader.location_or_start(start(node)),
    })
}

/// `with: { view-key: state-key }`.
fn parse_with(
    reader: &mut Reader<'_>,
    node: &Node,
    produced: &BTreeSet<String>,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = node.as_mapping() else {
        reader.error_with_hint(
            start(node),
            "`with` must be a mapping",
            "write `with: { name-in-this-step: key-in-state }`",
        );
        return None;
    };
    let mut view = BTreeMap::new();
    let mut ok = true;
    for (alias, source) in map.iter() {
        let Some(source_key) = reader.non_empty_string(source, "a `with` value") else {
            ok = false;
            continue;
        };
        if !produced.contains(&source_key) {
            unknown_key_error(
                reader,
                source.span(),
                &format!("`with` reads `{source_key}`"),
                &source_key,
                produced,
            );
            ok = false;
            continue;
        }
        view.insert(alias.as_str().to_string(), source_key);
    }
    ok.then_some(view)
}

fn unknown_key_error(
    reader: &mut Reader<'_>,
    span: &Span,
    subject: &str,
    key: &str,
    produced: &BTreeSet<String>,
) {
    let message = format!("{subject}, but no earlier step stores that key in the state");
    let hint = match did_you_mean(key, produced.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`?"),
        None if produced.is_empty() => "no step before this one stores anything".to_string(),
        None => format!(
            "earlier steps store: {}",
            produced
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    reader.error_with_hint(span, message, hint);
}

/// `onErr: { any: continue }` or `onErr: { code: { 404: continue }, other: return }`.
fn parse_on_err(reader: &mut Reader<'_>, node: &Node) -> Option<OnErr> {
    let fields = reader.mapping(node, "`onErr`", &keys::ON_ERR)?;
    match (fields.get("any"), fields.get("code"), fields.get("other")) {
        (Some(any), Some(_), _) | (Some(any), _, Some(_)) => {
            reader.error_with_hint(
                any.span(),
                "`onErr` has `any` together with `code`/`other`",
                "use `any: continue|return` alone, or `code: {404: continue}` with `other:`",
            );
            None
        }
        (Some(any), None, None) => Some(OnErr {
            codes: BTreeMap::new(),
            other: parse_action(reader, any)?,
        }),
        (None, codes, other) => {
            let mut on_err = OnErr::default();
            if let Some(other) = other {
                on_err.other = parse_action(reader, other)?;
            }
            if let Some(codes) = codes {
                let Some(map) = codes.as_mapping() else {
                    reader.error_with_hint(
                        codes.span(),
                        "`code` must be a mapping of status codes to actions",
                        "write `code: { 404: continue }`",
                    );
                    return None;
                };
                for (code, action) in map.iter() {
                    let Ok(number) = code.as_str().parse::<u16>() else {
                        reader.error(
                            code.span(),
                            format!("`{}` is not an error code (0..65535)", code.as_str()),
                        );
                        return None;
                    };
                    on_err.codes.insert(number, parse_action(reader, action)?);
                }
            } else if other.is_none() {
                reader.error_with_hint(
                    start(node),
                    "`onErr` is empty",
                    "write `onErr: { any: continue }` or `onErr: { code: { 404: continue } }`",
                );
                return None;
            }
            Some(on_err)
        }
    }
}

/// `retry: { attempts: 3, backoff: 100ms, on: [503, 504] }`.
fn parse_retry(reader: &mut Reader<'_>, node: &Node) -> Option<Retry> {
    let fields = reader.mapping(node, "`retry`", &keys::RETRY)?;
    let attempts_node = reader.required(fields, "attempts", "`retry`")?;
    let text = reader.string(attempts_node, "`retry.attempts`")?;
    let attempts = match text.trim().parse::<u32>() {
        Ok(n) if (2..=MAX_RETRY_ATTEMPTS).contains(&n) => n,
        _ => {
            reader.error_with_hint(
                start(attempts_node),
                format!(
                    "`retry.attempts` must be a whole number from 2 to {MAX_RETRY_ATTEMPTS}, not `{text}`"
                ),
                "it counts every try, the first included: `attempts: 3` runs the step at most three times",
            );
            return None;
        }
    };
    let backoff = match fields.get("backoff") {
        None => DEFAULT_RETRY_BACKOFF,
        Some(n) => {
            let text = reader.string(n, "`retry.backoff`")?;
            match parse_duration(&text) {
                Ok(backoff) if backoff > Duration::ZERO && backoff <= MAX_RETRY_BACKOFF => backoff,
                Ok(_) => {
                    reader.error(
                        start(n),
                        format!(
                            "`retry.backoff` must be above zero and at most {}, not `{}`",
                            humantime::format_duration(MAX_RETRY_BACKOFF),
                            text.trim()
                        ),
                    );
                    return None;
                }
                Err(message) => {
                    reader.error(start(n), format!("`retry.backoff`: {message}"));
                    return None;
                }
            }
        }
    };
    let on = match fields.get("on") {
        None => BTreeSet::from(DEFAULT_RETRY_ON),
        Some(n) => {
            let items = reader.sequence(n, "`retry.on`")?;
            if items.is_empty() {
                reader.error_with_hint(
                    n.span(),
                    "`retry.on` is empty, so no error would be retried",
                    "list the codes to retry, e.g. `on: [503, 504]`, or leave `on` out for that default",
                );
                return None;
            }
            let mut codes = BTreeSet::new();
            for item in items {
                let text = reader.string(item, "a code of `retry.on`")?;
                let Ok(code) = text.trim().parse::<u16>() else {
                    reader.error(
                        start(item),
                        format!(
                            "`{}` in `retry.on` is not an error code (0..65535)",
                            text.trim()
                        ),
                    );
                    return None;
                };
                codes.insert(code);
            }
            codes
        }
    };
    Some(Retry {
        attempts,
        backoff,
        on,
    })
}

fn parse_action(reader: &mut Reader<'_>, node: &Node) -> Option<ErrAction> {
    let text = reader.string(node, "an `onErr` action")?;
    match text.as_str() {
        "continue" => Some(ErrAction::Continue),
        "return" => Some(ErrAction::Return),
        other => {
            reader.error_with_hint(
                start(node),
                format!("`{other}` is not an `onErr` action"),
                "use `continue` or `return`",
            );
            None
        }
    }
}
