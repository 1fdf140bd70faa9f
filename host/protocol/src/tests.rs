use std::collections::BTreeMap;

use super::*;

#[test]
fn body_fields_are_strings_unquoted_and_other_values_as_written() {
    let body = br#"{"name": "Ada \"L\"", "n": 42, "x": 1.50, "ok": true, "none": null,
        "obj": {"a": [1, 2]}, "dup": 1, "dup": "two"}"#;
    assert_eq!(body_field(body, "name").as_deref(), Some("Ada \"L\""));
    assert_eq!(body_field(body, "n").as_deref(), Some("42"));
    assert_eq!(body_field(body, "x").as_deref(), Some("1.5"));
    assert_eq!(body_field(body, "ok").as_deref(), Some("true"));
    assert_eq!(body_field(body, "none").as_deref(), Some("null"));
    assert_eq!(body_field(body, "obj").as_deref(), Some(r#"{"a":[1,2]}"#));
    assert_eq!(body_field(body, "dup").as_deref(), Some("two"));
    assert_eq!(body_field(body, "absent"), None);
    assert_eq!(body_field(b"[1, 2]", "0"), None);
    assert_eq!(body_field(b"not json", "a"), None);
    assert_eq!(body_field(b"", "a"), None);
}

#[test]
fn parameters_are_decoded_and_repeated_headers_joined() {
    let params = vec![("name".to_string(), "J%C3%BCrgen".to_string())];
    assert_eq!(url_param(&params, "name").as_deref(), Some("Jürgen"));
    assert_eq!(url_param(&params, "other"), None);
    let url = "/hello?greeting=good+day&x=1&greeting=again";
    assert_eq!(query_param(url, "greeting").as_deref(), Some("good day"));
    assert_eq!(query_param(url, "y"), None);
    assert_eq!(query_param("/no-query", "x"), None);
    let headers = vec![
        ("accept".to_string(), "a".to_string()),
        ("x-other".to_string(), "c".to_string()),
        ("Accept".to_string(), "b".to_string()),
    ];
    assert_eq!(header(&headers, "accept").as_deref(), Some("a, b"));
    assert_eq!(header(&headers, "missing"), None);
}

#[test]
fn a_step_with_with_sees_only_the_keys_it_renames() {
    let state: BTreeMap<String, &str> = [("a", "1"), ("b", "2")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(state_view(&state, None), [("a", &"1"), ("b", &"2")]);
    let with: BTreeMap<String, String> = [("z", "a"), ("gone", "missing"), ("y", "b")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(state_view(&state, Some(&with)), [("y", &"2"), ("z", &"1")]);
}

#[test]
fn response_headers_and_statuses_are_checked() {
    let (name, value) = response_header("X-Served-By", "me").unwrap();
    assert_eq!(
        (name.as_str(), value.as_bytes()),
        ("x-served-by", &b"me"[..])
    );
    assert_eq!(
        response_header("x-request-id", "mine"),
        Err(Refusal::Denied(
            "resp: the `x-request-id` header is set by the host".into()
        ))
    );
    assert_eq!(
        response_header("bad name", "v"),
        Err(Refusal::Invalid(
            "`bad name` is not a valid header name".into()
        ))
    );
    assert_eq!(
        response_header("x-a", "line\nbreak"),
        Err(Refusal::Invalid(
            "the value of `x-a` is not a valid header value".into()
        ))
    );
    assert_eq!(response_status(201), Ok(201));
    assert_eq!(
        response_status(600),
        Err(Refusal::Invalid(
            "600 is not an HTTP status (100..=599)".into()
        ))
    );
}

#[test]
fn response_headers_are_capped_in_count_and_bytes() {
    let many: Vec<(String, Vec<u8>)> = (0..MAX_RESPONSE_HEADERS)
        .map(|i| (format!("x-{i}"), b"v".to_vec()))
        .collect();
    fn view(headers: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
        headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }
    assert!(fits_response_headers(view(&many[..99]).into_iter(), "x-last", b"v").is_ok());
    let refused = fits_response_headers(view(&many).into_iter(), "x-last", b"v").unwrap_err();
    assert!(
        refused.contains("at most 100 headers; `x-last`"),
        "{refused}"
    );
    let big = vec![0u8; MAX_RESPONSE_HEADER_BYTES];
    let refused = fits_response_headers(std::iter::empty(), "x-big", &big).unwrap_err();
    assert!(
        refused.contains("at most 64 KiB; `x-big` would take them to 65541 bytes"),
        "{refused}"
    );
}

#[test]
fn a_supplied_request_id_is_kept_only_when_plain_and_short() {
    assert_eq!(
        supplied_request_id(Some(b"abc-1.2:3_x")),
        Some("abc-1.2:3_x")
    );
    assert_eq!(supplied_request_id(Some(b"")), None);
    assert_eq!(supplied_request_id(Some(b"has space")), None);
    assert_eq!(supplied_request_id(Some(&[b'a'; 129])), None);
    assert_eq!(
        supplied_request_id(Some(&[b'a'; 128])).map(str::len),
        Some(128)
    );
    assert_eq!(supplied_request_id(None), None);
}

#[test]
fn error_bodies_and_default_content_types() {
    assert_eq!(
        error_body(500, "boom \"x\"", "id"),
        r#"{"code":500,"message":"boom \"x\"","requestId":"id"}"#
    );
    assert_eq!(default_content_type(b"hello"), "text/plain; charset=utf-8");
    assert_eq!(
        default_content_type(&[0xff, 0xfe]),
        "application/octet-stream"
    );
}

#[test]
fn only_answers_with_a_body_declare_its_length() {
    assert!(declares_length(200, false, 5));
    assert!(
        declares_length(200, false, 0),
        "an empty GET answer says so"
    );
    assert!(declares_length(200, true, 5), "HEAD tells the GET's length");
    assert!(!declares_length(200, true, 0));
    for bodiless in [101, 204, 304] {
        assert!(!declares_length(bodiless, false, 0), "{bodiless}");
    }
    assert!(declares_length(404, false, 60));
}
