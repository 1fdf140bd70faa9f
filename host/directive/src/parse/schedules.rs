//! `schedules:`: step sequences started by a timer, `every` an interval or at the times of a
//! `cron` expression.
//!
//! ```yaml
//! schedules:
//!   - name: cleanup
//!     every: { minutes: 5 }        # or cron: "0 */5 * * * *" (seconds first, UTC)
//!     state: { olderThan: 30d }
//!     steps: [ { fn: cleanup } ]
//! ```

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use marked_yaml::Node;

use crate::error::Location;
use crate::keys;
use crate::model::{Component, Schedule, Trigger};
use crate::parse::sequences::parse_sequence;
use crate::yaml::{Reader, start};

/// Shortest `every` interval.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// `schedules:`, each name declared once.
pub(crate) fn parse_schedules(
    reader: &mut Reader<'_>,
    node: &Node,
    components: &[Component],
) -> Vec<Schedule> {
    let Some(items) = reader.sequence(node, "`schedules`") else {
        return Vec::new();
    };
    let mut schedules = Vec::new();
    let mut names: HashMap<String, Location> = HashMap::new();
    for item in items {
        let Some(fields) = reader.mapping(item, "a schedule", &keys::SCHEDULE) else {
            continue;
        };
        let Some(name_node) = reader.required(fields, "name", "a schedule") else {
            continue;
        };
        let Some(name) = reader.non_empty_string(name_node, "a schedule's `name`") else {
            continue;
        };
        let name = name.trim().to_string();
        let location = reader.location_or_start(start(item));
        if let Some(first) = names.get(&name) {
            reader.error(
                start(name_node),
                format!("duplicate schedule `{name}` (first at {first})"),
            );
            continue;
        }
        names.insert(name.clone(), location.clone());
        let what = format!("schedule `{name}`");
        let trigger = match (fields.get("every"), fields.get("cron")) {
            (Some(every), None) => parse_every(reader, every, &what),
            (None, Some(cron)) => parse_cron(reader, cron),
            (Some(_), Some(cron)) => {
                reader.error(
                    start(cron),
                    format!("{what} has both `every` and `cron`: give one"),
                );
                None
            }
            (None, None) => {
                reader.error_with_hint(
                    start(item),
                    format!("{what} needs `every` or `cron`"),
                    "e.g. `every: { minutes: 5 }` or `cron: \"0 */5 * * * *\"`",
                );
                None
            }
        };
        let sequence = parse_sequence(reader, fields, &what, components);
        if let (Some(trigger), Some(sequence)) = (trigger, sequence) {
            schedules.push(Schedule {
                name,
                trigger,
                sequence,
                location,
            });
        }
    }
    schedules
}

fn parse_every(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Trigger> {
    let fields = reader.mapping(node, &format!("`every` of {what}"), &keys::EVERY)?;
    let mut total = Duration::ZERO;
    let given: Vec<&str> = keys::EVERY
        .keys()
        .iter()
        .copied()
        .filter(|k| fields.get(k).is_some())
        .collect();
    if given.is_empty() {
        if node.as_mapping().is_some_and(|m| m.is_empty()) {
            reader.error(
                start(node),
                format!("`every` of {what} needs `seconds`, `minutes`, `hours` or `days`"),
            );
        }
        return None;
    }
    for (key, unit) in [
        ("seconds", 1),
        ("minutes", 60),
        ("hours", 3600),
        ("days", 86_400),
    ] {
        if let Some(n) = fields.get(key) {
            let text = reader.string(n, &format!("`{key}`"))?;
            match text.trim().parse::<f64>() {
                Ok(value) if value > 0.0 && value.is_finite() => {
                    total += Duration::from_secs_f64(value * f64::from(unit));
                }
                _ => {
                    reader.error(
                        start(n),
                        format!("`{key}` must be a positive number, not `{text}`"),
                    );
                    return None;
                }
            }
        }
    }
    if total < MIN_INTERVAL {
        reader.error_with_hint(
            start(node),
            format!("`every` of {what} must be at least 100ms"),
            "e.g. `every: { seconds: 30 }`",
        );
        return None;
    }
    Some(Trigger::Every(total))
}

fn parse_cron(reader: &mut Reader<'_>, node: &Node) -> Option<Trigger> {
    let text = reader.non_empty_string(node, "`cron`")?;
    let text = text.trim().to_string();
    match cron::Schedule::from_str(&text) {
        Ok(_) => Some(Trigger::Cron(text)),
        Err(error) => {
            // The parser's message repeats the expression with a caret; keep its last line.
            let error = error.to_string();
            let reason = error.lines().last().unwrap_or_default().trim().to_string();
            reader.error_with_hint(
                start(node),
                format!("`{text}` is not a cron expression: {reason}"),
                "six fields, seconds first: `sec min hour day-of-month month day-of-week`, e.g. `0 */5 * * * *`",
            );
            None
        }
    }
}
