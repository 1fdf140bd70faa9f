//! Returns, as JSON, what it sees: the request (method, url, id, body, the `x-test` header,
//! the `:name` param, the `q` query parameter, the header count) and the state, as its step
//! sees it.

use karman_sdk::{RunErr, Runnable, req};

struct Inspect;

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn optional(value: Option<String>) -> String {
    value.map_or_else(|| "null".to_string(), |v| json_string(&v))
}

impl Runnable for Inspect {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let state: Vec<String> = req::state_keys()
            .iter()
            .map(|key| format!("{}:{}", json_string(key), optional(req::state_text(key))))
            .collect();
        let json = format!(
            "{{\"method\":{},\"url\":{},\"id\":{},\"input\":{},\"body\":{},\"header\":{},\"param\":{},\"query\":{},\"headerCount\":{},\"state\":{{{}}}}}",
            json_string(&req::method()),
            json_string(&req::url()),
            json_string(&req::id()),
            json_string(&String::from_utf8_lossy(&input)),
            json_string(&req::body_text()),
            optional(req::header("x-test")),
            optional(req::url_param("name")),
            optional(req::query_param("q")),
            req::headers().len(),
            state.join(","),
        );
        Ok(json.into_bytes())
    }
}

karman_sdk::export!(Inspect);
