//! An upstream HTTP/GraphQL server on 127.0.0.1:0 for the outbound tests: it records every
//! request it receives, so a test can check what reached it (and what did not).
//!
//! | path | answer |
//! |------|--------|
//! | `/hello` | 200 `hello from upstream`, header `x-upstream: yes` |
//! | `/redirect?to=URL` | 302 to `URL` |
//! | `/big?bytes=N[&chunked=1]` | N bytes, with a content length or chunked |
//! | `/slow` | 200 after 5 s |
//! | `POST /graphql` | `{"data": {"greeting": "hello <name>"}}`, or GraphQL errors for a query containing `boom` |
//! | `POST /graphql` with `user(login:` | a GitHub-like user (401 without [`GITHUB_TOKEN`]; `ghost` is unknown) |
//! | `GET /users/<login>/repos` | GitHub-like repositories (401 without [`GITHUB_TOKEN`]; 404 for `ghost`) |

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinHandle;

/// The token the GitHub stand-in accepts.
pub const GITHUB_TOKEN: &str = "gh-test-token";

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The running upstream; stops on drop.
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, recorded.clone()));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { port, seen, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(
    request: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<UpstreamBody>, Infallible> {
    let path = request.uri().path().to_string();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or(path.clone(), |p| p.to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    });
    let full = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("x-upstream", "yes")
            .body(Full::new(Bytes::from(body)).boxed())
            .unwrap()
    };
    let authorized = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == format!("Bearer {GITHUB_TOKEN}").as_bytes());
    let bad_credentials = || full(401, r#"{"message":"Bad credentials"}"#.into());
    if let Some(login) = path
        .strip_prefix("/users/")
        .and_then(|rest| rest.strip_suffix("/repos"))
    {
        return Ok(if !authorized {
            bad_credentials()
        } else if login == "ghost" {
            full(404, r#"{"message":"Not Found"}"#.into())
        } else {
            let repos = serde_json::json!([
                {"name": "analytical-engine", "stargazers_count": 1843, "description": "Notes on the engine", "private": false},
                {"name": "bernoulli", "stargazers_count": 7, "description": null, "private": false},
            ]);
            full(200, repos.to_string())
        });
    }
    let response = match path.as_str() {
        "/hello" => full(200, "hello from upstream".into()),
        "/redirect" => Response::builder()
            .status(302)
            .header("location", param("to").unwrap_or_default())
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
        "/big" => {
            let bytes: usize = param("bytes").and_then(|b| b.parse().ok()).unwrap_or(0);
            if param("chunked").is_some() {
                Response::new(Repeat { remaining: bytes }.boxed())
            } else {
                full(200, "x".repeat(bytes))
            }
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            full(200, "late".into())
        }
        "/graphql" => {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let query: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let text = query["query"].as_str().unwrap_or_default();
            let login = query["variables"]["login"].as_str().unwrap_or_default();
            let answer = if text.contains("user(login") && !authorized {
                return Ok(bad_credentials());
            } else if text.contains("user(login") && login == "ghost" {
                serde_json::json!({
                    "data": {"user": null},
                    "errors": [{"type": "NOT_FOUND", "message": format!("Could not resolve to a User with the login of '{login}'.")}],
                })
            } else if text.contains("user(login") {
                serde_json::json!({"data": {"user": {
                    "login": login, "name": "Ada Lovelace", "bio": "Poetical science",
                    "followers": {"totalCount": 1815},
                }}})
            } else if text.contains("boom") {
                serde_json::json!({
                    "data": null,
                    "errors": [{"message": "boom happened"}, {"message": "and again"}],
                })
            } else {
                let name = query["variables"]["name"].as_str().unwrap_or("nobody");
                serde_json::json!({ "data": { "greeting": format!("hello {name}") } })
            };
            full(200, answer.to_string())
        }
        _ => full(404, "no such path".into()),
    };
    Ok(response)
}

/// A chunked body of `remaining` bytes, sent 64 KiB at a time with no content length.
struct Repeat {
    remaining: usize,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let chunk = self.remaining.min(64 << 10);
        self.remaining -= chunk;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; chunk])))))
    }
}
