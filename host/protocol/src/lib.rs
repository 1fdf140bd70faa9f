//! The rules of Karman's request protocol that do not depend on where they run: what the
//! `req` capability reads from a request ([`header`], [`url_param`], [`query_param`],
//! [`body_field`], the state a step sees through `with:`: [`state_view`]), what `resp` accepts
//! ([`response_header`], [`response_status`], the caps of [`fits_response_headers`]), the key
//! space and values of `cache` ([`cache`]), which request id a request is served under
//! ([`supplied_request_id`]), the bodies Karman answers with ([`error_body`],
//! [`default_content_type`], [`declares_length`], the messages of its routing and body errors), how a run's outcome
//! is told ([`run_error_status`], [`failure_retry_after`], [`continued_error`],
//! [`output_exceeded`], [`state_exceeded`]), the waits of `retry:` ([`retry_wait`]), the
//! outbound policy of `http` ([`outbound`]), and a guest's text made safe for a line-based
//! protocol ([`text`]).
//!
//! The host serves the capabilities with them, and an app exported as one `wasi:http`
//! component (`karman export`) serves them inside the component with the same functions, so the
//! two answer alike.
//!
//! ```
//! let headers = vec![("accept".to_string(), "a".to_string()), ("Accept".to_string(), "b".to_string())];
//! assert_eq!(karman_protocol::header(&headers, "ACCEPT").as_deref(), Some("a, b"));
//! assert_eq!(karman_protocol::query_param("/x?greeting=good+day", "greeting").as_deref(), Some("good day"));
//! assert_eq!(karman_protocol::error_body(404, "no handler for this path", "r1"),
//!            r#"{"code":404,"message":"no handler for this path","requestId":"r1"}"#);
//! ```

pub mod cache;
pub mod outbound;
mod request;
mod response;
mod run;
pub mod text;

pub use request::{
    MAX_REQUEST_ID_LEN, body_field, header, query_param, state_view, supplied_request_id, url_param,
};
pub use response::{
    BODY_UNREADABLE, HOST_HEADERS, MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS, NO_HANDLER,
    Refusal, body_too_large, declares_length, default_content_type, error_body,
    fits_response_headers, method_not_allowed, response_header, response_status,
};
pub use run::{
    MAX_RETRY_WAIT, continued_error, failure_retry_after, output_exceeded, retry_wait,
    run_error_status, state_exceeded,
};
pub use text::escape_controls;

#[cfg(test)]
mod tests;
