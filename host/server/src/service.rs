//! The [`Service`]: what answers one HTTP request. In order: the probes (`/livez`, `/readyz`,
//! `/health`), custom routes (`/ext/…`), headless runs (`/_run/…`, when on), WebSocket
//! endpoints, the Directive's request handlers, then the static mount (`static: { mount }`) —
//! or, serving one `wasi:http` component, that component for every path. Each response carries
//! the request id; each request is counted in the [metrics](crate::metrics) under the route
//! that answered it, and logged in one access-log line (target `karman::access`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderName, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use karman_directive::routing::{Match, Router};
use karman_directive::{ComponentId, StreamSource};
use karman_runtime::lazy_timeout::{TimedOut, timeout_at};
use karman_runtime::{HttpBody, HttpCall, Runtime};
use karman_streams::Handler;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::ServerConfig;
use crate::custom_routes::CustomRoutes;
use crate::headless::HeadlessRuns;
use crate::health::{ServerStatus, live, ready};
use crate::metrics::{Metrics, RouteLabel, RouteMetrics};
use crate::rate_limit::{Caller, ClientAddr, Limiters, too_many_requests};
use crate::responses::{
    declared_length, default_content_type, error, failure_response, full, method_not_allowed,
    read_whole_body, too_large,
};
use crate::static_files::StaticFiles;
use crate::websocket;

/// The response header carrying the request id (and the request header honoured for it).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Everything that answers requests: the runtime, its routes, the settings.
/// Built once; callable without a socket (see [`Service::handle`]).
pub struct Service {
    runtime: Arc<Runtime>,
    router: Router,
    /// WebSocket endpoints (`source: server` stream handlers), by path.
    websockets: HashMap<String, Arc<Handler>>,
    /// The open WebSocket sessions, closed on shutdown.
    sessions: websocket::Sessions,
    /// Custom routes (`/ext/<plugin>/…`).
    custom_routes: Option<CustomRoutes>,
    /// Headless mode (`/_run/<name>`), when on.
    headless: Option<HeadlessRuns>,
    /// The `rateLimit` of each request handler, by index.
    handler_limits: Vec<Option<Limiters>>,
    /// The static files served at `static: { mount }`, if the app mounts them.
    static_files: Option<Arc<StaticFiles>>,
    /// Set by [`Service::proxy`]: every request goes to this `wasi:http` component.
    proxy: Option<ComponentId>,
    config: ServerConfig,
    /// The metrics and the draining flag, shared with the services a reload puts in its place.
    status: Arc<ServerStatus>,
    /// The metrics of each route, resolved once.
    route_metrics: RoutesMetrics,
}

/// The metrics of a service's routes, each resolved once, under its label.
struct RoutesMetrics {
    /// `GET /hello/:name`, by handler index.
    handlers: Vec<RouteMetrics>,
    /// `/ext/<plugin>`, by plugin.
    plugins: HashMap<String, RouteMetrics>,
    probe: RouteMetrics,
    headless: RouteMetrics,
    websocket: RouteMetrics,
    static_files: RouteMetrics,
    component: RouteMetrics,
    unmatched: RouteMetrics,
}

impl RoutesMetrics {
    fn of(app: &karman_directive::App, metrics: &Metrics) -> Self {
        let route = |label: &str| metrics.route(label.into());
        Self {
            handlers: app
                .handlers
                .iter()
                .map(|h| route(&format!("{} {}", h.method, h.resource)))
                .collect(),
            plugins: app
                .routes
                .iter()
                .map(|r| (r.plugin.clone(), route(&format!("/ext/{}", r.plugin))))
                .collect(),
            probe: route("probe"),
            headless: route("headless"),
            websocket: route("websocket"),
            static_files: route("static"),
            component: route("component"),
            unmatched: route("unmatched"),
        }
    }
}

impl Service {
    /// Builds the routes of the runtime's app; fails, naming both places, when two of them
    /// claim the same method and path. WebSocket endpoints are served once their handlers are
    /// given ([`Service::with_websockets`]).
    pub fn new(runtime: Arc<Runtime>, config: ServerConfig) -> anyhow::Result<Self> {
        let app = runtime.app();
        let router = Router::for_handlers(app).map_err(anyhow::Error::msg)?;
        let mut websocket_paths = HashMap::new();
        for stream in app
            .streams
            .iter()
            .filter(|s| s.source == StreamSource::Server)
        {
            if let Match::Handler { index: other, .. } = router.route("GET", &stream.resource) {
                anyhow::bail!(
                    "{}: the WebSocket endpoint `{}` is also the request handler `GET {}` at {}",
                    stream.location,
                    stream.resource,
                    app.handlers[other].resource,
                    app.handlers[other].location
                );
            }
            if websocket_paths
                .insert(stream.resource.as_str(), &stream.location)
                .is_some()
            {
                anyhow::bail!(
                    "{}: a second WebSocket endpoint at `{}`",
                    stream.location,
                    stream.resource
                );
            }
        }
        let custom_routes = CustomRoutes::new(app).map_err(anyhow::Error::msg)?;
        let headless = HeadlessRuns::new(app).map_err(anyhow::Error::msg)?;
        let handler_limits = app
            .handlers
            .iter()
            .map(|handler| Limiters::new(handler.rate_limit))
            .collect();
        let static_files = StaticFiles::for_app(app).map(Arc::new);
        let status = Arc::<ServerStatus>::default();
        let route_metrics = RoutesMetrics::of(app, &status.metrics);
        Ok(Self {
            runtime,
            router,
            websockets: HashMap::new(),
            sessions: websocket::Sessions::default(),
            custom_routes,
            headless,
            handler_limits,
            static_files,
            proxy: None,
            config,
            status,
            route_metrics,
        })
    }

    /// Records into `status` (shared with the service it replaces, or with the admin
    /// listener) instead of a status of its own.
    pub fn with_status(mut self, status: Arc<ServerStatus>) -> Self {
        self.route_metrics = RoutesMetrics::of(self.runtime.app(), &status.metrics);
        self.status = status;
        self
    }

    /// The metrics and the draining flag this service records into.
    pub fn status(&self) -> &Arc<ServerStatus> {
        &self.status
    }

    /// The app it serves.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Serves the WebSocket endpoints of `handlers` (the `source: server` handlers the app's
    /// streams run), each at its path.
    pub fn with_websockets<'h>(
        mut self,
        handlers: impl IntoIterator<Item = &'h Arc<Handler>>,
    ) -> Self {
        for handler in handlers {
            self.websockets
                .insert(handler.spec().resource.clone(), handler.clone());
        }
        self
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

    /// Shares the WebSocket sessions of `previous` (the service a reload replaces), so that a
    /// shutdown closes the sessions either opened.
    pub(crate) fn sharing_sessions_with(mut self, previous: &Service) -> Self {
        self.sessions = previous.sessions.clone();
        self
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The open WebSocket sessions.
    pub(crate) fn sessions(&self) -> &websocket::Sessions {
        &self.sessions
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let request_id = request_id(&request);
        let started = std::time::Instant::now();
        let method = request.method().clone();
        let deadline = self.config.total_request_timeout;
        let due = started + deadline;
        let mut route = &self.route_metrics.unmatched;
        let span = request_span(&request, &request_id);
        let answered = timeout_at(
            tokio::time::Instant::from_std(due),
            self.answer(request, &request_id, due, &mut route),
        )
        .instrument(span.clone())
        .await;
        let mut response = match answered {
            Ok(response) => response,
            Err(TimedOut) => {
                tracing::warn!(request_id, ?deadline, "request not answered in time");
                error(
                    StatusCode::GATEWAY_TIMEOUT,
                    504,
                    &format!(
                        "the request was not answered within {}",
                        humantime::format_duration(deadline)
                    ),
                    &request_id,
                )
            }
        };
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        route.observe(status, elapsed);
        let trace_id = end_request_span(&span, &method, route.label(), status);
        let route: &str = route.label();
        tracing::info!(
            target: "karman::access",
            request_id,
            method = %method,
            route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            trace_id,
            "request"
        );
        // The length of a whole body before the request id, as an exported app (which sets
        // both itself) answers: the same bytes in the same order.
        if let Some(length) = hyper::body::Body::size_hint(response.body()).exact()
            && karman_protocol::declares_length(
                response.status().as_u16(),
                method == Method::HEAD,
                length,
            )
            && !response.headers().contains_key(CONTENT_LENGTH)
        {
            response.headers_mut().insert(CONTENT_LENGTH, length.into());
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }

    /// Answers one request, due at `due` (a step's `retry:` never waits past it).
    ///
    /// The arms a handler's request does not take (proxy mode, custom routes, headless
    /// Runnables, static files) box their futures: an `async fn`'s future is as large as the
    /// largest it awaits, and hyper moves the request's future whole as it starts serving it.
    async fn answer<'s, B>(
        &'s self,
        request: Request<B>,
        request_id: &str,
        due: std::time::Instant,
        route: &mut &'s RouteMetrics,
    ) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if let Some(component) = self.proxy {
            *route = &self.route_metrics.component;
            return Box::pin(self.pass_to(component, request, request_id)).await;
        }
        let path = request.uri().path();
        if matches!(path, "/livez" | "/readyz" | "/health") {
            *route = &self.route_metrics.probe;
            return match *request.method() {
                Method::GET | Method::HEAD if path == "/livez" => live(),
                Method::GET | Method::HEAD => ready(self.runtime.health(), &self.status),
                _ => error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    405,
                    &format!("use GET {path}"),
                    request_id,
                ),
            };
        }
        if path == "/ext" || path.starts_with("/ext/") {
            let plugin = path["/ext".len()..].split('/').nth(1).unwrap_or_default();
            if let Some(label) = self.route_metrics.plugins.get(plugin) {
                *route = label;
            }
            return match &self.custom_routes {
                Some(routes) => {
                    Box::pin(routes.handle(&self.runtime, request, request_id, &self.config)).await
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    404,
                    "no route for this path",
                    request_id,
                ),
            };
        }
        if let Some(headless) = &self.headless
            && path.starts_with(crate::headless::PREFIX)
        {
            *route = &self.route_metrics.headless;
            return Box::pin(headless.handle(&self.runtime, request, request_id, &self.config))
                .await;
        }
        if let Some(handler) = self.websockets.get(path) {
            *route = &self.route_metrics.websocket;
            return self.open_websocket(handler, request, request_id);
        }
        let found = self.router.route(request.method().as_str(), path);
        if !matches!(found, Match::Handler { .. })
            && let Some(files) = &self.static_files
            && let Some(rest) = files.under(path)
        {
            // A handler's path with another method stays a 405 unless static files answer it.
            let get = matches!(*request.method(), Method::GET | Method::HEAD);
            if get || matches!(found, Match::NotFound) {
                *route = &self.route_metrics.static_files;
                return Box::pin(files.serve(
                    request.method(),
                    request.headers(),
                    rest,
                    request_id,
                ))
                .await;
            }
        }
        let (index, params) = match found {
            Match::Handler { index, params } => {
                *route = &self.route_metrics.handlers[index];
                (index, params)
            }
            Match::NotFound => {
                return error(
                    StatusCode::NOT_FOUND,
                    404,
                    karman_protocol::NO_HANDLER,
                    request_id,
                );
            }
            Match::MethodNotAllowed { allow } => return method_not_allowed(&allow, request_id),
        };
        if let Some(limiters) = &self.handler_limits[index] {
            let client = request.extensions().get::<ClientAddr>();
            if let Err(refused) = limiters.check(Caller::Address(client.map(|c| c.0.ip()))) {
                return too_many_requests(&refused, request_id);
            }
        }

        let (head, body) = request.into_parts();
        let body = match read_whole_body(
            &head.headers,
            body,
            self.config.max_body_bytes,
            self.config.body_read_timeout,
            request_id,
        )
        .await
        {
            Ok(body) => body,
            Err(response) => return response,
        };
        let mut run = karman_runtime::Request::http(&head, body, request_id.to_string(), params);
        run.deadline = Some(due);
        match self.runtime.run_handler(index, run).await {
            Ok(reply) => reply_response(reply),
            Err(failure) => failure_response(&failure, request_id),
        }
    }

    /// A WebSocket endpoint: 101 and a session for an upgrade request, else 426.
    fn open_websocket<B>(
        &self,
        handler: &Arc<Handler>,
        request: Request<B>,
        request_id: &str,
    ) -> Response<HttpBody> {
        if websocket::is_upgrade(&request) {
            let max = usize::try_from(self.config.max_body_bytes).unwrap_or(usize::MAX);
            return websocket::accept(&self.sessions, handler.clone(), max, request)
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
        response
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
        // The component sees the id the host serves the request under (the client's when it
        // is plain, else the one made for it), as a Runnable does through `req.id`.
        let mut request = request;
        if let Ok(id) = HeaderValue::from_str(request_id) {
            request.headers_mut().insert(REQUEST_ID_HEADER, id);
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

/// The response of a run that ended well: its status, headers and body (with a content type
/// guessed when the steps set none).
pub(crate) fn reply_response(reply: karman_runtime::Reply) -> Response<HttpBody> {
    let mut response = Response::new(full(reply.body.clone()));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        headers.insert(name, value);
    }
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, default_content_type(&reply.body));
    }
    response
}

/// The client's `x-request-id` when it is short and plain, else a new one.
fn request_id<B>(request: &Request<B>) -> String {
    let supplied = request.headers().get(&REQUEST_ID_HEADER);
    match karman_protocol::supplied_request_id(supplied.map(HeaderValue::as_bytes)) {
        Some(id) => id.to_string(),
        None => karman_runtime::new_id(),
    }
}

/// The span of a request (see [`crate::traces`]): a child of the caller's span when the
/// request carries a W3C `traceparent`. Disabled (and free) when traces are off.
fn request_span<B>(request: &Request<B>, request_id: &str) -> tracing::Span {
    let span = tracing::info_span!(
        target: crate::traces::TARGET,
        "request",
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        karman.request_id = request_id,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&opentelemetry_http::HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
    }
    span
}

/// Names the request's span after its route, records its status, and returns its trace id
/// (for the access log) when traces are on.
fn end_request_span(
    span: &tracing::Span,
    method: &http::Method,
    route: &RouteLabel,
    status: u16,
) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let name = if route.starts_with(method.as_str()) {
        route.to_string()
    } else {
        format!("{method} {route}")
    };
    span.record("http.route", &**route);
    span.record("http.response.status_code", status);
    // The OpenTelemetry span has started: name it directly (`otel.name` is read at the start).
    let context = span.context();
    context.span().update_name(name);
    let trace_id = context.span().span_context().trace_id();
    (trace_id != opentelemetry::trace::TraceId::INVALID).then(|| trace_id.to_string())
}
