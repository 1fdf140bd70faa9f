//! The HTTP server: request ids, body limits, `/health`, routing to handlers, custom routes
//! (`/ext/`), WebSocket endpoints, error bodies, and graceful shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderName, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use karman_directive::ComponentId;
use karman_directive::StreamSource;
use karman_runtime::health::{BackendHealth, BackendState};
use karman_runtime::{Failure, HttpBody, HttpCall, Runtime};
use tokio::net::TcpListener;

use crate::ext::Extensions;
use crate::router::{Route, Router};
use crate::websocket;

/// The response header carrying the request id (and the request header honoured for it).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Default cap on request bodies.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 << 20;
/// Default time in-flight requests get to finish after a shutdown signal.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Time a client has to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest client-supplied request id that is honoured.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Request bodies larger than this are answered with 413.
    pub max_body_bytes: u64,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Everything that answers requests: the runtime, its routes, the settings.
/// Built once; callable without a socket (see [`Service::handle`]).
pub struct Service {
    runtime: Arc<Runtime>,
    router: Router,
    /// WebSocket endpoints (`source: server` stream handlers): path → stream handler index.
    websockets: HashMap<String, usize>,
    /// The open WebSocket sessions, closed on shutdown.
    sessions: websocket::Sessions,
    /// Custom routes (`/ext/<plugin>/…`).
    extensions: Option<Extensions>,
    /// Set by [`Service::proxy`]: every request goes to this `wasi:http` component.
    proxy: Option<ComponentId>,
    config: ServerConfig,
}

impl Service {
    /// Builds the routes of the runtime's app.
    pub fn new(runtime: Arc<Runtime>, config: ServerConfig) -> anyhow::Result<Self> {
        let app = runtime.app();
        let router = Router::new(app).map_err(anyhow::Error::msg)?;
        let mut websockets = HashMap::new();
        for (index, stream) in app.streams.iter().enumerate() {
            if stream.source != StreamSource::Server {
                continue;
            }
            if let Route::Handler { index: other, .. } = router.route("GET", &stream.resource) {
                anyhow::bail!(
                    "{}: the WebSocket endpoint `{}` is also the request handler `GET {}` at {}",
                    stream.location,
                    stream.resource,
                    app.handlers[other].resource,
                    app.handlers[other].location
                );
            }
            if websockets.insert(stream.resource.clone(), index).is_some() {
                anyhow::bail!(
                    "{}: a second WebSocket endpoint at `{}`",
                    stream.location,
                    stream.resource
                );
            }
        }
        let extensions = Extensions::new(app).map_err(anyhow::Error::msg)?;
        Ok(Self {
            runtime,
            router,
            websockets,
            sessions: websocket::Sessions::default(),
            extensions,
            proxy: None,
            config,
        })
    }

    /// A service that hands every request, whatever its path, to the `wasi:http` component
    /// `component`, as `wasmtime serve` does (`karman serve component.wasm`).
    pub fn proxy(
        runtime: Arc<Runtime>,
        component: ComponentId,
        config: ServerConfig,
    ) -> anyhow::Result<Self> {
        let mut service = Self::new(runtime, config)?;
        service.proxy = Some(component);
        Ok(service)
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let request_id = request_id(&request);
        let mut response = self.answer(request, &request_id).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }

    async fn answer<B>(&self, request: Request<B>, request_id: &str) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if let Some(component) = self.proxy {
            return self.pass_to(component, request, request_id).await;
        }
        let path = request.uri().path();
        if path == "/health" {
            return match *request.method() {
                Method::GET | Method::HEAD => health(self.runtime.health()),
                _ => error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    405,
                    "use GET /health",
                    request_id,
                ),
            };
        }
        if path == "/ext" || path.starts_with("/ext/") {
            return match &self.extensions {
                Some(extensions) => {
                    extensions
                        .handle(
                            &self.runtime,
                            request,
                            request_id,
                            self.config.max_body_bytes,
                        )
                        .await
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    404,
                    "no route for this path",
                    request_id,
                ),
            };
        }
        if let Some(&index) = self.websockets.get(path) {
            if websocket::is_upgrade(&request) {
                let max = usize::try_from(self.config.max_body_bytes).unwrap_or(usize::MAX);
                return websocket::accept(
                    &self.sessions,
                    self.runtime.clone(),
                    index,
                    max,
                    request,
                )
                .map(|body| body.map_err(|never| match never {}).boxed_unsync());
            }
            let mut response = error(
                StatusCode::UPGRADE_REQUIRED,
                426,
                "this path is a WebSocket endpoint: open it with a WebSocket client",
                request_id,
            );
            response
                .headers_mut()
                .insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
            return response;
        }
        let (index, params) = match self.router.route(request.method().as_str(), path) {
            Route::Handler { index, params } => (index, params),
            Route::NotFound => {
                return error(
                    StatusCode::NOT_FOUND,
                    404,
                    "no handler for this path",
                    request_id,
                );
            }
            Route::MethodNotAllowed { allow } => return method_not_allowed(&allow, request_id),
        };

        let (parts, body) = request.into_parts();
        let body =
            match read_whole_body(&parts.headers, body, self.config.max_body_bytes, request_id)
                .await
            {
                Ok(body) => body,
                Err(response) => return response,
            };
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let run = karman_runtime::Request {
            method: parts.method.as_str().to_string(),
            url: parts.uri.path_and_query().map_or_else(
                || parts.uri.path().to_string(),
                |pq| pq.as_str().to_string(),
            ),
            id: request_id.to_string(),
            headers,
            body,
            params,
        };
        match self.runtime.run_handler(index, run).await {
            Ok(reply) => {
                let mut response = Response::new(full(reply.body.clone()));
                *response.status_mut() =
                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
                let headers = response.headers_mut();
                for (name, value) in reply.headers {
                    headers.insert(name, value);
                }
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, default_content_type(&reply.body));
                }
                response
            }
            Err(failure) => failure_response(&failure, request_id),
        }
    }
}

impl Service {
    /// Proxy mode: the request as it came (path, headers, streaming body within the cap).
    async fn pass_to<B>(
        &self,
        component: ComponentId,
        request: Request<B>,
        request_id: &str,
    ) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if declared_length(request.headers())
            .is_some_and(|length| length > self.config.max_body_bytes)
        {
            return too_large(request_id, self.config.max_body_bytes);
        }
        let limit = usize::try_from(self.config.max_body_bytes).unwrap_or(usize::MAX);
        let request = request.map(|body| {
            Limited::new(body, limit)
                .map_err(|error| karman_runtime::HttpBodyError(error.to_string()))
                .boxed_unsync()
        });
        let call = HttpCall {
            request_id: request_id.to_string(),
            ..HttpCall::default()
        };
        match self.runtime.serve_http(component, request, call).await {
            Ok(response) => response,
            Err(failure) => failure_response(&failure, request_id),
        }
    }
}

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> HttpBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Reads a whole request body, up to `max` bytes: 413 beyond, 400 when it cannot be read.
pub(crate) async fn read_whole_body<B>(
    headers: &http::HeaderMap,
    body: B,
    max: u64,
    request_id: &str,
) -> Result<Bytes, Response<HttpBody>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if declared_length(headers).is_some_and(|length| length > max) {
        return Err(too_large(request_id, max));
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(request_id, max))
        }
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            400,
            "the request body could not be read",
            request_id,
        )),
    }
}

/// The `content-length` the client declared.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn too_large(request_id: &str, max: u64) -> Response<HttpBody> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        &format!("the request body is larger than {max} bytes"),
        request_id,
    )
}

/// 405 with the methods the path has, in `allow`.
pub(crate) fn method_not_allowed(allow: &str, request_id: &str) -> Response<HttpBody> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        405,
        &format!("this path is routed for {allow}"),
        request_id,
    );
    if let Ok(allow) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, allow);
    }
    response
}

/// The client's `x-request-id` when it is short and plain, else a new one.
fn request_id<B>(request: &Request<B>) -> String {
    let supplied = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        });
    match supplied {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    }
}

fn default_content_type(body: &[u8]) -> HeaderValue {
    if std::str::from_utf8(body).is_ok() {
        HeaderValue::from_static("text/plain; charset=utf-8")
    } else {
        HeaderValue::from_static("application/octet-stream")
    }
}

pub(crate) fn failure_response(failure: &Failure, request_id: &str) -> Response<HttpBody> {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(status, failure.code, &failure.message, request_id);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A JSON error body: `{"code": …, "message": …, "requestId": …}`.
pub(crate) fn error(
    status: StatusCode,
    code: u16,
    message: &str,
    request_id: &str,
) -> Response<HttpBody> {
    let body = serde_json::json!({ "code": code, "message": message, "requestId": request_id });
    json(status, body.to_string())
}

/// `/health`: 200 when every backend is connected, else 503 with the state of each (a
/// background connect still trying).
fn health(health: &BackendHealth) -> Response<HttpBody> {
    let backends: serde_json::Map<String, serde_json::Value> = health
        .snapshot()
        .into_iter()
        .map(|(name, state)| {
            let state = match state {
                BackendState::Ready => serde_json::json!({ "state": "ready" }),
                BackendState::Connecting { error } => {
                    serde_json::json!({ "state": "connecting", "error": error })
                }
            };
            (name.to_string(), state)
        })
        .collect();
    let (status, text) = if health.ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "connecting")
    };
    let body = serde_json::json!({ "status": text, "backends": backends });
    json(status, body.to_string())
}

fn json(status: StatusCode, body: String) -> Response<HttpBody> {
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops accepting and waits up
/// to the configured grace for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let grace = service.config.shutdown_grace;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(service.handle(request).await) }
                });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), handler)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, error = %error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        in_flight_connections = graceful.count(),
        websocket_sessions = service.sessions.len(),
        "shutting down: finishing in-flight requests"
    );
    let finished = async {
        tokio::join!(graceful.shutdown(), service.sessions.close_all());
    };
    tokio::select! {
        () = finished => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(grace = ?grace, "shutdown grace elapsed; dropping remaining connections"),
    }
    Ok(())
}
