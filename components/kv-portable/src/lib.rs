//! A `wasi:http` proxy written against standard interfaces only (`wasi:keyvalue`,
//! `wasi:config`): it runs unchanged on Karman and on `wasmtime serve -S keyvalue -S config`.
//! Paths may carry a prefix (a custom route's `/ext/<plugin>`): what follows it counts.
//!
//! | request | answer |
//! |---------|--------|
//! | `GET …/config` | `get-all`, a `name=value` line each, in order |
//! | `GET …/config/get?key=` | the value, 404 `unset` when none |
//! | `GET …/kv/open?name=` | opens that bucket: 200 `opened` or the error |
//! | `GET …/kv/set?key=&value=` | 200 `stored` |
//! | `GET …/kv/get?key=` | the value, 404 `absent` |
//! | `GET …/kv/delete?key=` | 200 `deleted` |
//! | `GET …/kv/exists?key=` | `true` or `false` |
//! | `GET …/kv/incr?key=&by=` | the sum |
//! | `GET …/kv/keys` | every key (all pages), sorted, a line each |
//! | `GET …/kv/get-many?keys=a,b` | `key=value` or `key absent`, a line each |
//! | `GET …/kv/set-many?pairs=a:1,b:2` | 200 `stored` |
//! | `GET …/kv/delete-many?keys=a,b` | 200 `deleted` |
//! | `GET …/kv/roundtrip?key=&value=` | sets, reads back, increments `<key>-n` by 2 and deletes, all in one request (what any host answers alike): the lines seen |
//!
//! Keyvalue calls use the bucket `""`. A store error answers 403 `access-denied`, 404
//! `no-such-store` or 500 `other: <message>`.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod keyvalue {
    wit_bindgen::generate!({ path: "../../wit", world: "wasi:keyvalue/imports" });
}
mod config {
    wit_bindgen::generate!({ path: "../../wit", world: "wasi:config/imports" });
}

use config::wasi::config::store as config_store;
use keyvalue::wasi::keyvalue::{atomics, batch, store};

struct Portable;

fn query(path_with_query: &str, name: &str) -> Option<String> {
    let (_, query) = path_with_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let response = OutgoingResponse::new(Fields::new());
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let stream = outgoing.write().expect("the body stream is taken once");
        for piece in body.as_bytes().chunks(4096) {
            stream
                .blocking_write_and_flush(piece)
                .expect("the client reads");
        }
    }
    OutgoingBody::finish(outgoing, None).expect("the body finishes");
}

/// A store error as a status and a body.
fn failure(error: store::Error) -> (u16, String) {
    match error {
        store::Error::AccessDenied => (403, "access-denied".into()),
        store::Error::NoSuchStore => (404, "no-such-store".into()),
        store::Error::Other(message) => (500, format!("other: {message}")),
    }
}

fn list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// What `…/kv/<op>` answers.
fn keyvalue(op: &str, path: &str) -> Result<(u16, String), store::Error> {
    let key = query(path, "key").unwrap_or_default();
    if op == "open" {
        store::open(&query(path, "name").unwrap_or_default())?;
        return Ok((200, "opened".into()));
    }
    let bucket = store::open("")?;
    Ok(match op {
        "set" => {
            let value = query(path, "value").unwrap_or_default();
            bucket.set(&key, value.as_bytes())?;
            (200, "stored".into())
        }
        "get" => match bucket.get(&key)? {
            Some(value) => (200, String::from_utf8_lossy(&value).into_owned()),
            None => (404, "absent".into()),
        },
        "delete" => {
            bucket.delete(&key)?;
            (200, "deleted".into())
        }
        "exists" => (200, bucket.exists(&key)?.to_string()),
        "incr" => {
            let by = query(path, "by").and_then(|n| n.parse().ok()).unwrap_or(1);
            (200, atomics::increment(&bucket, &key, by)?.to_string())
        }
        "keys" => {
            let mut keys = Vec::new();
            let mut cursor = None;
            loop {
                let page = bucket.list_keys(cursor)?;
                keys.extend(page.keys);
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            keys.sort();
            (200, keys.join("\n"))
        }
        "get-many" => {
            let keys = list(query(path, "keys"));
            let found = batch::get_many(&bucket, &keys)?;
            let lines: Vec<String> = keys
                .iter()
                .zip(found)
                .map(|(key, pair)| match pair {
                    Some((_, value)) => format!("{key}={}", String::from_utf8_lossy(&value)),
                    None => format!("{key} absent"),
                })
                .collect();
            (200, lines.join("\n"))
        }
        "set-many" => {
            let pairs: Vec<(String, Vec<u8>)> = list(query(path, "pairs"))
                .into_iter()
                .map(|pair| {
                    let (key, value) = pair.split_once(':').unwrap_or((&pair, ""));
                    (key.to_string(), value.as_bytes().to_vec())
                })
                .collect();
            batch::set_many(&bucket, &pairs)?;
            (200, "stored".into())
        }
        "delete-many" => {
            batch::delete_many(&bucket, &list(query(path, "keys")))?;
            (200, "deleted".into())
        }
        "roundtrip" => {
            let value = query(path, "value").unwrap_or_default();
            let counter = format!("{key}-n");
            bucket.set(&key, value.as_bytes())?;
            let read = bucket.get(&key)?.unwrap_or_default();
            let sum = atomics::increment(&bucket, &counter, 2)?;
            let exists = bucket.exists(&key)?;
            batch::delete_many(&bucket, &[key.clone(), counter])?;
            let after = bucket.exists(&key)?;
            let lines = [
                format!("read {}", String::from_utf8_lossy(&read)),
                format!("incremented to {sum}"),
                format!("exists {exists}"),
                format!("after delete {after}"),
            ];
            (200, lines.join("\n"))
        }
        _ => (404, format!("no keyvalue operation `{op}`")),
    })
}

impl wasip2::exports::http::incoming_handler::Guest for Portable {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let route = path.split('?').next().unwrap_or_default();
        let (status, body) = if let Some((_, op)) = route.rsplit_once("/kv/") {
            keyvalue(op, &path).unwrap_or_else(failure)
        } else if route.ends_with("/config/get") {
            match config_store::get(&query(&path, "key").unwrap_or_default()) {
                Ok(Some(value)) => (200, value),
                Ok(None) => (404, "unset".into()),
                Err(error) => (500, format!("{error:?}")),
            }
        } else if route.ends_with("/config") {
            match config_store::get_all() {
                Ok(pairs) => (
                    200,
                    pairs
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                Err(error) => (500, format!("{error:?}")),
            }
        } else {
            (404, format!("not found: {route}"))
        };
        respond(out, status, &body);
    }
}

wasip2::http::proxy::export!(Portable);
