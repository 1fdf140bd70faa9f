//! What a sequence runs on (a [`Request`]) and what it produces (a [`Reply`] or a [`Failure`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

/// The request or message that starts a run. The server builds it; steps read it via `req`.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, … (or `STREAM`, `SCHED`).
    pub method: String,
    /// Path and query, e.g. `/users/42?full=true`.
    pub url: String,
    /// The request id (also sent back in `x-request-id`).
    pub id: String,
    /// Headers with lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body: every step's input.
    pub body: Bytes,
    /// Values of the resource's `:params` and `*wildcard`, as they appear in the path
    /// (percent-encoded); `req.url-param` decodes them.
    pub params: Vec<(String, String)>,
    /// When the answer is due (an HTTP request's `--total-request-timeout`): a step's `retry:`
    /// never waits past it. Without it, a run may take as long as its steps' timeouts, tries
    /// and waits add up to.
    pub deadline: Option<std::time::Instant>,
}

impl Request {
    /// A message of a stream (`req.method()` is `STREAM`): its subject, topic or WebSocket path
    /// as the url, a new request id.
    pub fn message(
        subject: impl Into<String>,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Self {
        Self {
            method: "STREAM".into(),
            url: subject.into(),
            id: new_id(),
            headers,
            body,
            params: Vec::new(),
            deadline: None,
        }
    }

    /// A run of a schedule (`req.method()` is `SCHED`): the schedule's name as the url, a new
    /// request id, no headers and an empty body.
    pub fn scheduled(name: impl Into<String>) -> Self {
        Self {
            method: "SCHED".into(),
            url: name.into(),
            id: new_id(),
            ..Self::default()
        }
    }

    /// An HTTP request, from its head and whole body: `id` is the request id the server chose,
    /// `params` the values of the resource's parameters.
    pub fn http(
        head: &http::request::Parts,
        body: Bytes,
        id: String,
        params: Vec<(String, String)>,
    ) -> Self {
        Self {
            method: head.method.as_str().to_string(),
            url: head.uri.path_and_query().map_or_else(
                || head.uri.path().to_string(),
                |path_and_query| path_and_query.as_str().to_string(),
            ),
            id,
            headers: header_list(&head.headers),
            body,
            params,
            deadline: None,
        }
    }

    /// A header's value; repeated headers are joined with `, `.
    pub fn header(&self, name: &str) -> Option<String> {
        karman_protocol::header(&self.headers, name)
    }

    /// A `:param` or `*wildcard` of the resource, percent-decoded.
    pub fn url_param(&self, name: &str) -> Option<String> {
        karman_protocol::url_param(&self.params, name)
    }

    /// The first value of a query parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        karman_protocol::query_param(&self.url, name)
    }
}

/// A new request id: 32 hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// HTTP headers as the steps see them: lower-case names (as `http` keeps them), values as text
/// (bytes that are not UTF-8 replaced), in arrival order.
pub fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The successful result of a run: status, headers set through `resp`, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// 200 unless a step set another status.
    pub status: u16,
    /// Headers set by the steps.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The value of the handler's `response` key.
    pub body: Bytes,
}

/// Why a run did not produce a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status to answer with.
    pub status: u16,
    /// The code for the error body: the guest's run-error code, else the status.
    pub code: u16,
    /// A message safe to show the client (no host internals).
    pub message: String,
    /// What kind of failure it was.
    pub kind: FailureKind,
}

/// The kinds of [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A step's `run` returned an error that its `onErr` did not continue.
    RunError,
    /// A step trapped (panic, unreachable, out-of-bounds access, …).
    Trap,
    /// A step exceeded its memory limit.
    MemoryLimit,
    /// A step exceeded its timeout.
    Timeout,
    /// A step went past a cap of the host: response headers, its output, or the run's state.
    Limit,
    /// No instance could be created: the pool is exhausted.
    Overloaded,
    /// Karman itself failed (a bug, or a resource of the host).
    Internal,
    /// The request cannot be given to a `wasi:http` component (e.g. it names no host).
    BadRequest,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

/// The state shared by the steps of a run: state key → the bytes stored under it.
pub(crate) type State = BTreeMap<String, Bytes>;

/// The state as one step sees it: whole, or through its `with:` renaming.
#[derive(Clone)]
pub(crate) struct StateView {
    pub(crate) state: Arc<State>,
    pub(crate) with: Option<Arc<BTreeMap<String, String>>>,
}

impl StateView {
    pub(crate) fn get(&self, key: &str) -> Option<&Bytes> {
        match &self.with {
            None => self.state.get(key),
            Some(with) => with.get(key).and_then(|source| self.state.get(source)),
        }
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        karman_protocol::state_view(&self.state, self.with.as_deref())
            .into_iter()
            .map(|(key, _)| key.to_string())
            .collect()
    }
}

/// Status and headers of the response, written by the steps through `resp`.
#[derive(Debug, Default)]
pub(crate) struct ResponseParts {
    pub(crate) status: Option<u16>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

pub(crate) type SharedResponse = Arc<Mutex<ResponseParts>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_params_and_joins_repeated_headers() {
        let request = Request {
            url: "/hello/J%C3%BCrgen?greeting=good+day&x=1&greeting=again".into(),
            headers: vec![("accept".into(), "a".into()), ("Accept".into(), "b".into())],
            params: vec![("name".into(), "J%C3%BCrgen".into())],
            ..Request::default()
        };
        assert_eq!(request.url_param("name").as_deref(), Some("Jürgen"));
        assert_eq!(request.query_param("greeting").as_deref(), Some("good day"));
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(request.header("ACCEPT").as_deref(), Some("a, b"));
    }

    #[test]
    fn messages_and_scheduled_runs_get_their_method_and_a_fresh_id() {
        let message = Request::message("orders.created", vec![], Bytes::from_static(b"{}"));
        assert_eq!(
            (message.method.as_str(), message.url.as_str()),
            ("STREAM", "orders.created")
        );
        let run = Request::scheduled("nightly");
        assert_eq!(
            (run.method.as_str(), run.url.as_str()),
            ("SCHED", "nightly")
        );
        assert_eq!(message.id.len(), 32);
        assert_ne!(message.id, run.id);
    }

    #[test]
    fn an_http_request_keeps_path_query_and_headers() {
        let (head, ()) = http::Request::post("/users/7?full=1")
            .header("X-Trace", "a")
            .body(())
            .unwrap()
            .into_parts();
        let request = Request::http(&head, Bytes::new(), "id-1".into(), vec![]);
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "/users/7?full=1");
        assert_eq!(
            request.headers,
            vec![("x-trace".to_string(), "a".to_string())]
        );
    }

    #[test]
    fn a_with_view_shows_only_renamed_keys() {
        let mut state = State::new();
        state.insert("get-user".into(), Bytes::from_static(b"ada"));
        state.insert("secret".into(), Bytes::from_static(b"x"));
        let view = StateView {
            state: Arc::new(state),
            with: Some(Arc::new(BTreeMap::from([(
                "user".to_string(),
                "get-user".to_string(),
            )]))),
        };
        assert_eq!(view.get("user").map(|b| &b[..]), Some(&b"ada"[..]));
        assert_eq!(view.get("secret"), None);
        assert_eq!(view.keys(), vec!["user".to_string()]);
    }
}
