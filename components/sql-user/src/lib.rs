//! Uses SQL as its query parameters say, with one parameter per line of the body
//! (`null`, `bool:true`, `int:5`, `float:1.5`, `text:…`, `blob:<hex>`):
//!
//! - `?op=query&name=<query>` / `?op=execute&name=<query>`: a named query;
//! - `?op=query-raw&sql=<sql>` / `?op=execute-raw&sql=<sql>`: raw SQL;
//! - `?op=batch`: each body line is `<query>;<min rows or ->;<param>;<param>…`.
//!
//! Answers rows as JSON `{"columns": […], "rows": [[…]]}`, a count of affected rows, or the
//! error as a run error (denied → 403, invalid → 400, …).

use karman_sdk::bindings::karman::runnable::sql::{self, Rows, Statement, Value};
use karman_sdk::{RunErr, Runnable, req};

struct SqlUser;

fn parse_value(text: &str) -> Result<Value, RunErr> {
    let invalid = || RunErr::new(400, format!("bad parameter `{text}`"));
    if text == "null" {
        return Ok(Value::Null);
    }
    let (kind, value) = text.split_once(':').ok_or_else(invalid)?;
    Ok(match kind {
        "bool" => Value::Boolean(value == "true"),
        "int" => Value::Int(value.parse().map_err(|_| invalid())?),
        "float" => Value::Float(value.parse().map_err(|_| invalid())?),
        "text" => Value::Text(value.to_string()),
        "blob" => Value::Blob(
            (0..value.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&value[i..i + 2], 16).map_err(|_| invalid()))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(invalid()),
    })
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(t) => json_string(t),
        Value::Blob(b) => format!(
            "{{\"blob\":\"{}\"}}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

fn json_rows(rows: &Rows) -> String {
    let columns: Vec<String> = rows.columns.iter().map(|c| json_string(c)).collect();
    let rows: Vec<String> = rows
        .rows
        .iter()
        .map(|row| {
            format!(
                "[{}]",
                row.iter().map(json_value).collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    format!(
        "{{\"columns\":[{}],\"rows\":[{}]}}",
        columns.join(","),
        rows.join(",")
    )
}

impl Runnable for SqlUser {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let body =
            String::from_utf8(input).map_err(|_| RunErr::new(400, "the body is not UTF-8"))?;
        let params = || -> Result<Vec<Value>, RunErr> {
            body.lines()
                .filter(|l| !l.is_empty())
                .map(parse_value)
                .collect()
        };
        let name = || req::query_param("name").ok_or_else(|| RunErr::new(400, "missing ?name="));
        let raw = || req::query_param("sql").ok_or_else(|| RunErr::new(400, "missing ?sql="));
        let out = match req::query_param("op").as_deref() {
            Some("query") => json_rows(&sql::query(&name()?, &params()?)?),
            Some("execute") => sql::execute(&name()?, &params()?)?.to_string(),
            Some("query-raw") => json_rows(&sql::query_raw(&raw()?, &params()?)?),
            Some("execute-raw") => sql::execute_raw(&raw()?, &params()?)?.to_string(),
            Some("batch") => {
                let mut statements = Vec::new();
                for line in body.lines().filter(|l| !l.is_empty()) {
                    let mut parts = line.split(';');
                    let query = parts.next().unwrap_or_default().to_string();
                    let min_rows_affected = parts.next().and_then(|m| m.parse().ok());
                    let params = parts.map(parse_value).collect::<Result<_, _>>()?;
                    statements.push(Statement {
                        query,
                        params,
                        min_rows_affected,
                    });
                }
                match sql::batch(&statements) {
                    Ok(counts) => format!("{counts:?}"),
                    Err(error) => {
                        let reason: RunErr = error.error.into();
                        return Err(RunErr::new(
                            reason.code,
                            format!("statement {}: {}", error.index, reason.message),
                        ));
                    }
                }
            }
            _ => {
                return Err(RunErr::new(
                    400,
                    "?op= must be query, execute, query-raw, execute-raw or batch",
                ));
            }
        };
        Ok(out.into_bytes())
    }
}

karman_sdk::export!(SqlUser);
