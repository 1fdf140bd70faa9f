//! What `req` reads from a request, and the id a request is served under.

use std::collections::{BTreeMap, HashMap};

/// The longest `x-request-id` a client may supply.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A header's value, by case-insensitive name; repeated headers are joined with `, `.
pub fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let first = values.next()?;
    let mut joined = first.to_string();
    for value in values {
        joined.push_str(", ");
        joined.push_str(value);
    }
    Some(joined)
}

/// A `:param` or `*wildcard` of the resource, percent-decoded.
pub fn url_param(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned()
    })
}

/// The first value of a query parameter of `url`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// A top-level field of a JSON-object `body`: a string's value, any other value as compact
/// JSON; `None` when the body is not a JSON object or lacks the field (the last of two).
pub fn body_field(body: &[u8], name: &str) -> Option<String> {
    let mut fields: HashMap<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    match fields.remove(name)? {
        serde_json::Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

/// The state a step sees: all of it, or with `with:` only the keys it names, each renamed
/// from a key of the state (an alias whose source is absent is left out). Sorted by key.
pub fn state_view<'s, V>(
    state: &'s BTreeMap<String, V>,
    with: Option<&'s BTreeMap<String, String>>,
) -> Vec<(&'s str, &'s V)> {
    match with {
        None => state.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(with) => with
            .iter()
            .filter_map(|(alias, source)| state.get(source).map(|v| (alias.as_str(), v)))
            .collect(),
    }
}

/// The client's `x-request-id` when it is short and plain (letters, digits, `-_.:`), else
/// `None` (a new one is made).
pub fn supplied_request_id(value: Option<&[u8]>) -> Option<&str> {
    let id = std::str::from_utf8(value?).ok()?;
    let plain = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    plain.then_some(id)
}
