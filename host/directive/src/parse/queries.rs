//! `queries:` and the `sql` grant.
//!
//! ```yaml
//! queries:
//!   - name: select-user
//!     query: SELECT id, name FROM users WHERE id = $1
//! components:
//!   - name: get-user
//!     capabilities:
//!       sql: { queries: [select-user] }        # raw: false, write: true by default
//! ```
//!
//! Parameters are positional: `$1, $2…` on PostgreSQL and SQLite, `?` on MySQL. Their number
//! is counted when the Directive loads, so a call with the wrong number of values fails with
//! `invalid` before it reaches the database.
//!
//! Atmo's `type:` (`select`, `insert`, `update`, `delete`) and `varCount:` are accepted and
//! checked: the type against the statement's first keyword (after a `WITH …`, anywhere in the
//! statement), the count against the parameters counted.

use std::collections::HashMap;

use marked_yaml::Node;

use crate::error::{Location, did_you_mean};
use crate::keys;
use crate::model::{DatabaseKind, Query, SqlGrant};
use crate::yaml::{Reader, start};

/// `queries:`, each name declared once, with the parameters of each counted for `kind`.
pub(crate) fn parse_queries(
    reader: &mut Reader<'_>,
    node: &Node,
    kind: DatabaseKind,
) -> Vec<Query> {
    let Some(items) = reader.sequence(node, "`queries`") else {
        return Vec::new();
    };
    let mut queries: Vec<Query> = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    for item in items {
        let Some(fields) = reader.mapping(item, "a query", &keys::QUERY) else {
            continue;
        };
        let name = reader
            .required(fields, "name", "a query")
            .and_then(|n| reader.non_empty_string(n, "a query's `name`"));
        let sql = reader
            .required(fields, "query", "a query")
            .and_then(|n| reader.non_empty_string(n, "a query's `query`"));
        let (Some(name), Some(sql)) = (name, sql) else {
            continue;
        };
        let location = reader.location_or_start(start(item));
        if let Some(first) = seen.get(&name) {
            reader.error(
                start(item),
                format!("query `{name}` is declared twice (first at {first})"),
            );
            continue;
        }
        let params = match count_params(&sql, kind) {
            Ok(params) => params,
            Err(message) => {
                let at = fields.get("query").map_or(start(item), start);
                reader.error_with_hint(
                    at,
                    format!("query `{name}`: {message}"),
                    placeholder_hint(kind),
                );
                continue;
            }
        };
        if let Some(node) = fields.get("type")
            && !check_type(reader, node, &name, &sql)
        {
            continue;
        }
        if let Some(node) = fields.get("varCount") {
            let text = reader
                .string(node, "a query's `varCount`")
                .unwrap_or_default();
            match text.trim().parse::<usize>() {
                Ok(count) if count == params => {}
                Ok(count) => {
                    reader.error_with_hint(
                        start(node),
                        format!(
                            "query `{name}` declares `varCount: {count}`, but its statement takes {params} parameter{}",
                            if params == 1 { "" } else { "s" }
                        ),
                        format!("{}; fix the count or the statement", placeholder_hint(kind)),
                    );
                    continue;
                }
                Err(_) => {
                    reader.error(
                        start(node),
                        format!(
                            "query `{name}`: `varCount` must be a whole number, not `{}`",
                            text.trim()
                        ),
                    );
                    continue;
                }
            }
        }
        seen.insert(name.clone(), location.clone());
        queries.push(Query {
            name,
            sql,
            params,
            location,
        });
    }
    queries
}

/// `sql: { queries: [...], raw: false, write: true }`.
pub(crate) fn parse_sql_grant(
    reader: &mut Reader<'_>,
    node: &Node,
    what: &str,
    queries: &[Query],
) -> Option<SqlGrant> {
    let fields = reader.mapping(
        node,
        &format!("the `sql` grant of {what}"),
        &keys::SQL_GRANT,
    )?;
    let mut grant = SqlGrant {
        write: true,
        ..SqlGrant::default()
    };
    let mut ok = true;
    if let Some(list) = fields.get("queries") {
        for item in reader.sequence(list, "`queries` of an `sql` grant")? {
            let Some(name) = reader.non_empty_string(item, "a query name") else {
                ok = false;
                continue;
            };
            if !queries.iter().any(|q| q.name == name) {
                let message = format!(
                    "{what} is granted the query `{name}`, which is not declared under `queries:`"
                );
                match did_you_mean(&name, queries.iter().map(|q| q.name.as_str())) {
                    Some(close) => reader.error_with_hint(
                        item.span(),
                        message,
                        format!("did you mean `{close}`?"),
                    ),
                    None => reader.error_with_hint(
                        item.span(),
                        message,
                        "declare it: `queries: [{ name: …, query: … }]`",
                    ),
                }
                ok = false;
                continue;
            }
            grant.queries.push(name);
        }
    }
    if let Some(raw) = fields.get("raw") {
        grant.raw = reader.boolean(raw, "`raw`")?;
    }
    if let Some(write) = fields.get("write") {
        grant.write = reader.boolean(write, "`write`")?;
    }
    ok.then_some(grant)
}

/// Atmo's query types, each the keyword its statement starts with.
const QUERY_TYPES: &[&str] = &["select", "insert", "update", "delete"];

/// `type:` of query `name`: one of [`QUERY_TYPES`], matching the statement `sql`.
fn check_type(reader: &mut Reader<'_>, node: &Node, name: &str, sql: &str) -> bool {
    let Some(text) = reader.string(node, "a query's `type`") else {
        return false;
    };
    let declared = text.trim().to_ascii_lowercase();
    if !QUERY_TYPES.contains(&declared.as_str()) {
        let hint = match did_you_mean(&declared, QUERY_TYPES.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("use one of: {}", QUERY_TYPES.join(", ")),
        };
        reader.error_with_hint(
            start(node),
            format!("query `{name}`: `{}` is not a query type", text.trim()),
            hint,
        );
        return false;
    }
    let words = keywords(sql);
    let matches = match words.first().map(String::as_str) {
        Some("with") => words.contains(&declared),
        Some(first) => first == declared,
        None => false,
    };
    if !matches {
        let statement = words.first().map_or("empty".to_string(), |w| {
            format!("a `{}` statement", w.to_ascii_uppercase())
        });
        reader.error_with_hint(
            start(node),
            format!("query `{name}` is declared `type: {declared}`, but it is {statement}"),
            "fix the `type` (or leave it out: Karman reads the statement itself)",
        );
        return false;
    }
    true
}

/// The words of `sql` outside quotes and comments, in lower case.
fn keywords(sql: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c.to_ascii_lowercase());
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        match c {
            '\'' | '"' | '`' => {
                for inner in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for inner in chars.by_ref() {
                    if last == '*' && inner == '/' {
                        break;
                    }
                    last = inner;
                }
            }
            _ => {}
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// How parameters are written for `kind`.
fn placeholder_hint(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::MySql => "MySQL parameters are `?`, one per value",
        _ => "parameters are `$1, $2…` (SQLite also takes `?`)",
    }
}

/// Counts the parameters of `sql` in the placeholder style of `kind`, skipping quoted text and
/// comments.
fn count_params(sql: &str, kind: DatabaseKind) -> Result<usize, String> {
    let bytes = sql.as_bytes();
    let mut question_marks = 0usize;
    let mut highest_dollar = 0usize;
    let mut dollars = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' && kind == DatabaseKind::MySql {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'?' => question_marks += 1,
            b'$' => {
                let digits: String = sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<usize>() {
                    if n == 0 {
                        return Err("`$0` is not a parameter (they start at `$1`)".into());
                    }
                    highest_dollar = highest_dollar.max(n);
                    dollars.insert(n);
                    i += digits.len();
                }
            }
            _ => {}
        }
        i += 1;
    }
    match kind {
        DatabaseKind::MySql if highest_dollar > 0 => {
            Err("MySQL parameters are written `?`, not `$1`".into())
        }
        DatabaseKind::MySql => Ok(question_marks),
        _ if highest_dollar > 0 && question_marks > 0 => {
            Err("mixes `$n` and `?` parameters".into())
        }
        _ if highest_dollar > 0 => {
            if dollars.len() != highest_dollar {
                let missing = (1..=highest_dollar)
                    .find(|n| !dollars.contains(n))
                    .unwrap_or(1);
                return Err(format!(
                    "uses parameters up to `${highest_dollar}` but not `${missing}`"
                ));
            }
            Ok(highest_dollar)
        }
        DatabaseKind::Postgres if question_marks > 0 => {
            Err("PostgreSQL parameters are written `$1, $2…`, not `?`".into())
        }
        _ => Ok(question_marks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parameters_outside_quotes_and_comments() {
        let sql = "SELECT '$9', \"?\" FROM t WHERE a = $1 AND b = $2 -- and $3\n AND c = $2";
        assert_eq!(count_params(sql, DatabaseKind::Postgres), Ok(2));
        assert_eq!(
            count_params(
                "UPDATE t SET a = ? WHERE b = ? /* ? */",
                DatabaseKind::MySql
            ),
            Ok(2)
        );
        assert_eq!(
            count_params("SELECT 'it\\'s ?' , ?", DatabaseKind::MySql),
            Ok(1)
        );
        assert_eq!(count_params("SELECT ?", DatabaseKind::Sqlite), Ok(1));
        assert!(
            count_params("SELECT $1, $3", DatabaseKind::Postgres)
                .unwrap_err()
                .contains("not `$2`")
        );
        assert!(count_params("SELECT $1", DatabaseKind::MySql).is_err());
        assert!(count_params("SELECT ?", DatabaseKind::Postgres).is_err());
    }

    #[test]
    fn keywords_skip_quotes_and_comments() {
        assert_eq!(
            keywords("-- insert\n /* delete */ WITH x AS (SELECT 'update') UPDATE t SET a = $1"),
            ["with", "x", "as", "select", "update", "t", "set", "a", "1"]
        );
    }
}
