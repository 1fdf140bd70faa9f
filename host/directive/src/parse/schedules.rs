//! `schedules:`: step sequences started by a timer, `every` an interval or at the times of a
//! `cron` expression.
//!
//! ```yaml
//! schedules:
//!   - name: cleanup
//!     every: { minutes: 5 }        # or every: 5m
//!     state: { olderThan: 30d }
//!     steps: [ { fn: cleanup } ]
//!   - name: nightly
//!     cron: "30 2 * * *"           # crontab's five fields (UTC), or six, seconds first
//!     steps: [ { fn: report } ]
//! ```
//!
//! A five-field expression is read as crontab reads it (minute first, day of week `0`–`7`
//! with `0` and `7` for Sunday) and stored as the equivalent six-field one, seconds `0`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use marked_yaml::Node;

use crate::error::Location;
use crate::keys;
use crate::model::{Component, Schedule, Trigger};
use crate::parse::sequences::parse_sequence;
use crate::units::parse_duration;
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
                    "e.g. `every: 5m`, `every: { minutes: 5 }` or `cron: \"*/5 * * * *\"`",
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
    if let Some(scalar) = node.as_scalar() {
        let text = scalar.as_str().trim();
        return match parse_duration(text) {
            Ok(every) if every >= MIN_INTERVAL => Some(Trigger::Every(every)),
            Ok(_) => {
                reader.error_with_hint(
                    start(node),
                    format!("`every` of {what} must be at least 100ms"),
                    "e.g. `every: 30s`",
                );
                None
            }
            Err(_) => {
                reader.error_with_hint(
                    start(node),
                    format!("`every: {text}` of {what} is not a duration"),
                    "write a duration such as `30s`, `5m`, `1h 30m`, or a mapping such as `{ minutes: 5 }`",
                );
                None
            }
        };
    }
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
    let expression = match crontab_to_six_fields(&text) {
        Ok(Some(six)) => six,
        Ok(None) => text.clone(),
        Err(reason) => {
            reader.error_with_hint(
                start(node),
                format!("`{text}` is not a cron expression: {reason}"),
                CRON_HINT,
            );
            return None;
        }
    };
    match cron::Schedule::from_str(&expression) {
        Ok(_) => Some(Trigger::Cron(expression)),
        Err(error) => {
            // The parser's message repeats the expression with a caret; keep its last line.
            let error = error.to_string();
            let reason = error.lines().last().unwrap_or_default().trim().to_string();
            reader.error_with_hint(
                start(node),
                format!("`{text}` is not a cron expression: {reason}"),
                CRON_HINT,
            );
            None
        }
    }
}

const CRON_HINT: &str = "five fields as in crontab: `min hour day-of-month month day-of-week`, \
     e.g. `*/5 * * * *`; or six, seconds first: `0 */5 * * * *`";

/// The six-field (seconds first) form of a five-field crontab expression, `None` for an
/// expression of another length (left to the cron parser as it is).
///
/// Crontab numbers the days of the week `0`–`7` (`0` and `7` are Sunday) where the six-field
/// form numbers them `1`–`7` from Sunday, so the day-of-week field is rewritten with day names.
/// Crontab runs a job whose day of month and day of week are both restricted when *either*
/// matches; the six-field form needs both, so that combination is refused rather than run on
/// other days than crontab would.
fn crontab_to_six_fields(text: &str) -> Result<Option<String>, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
        let shorthand = fields.len() == 1 && text.starts_with('@');
        if shorthand || (6..=7).contains(&fields.len()) {
            return Ok(None);
        }
        return Err(format!(
            "it has {} fields, not five (crontab) or six (seconds first)",
            fields.len()
        ));
    };
    let restricted = |field: &str| field != "*" && field != "?";
    if restricted(day_of_month) && restricted(day_of_week) {
        return Err(format!(
            "it restricts both the day of month (`{day_of_month}`) and the day of week \
             (`{day_of_week}`), which crontab matches when either does; Karman needs both to \
             match, so write two schedules, one for each"
        ));
    }
    let days = crontab_days_of_week(day_of_week)?;
    Ok(Some(format!(
        "0 {minute} {hour} {day_of_month} {month} {days}"
    )))
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A crontab day-of-week field (`*`, `1-5`, `0,6`, `*/2`, `mon-fri`, `7`) as a list of day
/// names, or `*`.
fn crontab_days_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let day = |text: &str| -> Result<usize, String> {
        if let Ok(n) = text.parse::<usize>() {
            return if n <= 7 {
                Ok(n % 7)
            } else {
                Err(format!("day of week `{n}` is not 0-7 (0 and 7 are Sunday)"))
            };
        }
        DAY_NAMES
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("`{text}` is not a day of the week (0-7, or sun-sat)"))
    };
    let mut days = [false; 7];
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => match step.parse::<usize>() {
                Ok(step) if step > 0 => (base, step),
                _ => return Err(format!("`{step}` in `{item}` is not a positive step")),
            },
            None => (item, 1),
        };
        let (first, last) = match base.split_once('-') {
            _ if base == "*" => (0, 6),
            Some((from, to)) => {
                // `5-7` runs Friday to Sunday: the range is taken on 0-7, then Sunday folded.
                let to = if to == "7" { 7 } else { day(to)? };
                (day(from)?, to)
            }
            None if step > 1 => (day(base)?, 6),
            None => {
                let d = day(base)?;
                (d, d)
            }
        };
        if first > last {
            return Err(format!("the day-of-week range `{base}` runs backwards"));
        }
        for d in (first..=last).step_by(step) {
            days[d % 7] = true;
        }
    }
    let names: Vec<&str> = DAY_NAMES
        .iter()
        .zip(days)
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    Ok(names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_expressions_become_six_fields_with_day_names() {
        let six = |text: &str| crontab_to_six_fields(text).unwrap();
        assert_eq!(six("*/5 * * * *").as_deref(), Some("0 */5 * * * *"));
        assert_eq!(
            six("30 2 * * 1-5").as_deref(),
            Some("0 30 2 * * MON,TUE,WED,THU,FRI")
        );
        assert_eq!(six("0 0 * * 0").as_deref(), Some("0 0 0 * * SUN"));
        assert_eq!(six("0 0 * * 7").as_deref(), Some("0 0 0 * * SUN"));
        assert_eq!(six("0 0 * * 5-7").as_deref(), Some("0 0 0 * * SUN,FRI,SAT"));
        assert_eq!(
            six("0 0 * * */2").as_deref(),
            Some("0 0 0 * * SUN,TUE,THU,SAT")
        );
        assert_eq!(six("0 0 * * sat,Sun").as_deref(), Some("0 0 0 * * SUN,SAT"));
        assert_eq!(six("0 0 1 * *").as_deref(), Some("0 0 0 1 * *"));
        assert_eq!(six("0 */5 * * * *"), None, "six fields stay as they are");
        for six in ["0 30 2 * * MON,TUE,WED,THU,FRI", "0 0 0 * * SUN,FRI,SAT"] {
            assert!(cron::Schedule::from_str(six).is_ok(), "{six}");
        }
    }

    #[test]
    fn five_field_expressions_crontab_reads_otherwise_are_refused() {
        let error = crontab_to_six_fields("0 0 1 * 1").unwrap_err();
        assert!(error.contains("either"), "{error}");
        assert!(
            crontab_to_six_fields("0 0 * * 8")
                .unwrap_err()
                .contains("0-7")
        );
        assert!(crontab_to_six_fields("0 0 * * funday").is_err());
        assert!(
            crontab_to_six_fields("0 0 * * 5-1")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(
            crontab_to_six_fields("* * * *")
                .unwrap_err()
                .contains("4 fields")
        );
        assert_eq!(crontab_to_six_fields("@daily"), Ok(None));
    }

    #[test]
    fn a_cron_schedule_runs_at_the_minute_crontab_would() {
        // Friday 2026-01-02 00:00 UTC; `30 2 * * 1` (Mondays at 02:30) next runs on the 5th.
        use chrono::TimeZone;
        let six = crontab_to_six_fields("30 2 * * 1").unwrap().unwrap();
        let schedule = cron::Schedule::from_str(&six).unwrap();
        let after = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        let next = schedule.after(&after).next().unwrap();
        assert_eq!(
            next,
            chrono::Utc.with_ymd_and_hms(2026, 1, 5, 2, 30, 0).unwrap()
        );
    }
}
