//! The billing plugin: a custom route (`routes:` in a Directive) that owns a synchronous,
//! transactional debit. It exports `wasi:http/incoming-handler` and imports `sql` and
//! `principal` (the `karman:runnable/route` world).
//!
//! | request | does |
//! |---------|------|
//! | `POST /debit` `{"account", "amount", "key"}` | in one transaction: answer the earlier result for a known `key` (idempotent), record the debit (the key is the ledger's primary key), lower the balance only where it covers the amount (402 otherwise, rolled back); `?sleep=<ms>` sleeps with the transaction open |
//! | `POST /credit` `{"account", "amount", "key"}` | one atomic `batch`: record the credit, raise the balance (which must touch a row: 404 otherwise) |
//! | `GET /balance/<account>` | `{"account", "balance"}` |
//! | `GET /whoami` | the principal from the `principal` interface and the `karman-principal-*` headers |
//! | `POST /setup` | creates the tables when absent (`create-accounts`, `create-ledger`) |
//! | `POST /accounts` `{"account", "balance"}` | opens an account (409 when it exists) |
//!
//! Answers are JSON; errors are `{"error": …}` with a fitting status.

wit_bindgen::generate!({
    path: "../../../../wit",
    world: "karman:runnable/route",
    generate_all,
});

use karman::runnable::principal;
use karman::runnable::sql::{self, Statement, Value};
use karman::runnable::types::CapError;
use serde_json::{Value as Json, json};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Billing;

/// An answer: status and JSON body.
struct Answer(u16, Json);

impl From<CapError> for Answer {
    fn from(error: CapError) -> Self {
        let (status, message) = match error {
            CapError::Denied(m) => (403, m),
            CapError::NotFound(m) => (404, m),
            CapError::Invalid(m) => (400, m),
            CapError::Unavailable(m) => (503, m),
            CapError::Other(m) => (500, m),
        };
        Answer(status, json!({ "error": message }))
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Text(t) => t.parse().ok(),
        Value::Float(f) => Some(*f as i64),
        _ => None,
    }
}

fn first_int(rows: &sql::Rows) -> Option<i64> {
    rows.rows.first().and_then(|row| row.first()).and_then(int)
}

/// `account`, `amount` and `key` of a JSON body.
fn order(body: &[u8]) -> Result<(i64, i64, String), Answer> {
    let bad = |why: &str| Answer(400, json!({ "error": why }));
    let order: Json = serde_json::from_slice(body).map_err(|_| bad("the body must be JSON"))?;
    let account = order["account"]
        .as_i64()
        .ok_or_else(|| bad("`account` must be a number"))?;
    let amount = order["amount"]
        .as_i64()
        .filter(|&a| a > 0)
        .ok_or_else(|| bad("`amount` must be a positive number"))?;
    let key = order["key"]
        .as_str()
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .ok_or_else(|| bad("`key` must be a string of 1 to 64 characters"))?;
    Ok((account, amount, key.to_string()))
}

fn debit(body: &[u8], sleep_ms: Option<u64>) -> Result<Answer, Answer> {
    let (account, amount, key) = order(body)?;
    let duplicate = |earlier: i64| {
        Answer(
            200,
            json!({ "account": account, "debited": earlier, "duplicate": true }),
        )
    };
    let tx = sql::begin()?;
    if let Some(earlier) = first_int(&tx.query("find-debit", &[Value::Text(key.clone())])?) {
        tx.rollback()?;
        return Ok(duplicate(earlier));
    }
    let recorded = tx.execute(
        "insert-debit",
        &[
            Value::Text(key.clone()),
            Value::Int(account),
            Value::Int(amount),
        ],
    );
    if let Err(error) = recorded {
        drop(tx);
        // A concurrent debit under the same key committed first: answer as a replay does.
        return match first_int(&sql::query("find-debit", &[Value::Text(key)])?) {
            Some(earlier) => Ok(duplicate(earlier)),
            None => Err(error.into()),
        };
    }
    if let Some(ms) = sleep_ms {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    // Lowers the balance only if it covers the amount: the database decides, row by row.
    let covered = tx.execute(
        "debit-balance",
        &[Value::Int(amount), Value::Int(account), Value::Int(amount)],
    )?;
    if covered == 0 {
        tx.rollback()?;
        return Err(
            match first_int(&sql::query("read-balance", &[Value::Int(account)])?) {
                Some(balance) => Answer(
                    402,
                    json!({ "error": "insufficient funds", "balance": balance }),
                ),
                None => Answer(404, json!({ "error": "no such account" })),
            },
        );
    }
    let balance = first_int(&tx.query("read-balance", &[Value::Int(account)])?);
    tx.commit()?;
    Ok(Answer(
        200,
        json!({ "account": account, "debited": amount, "balance": balance, "by": principal::subject() }),
    ))
}

fn credit(body: &[u8]) -> Result<Answer, Answer> {
    let (account, amount, key) = order(body)?;
    let statements = [
        Statement {
            query: "insert-credit".into(),
            params: vec![Value::Text(key), Value::Int(account), Value::Int(amount)],
            min_rows_affected: Some(1),
        },
        Statement {
            query: "raise-balance".into(),
            params: vec![Value::Int(amount), Value::Int(account)],
            min_rows_affected: Some(1),
        },
    ];
    match sql::batch(&statements) {
        Ok(_) => Ok(Answer(
            200,
            json!({ "account": account, "credited": amount }),
        )),
        Err(failed) if failed.index == 1 => Err(Answer(
            404,
            json!({ "error": "no such account", "statement": failed.index }),
        )),
        Err(failed) => {
            let Answer(status, mut body) = Answer::from(failed.error);
            body["statement"] = json!(failed.index);
            Err(Answer(status, body))
        }
    }
}

fn setup() -> Result<Answer, Answer> {
    sql::execute("create-accounts", &[])?;
    sql::execute("create-ledger", &[])?;
    Ok(Answer(200, json!({ "ready": true })))
}

fn open_account(body: &[u8]) -> Result<Answer, Answer> {
    let bad = |why: &str| Answer(400, json!({ "error": why }));
    let order: Json = serde_json::from_slice(body).map_err(|_| bad("the body must be JSON"))?;
    let account = order["account"]
        .as_i64()
        .ok_or_else(|| bad("`account` must be a number"))?;
    let balance = order["balance"]
        .as_i64()
        .filter(|&b| b >= 0)
        .ok_or_else(|| bad("`balance` must be a number, at least 0"))?;
    let tx = sql::begin()?;
    if first_int(&tx.query("read-balance", &[Value::Int(account)])?).is_some() {
        tx.rollback()?;
        return Err(Answer(409, json!({ "error": "the account exists" })));
    }
    tx.execute("open-account", &[Value::Int(account), Value::Int(balance)])?;
    tx.commit()?;
    Ok(Answer(
        201,
        json!({ "account": account, "balance": balance }),
    ))
}

fn balance(account: &str) -> Result<Answer, Answer> {
    let account: i64 = account
        .parse()
        .map_err(|_| Answer(400, json!({ "error": "the account must be a number" })))?;
    let balance = first_int(&sql::query("read-balance", &[Value::Int(account)])?)
        .ok_or_else(|| Answer(404, json!({ "error": "no such account" })))?;
    Ok(Answer(
        200,
        json!({ "account": account, "balance": balance }),
    ))
}

fn whoami(request: &IncomingRequest) -> Answer {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .first()
            .map(|value| String::from_utf8_lossy(value).into_owned())
    };
    let claim = principal::claim("sub").map(|sub| serde_json::from_str::<Json>(&sub).ok());
    Answer(
        200,
        json!({
            "subject": principal::subject(),
            "roles": principal::roles(),
            "claimSub": claim,
            "headers": {
                "subject": header("karman-principal-subject"),
                "roles": header("karman-principal-roles"),
                "authorization": header("authorization"),
            },
        }),
    )
}

fn read_body(request: IncomingRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    let Ok(body) = request.consume() else {
        return bytes;
    };
    if let Ok(stream) = body.stream() {
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}

fn send(out: ResponseOutparam, Answer(status, body): Answer) {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"application/json");
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let outgoing = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let stream = outgoing.write().expect("the stream is taken once");
        let bytes = body.to_string().into_bytes();
        for piece in bytes.chunks(4096) {
            if stream.blocking_write_and_flush(piece).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

impl exports::wasi::http::incoming_handler::Guest for Billing {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, query) = path.split_once('?').unwrap_or((&path, ""));
        let route = route.to_string();
        let sleep_ms = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("sleep="))
            .and_then(|ms| ms.parse().ok());
        let is_post = matches!(request.method(), Method::Post);
        let answer = match (is_post, route.as_str()) {
            (true, "/debit") => debit(&read_body(request), sleep_ms),
            (true, "/credit") => credit(&read_body(request)),
            (true, "/setup") => setup(),
            (true, "/accounts") => open_account(&read_body(request)),
            (false, "/whoami") => Ok(whoami(&request)),
            (false, account) if account.starts_with("/balance/") => {
                balance(&account["/balance/".len()..])
            }
            _ => Err(Answer(404, json!({ "error": format!("no route {route}") }))),
        };
        send(out, answer.unwrap_or_else(|error| error));
    }
}

export!(Billing);
