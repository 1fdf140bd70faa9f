//! The admin listener (`--admin-listen`, off by default): what an operator's tools read, kept
//! off the app's own port.
//!
//! | path | answer |
//! |------|--------|
//! | `GET /metrics` | the [metrics](crate::metrics) in the Prometheus text format |
//! | `GET /health` | readiness with each backend's state and last error |
//! | `GET /livez`, `GET /readyz` | as on the main listener |
//!
//! It serves HTTP/1.1 only, a few requests at a time, and keeps answering while the main
//! listener drains (so `/readyz` can say `draining`); it stops when the app has stopped.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use karman_runtime::HttpBody;
use karman_runtime::health::BackendState;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::health::{ServerStatus, detailed, live, ready};
use crate::listen::LiveService;
use crate::responses::{error, full};

/// Connections the admin listener serves at once.
const MAX_CONNECTIONS: usize = 16;
/// How long an admin connection may stay open.
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// What the admin listener reads: the app serving now and the server's status.
#[derive(Clone)]
pub struct Admin {
    live: Arc<LiveService>,
    status: Arc<ServerStatus>,
}

impl Admin {
    pub(crate) fn new(live: Arc<LiveService>, status: Arc<ServerStatus>) -> Self {
        Self { live, status }
    }

    /// Answers one admin request.
    pub fn answer<B>(&self, request: &Request<B>) -> Response<HttpBody> {
        let service = self.live.current();
        let health = service.runtime().health();
        let path = request.uri().path();
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                405,
                "the admin listener answers GET",
                "-",
            );
        }
        match path {
            "/metrics" => {
                let backends: Vec<(&str, bool)> = health
                    .snapshot()
                    .into_iter()
                    .map(|(name, state)| (name, state == BackendState::Ready))
                    .collect();
                let mut response =
                    Response::new(full(self.status.metrics.render(&backends).into()));
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
                );
                response
            }
            "/health" => detailed(health, &self.status),
            "/livez" => live(),
            "/readyz" => ready(health, &self.status),
            _ => error(
                StatusCode::NOT_FOUND,
                404,
                "the admin listener serves /metrics, /health, /livez and /readyz",
                "-",
            ),
        }
    }
}

/// Serves `admin` on `listener` until `stop` resolves.
pub async fn serve(listener: TcpListener, admin: Admin, stop: impl Future<Output = ()>) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!("admin listener on http://{address}");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Past the cap, a connection is closed at once rather than queued.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = admin.answer(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(CONNECTION_LIMIT)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, connection).await;
        });
    }
}
