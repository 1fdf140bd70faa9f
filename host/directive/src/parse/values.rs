//! Small value parsers shared by the section parsers: HTTP methods, timeouts, positive
//! numbers, rate limits (`rateLimit:`), and lists of uniquely named entries.

use std::collections::HashMap;
use std::time::Duration;

use marked_yaml::Node;

use crate::error::Location;
use crate::keys;
use crate::model::{MAX_TIMEOUT, RateLimit, RateLimits};
use crate::units::parse_duration;
use crate::yaml::{Reader, start};

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// `method:`: an HTTP method Karman routes, in upper case.
pub(crate) fn parse_method(reader: &mut Reader<'_>, node: &Node) -> Option<String> {
    let text = reader.non_empty_string(node, "`method`")?;
    let upper = text.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        Some(upper)
    } else {
        reader.error_with_hint(
            start(node),
            format!("`{text}` is not an HTTP method Karman routes"),
            format!("use one of: {}", METHODS.join(", ")),
        );
        None
    }
}

/// A `timeout` (`env(…)` allowed): above zero and at most [`MAX_TIMEOUT`].
pub(crate) fn parse_timeout(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Duration> {
    let text = reader.string_or_env(node, "`timeout`")?;
    match parse_duration(&text) {
        Ok(timeout) if timeout.is_zero() || timeout > MAX_TIMEOUT => {
            reader.error(
                node.span(),
                format!(
                    "`timeout` of {what} must be above zero and at most {}",
                    humantime::format_duration(MAX_TIMEOUT)
                ),
            );
            None
        }
        Ok(timeout) => Some(timeout),
        Err(message) => {
            reader.error(node.span(), message);
            None
        }
    }
}

/// A whole number from 1 to `max`.
pub(crate) fn positive(reader: &mut Reader<'_>, node: &Node, what: &str, max: u64) -> Option<u64> {
    let text = reader.string(node, what)?;
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            reader.error(
                start(node),
                format!("{what} must be a whole number from 1 to {max}, not `{text}`"),
            );
            None
        }
    }
}

/// `50/s`, `600/m`, `1000/h`.
pub(crate) fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    let (count, per) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a rate"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|&count| count > 0)
        .ok_or_else(|| format!("`{text}`: `{count}` is not a positive whole number"))?;
    let per = match per.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("`{text}`: `{other}` is not `s`, `m` or `h`")),
    };
    Ok(RateLimit { count, per })
}

/// `rateLimit:`: `50/s` (across all callers), or `{endpoint: 100/s, caller: 10/s}`.
pub(crate) fn parse_rate_limits(reader: &mut Reader<'_>, node: &Node) -> Option<RateLimits> {
    let one = |reader: &mut Reader<'_>, node: &Node, what: &str| {
        let text = reader.string(node, what)?;
        match parse_rate_limit(&text) {
            Ok(limit) => Some(limit),
            Err(message) => {
                reader.error_with_hint(
                    node.span(),
                    message,
                    "write `<count>/s`, `<count>/m` or `<count>/h`, e.g. `50/s`",
                );
                None
            }
        }
    };
    if !matches!(node, Node::Mapping(_)) {
        return one(reader, node, "`rateLimit`").map(|limit| RateLimits {
            endpoint: Some(limit),
            caller: None,
        });
    }
    let fields = reader.mapping(node, "`rateLimit`", &keys::RATE_LIMIT)?;
    let endpoint = match fields.get("endpoint") {
        None => Some(None),
        Some(node) => one(reader, node, "`rateLimit.endpoint`").map(Some),
    };
    let caller = match fields.get("caller") {
        None => Some(None),
        Some(node) => one(reader, node, "`rateLimit.caller`").map(Some),
    };
    let limits = RateLimits {
        endpoint: endpoint?,
        caller: caller?,
    };
    if limits.is_none() {
        reader.error_with_hint(
            start(node),
            "`rateLimit` sets no limit",
            "give `endpoint:`, `caller:` or both, e.g. `{endpoint: 100/s, caller: 10/s}`",
        );
        return None;
    }
    Some(limits)
}

/// Parses each item of a list whose entries are named, reporting a name used twice.
pub(crate) fn unique_by_name<T>(
    reader: &mut Reader<'_>,
    items: &[Node],
    mut parse: impl FnMut(&mut Reader<'_>, &Node) -> Option<T>,
    name_of: impl Fn(&T) -> (&'static str, &String, &Location),
) -> Vec<T> {
    let mut parsed: Vec<T> = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    for item in items {
        let Some(value) = parse(reader, item) else {
            continue;
        };
        let (kind, name, location) = name_of(&value);
        if let Some(first) = seen.get(name) {
            reader.error(
                start(item),
                format!("{kind} `{name}` is declared twice (first at {first})"),
            );
            continue;
        }
        seen.insert(name.clone(), location.clone());
        parsed.push(value);
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_a_count_per_second_minute_or_hour() {
        assert_eq!(
            parse_rate_limit("50/s"),
            Ok(RateLimit {
                count: 50,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!(
            parse_rate_limit(" 600 / m ").unwrap().per,
            Duration::from_secs(60)
        );
        assert!(parse_rate_limit("0/s").is_err());
        assert!(parse_rate_limit("5/d").is_err());
        assert!(parse_rate_limit("fast").is_err());
    }
}
