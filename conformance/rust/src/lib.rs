//! The conformance Runnable in Rust: every case of `conformance/README.md`, selected by
//! `?case=`. The JavaScript and Python twins must answer byte for byte the same.

use karman_sdk::sql::Value;
use karman_sdk::{RunErr, Runnable, cache, file, graphql, http, log, req, resp, sql};

struct Conformance;

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}

fn int(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Int(n)) => *n,
        _ => -1,
    }
}

fn sql_case() -> Result<String, RunErr> {
    let key = or_dash(req::query_param("key"));
    let rolled_back = format!("{key}-rolled-back");

    let tx = sql::begin()?;
    tx.execute("insert-item", &[Value::Text(key.clone()), Value::Int(7)])?;
    tx.commit()?;
    let tx = sql::begin()?;
    tx.execute(
        "insert-item",
        &[Value::Text(rolled_back.clone()), Value::Int(1)],
    )?;
    tx.rollback()?;

    let count = |id: &str| -> Result<i64, RunErr> {
        let rows = sql::query("count-items", &[Value::Text(id.to_string())])?;
        Ok(int(rows.rows.first().and_then(|row| row.first())))
    };
    let committed = count(&key)?;
    let discarded = count(&rolled_back)?;
    let rows = sql::query("select-item", &[Value::Text(key)])?;
    let n = int(rows.rows.first().and_then(|row| row.first()));
    Ok(format!(
        "committed={committed};rolled-back={discarded};n={n}"
    ))
}

impl Runnable for Conformance {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let case = or_dash(req::query_param("case"));
        let text = match case.as_str() {
            "echo" => return Ok(input),
            "params" => format!(
                "id={};q={};method={};url={}",
                or_dash(req::url_param("id")),
                or_dash(req::query_param("q")),
                req::method(),
                req::url()
            ),
            "headers" => {
                let value = or_dash(req::header("x-test"));
                resp::set_status(201)?;
                resp::set_header("x-conformance", &value)?;
                format!("x-test={value}")
            }
            "state" => match req::state_text("first") {
                None => "one".to_string(),
                Some(first) => format!("first={first}"),
            },
            "cache" | "cache-denied" => {
                cache::set("k", b"v", Some(60_000))?;
                let got = cache::get("k")?.map(|v| String::from_utf8_lossy(&v).into_owned());
                cache::delete("k")?;
                let gone = cache::get("k")?;
                format!(
                    "set;get={};delete;get={}",
                    or_dash(got),
                    if gone.is_none() { "none" } else { "some" }
                )
            }
            "cache-ttl-set" => {
                cache::set("t", b"v", Some(100))?;
                "set".to_string()
            }
            "cache-ttl-get" => match cache::get("t")? {
                Some(value) => format!("get={}", String::from_utf8_lossy(&value)),
                None => "get=none".to_string(),
            },
            "sql" | "sql-denied" => sql_case()?,
            "http" => {
                let response = http::get(&or_dash(req::query_param("url")))?;
                format!("status={};body={}", response.status, response.text())
            }
            "graphql" => {
                let endpoint = or_dash(req::query_param("endpoint"));
                let data = graphql::query(&endpoint, &String::from_utf8_lossy(&input), "{}")?;
                format!("data={data}")
            }
            "log" => {
                log::info(&format!("conformance {}", String::from_utf8_lossy(&input)));
                "logged".to_string()
            }
            "file" => {
                let contents = file::get_static(&or_dash(req::query_param("name")))?;
                format!("file={}", String::from_utf8_lossy(&contents))
            }
            "body-field" => format!(
                "value={}",
                or_dash(req::body_field(&or_dash(req::query_param("field"))))
            ),
            "error" => return Err(RunErr::new(418, "teapot")),
            other => return Err(RunErr::new(400, format!("unknown case `{other}`"))),
        };
        Ok(text.into_bytes())
    }
}

karman_sdk::export!(Conformance);
