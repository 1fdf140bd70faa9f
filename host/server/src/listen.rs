//! Serving a [`Service`] on a bound listener: one task per connection (HTTP/1.1 and HTTP/2,
//! with WebSocket upgrades), and a graceful shutdown that stops accepting, lets in-flight
//! requests and WebSocket sessions finish within the grace period, then drops the rest.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::service::{HEADER_READ_TIMEOUT, Service};

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
    let grace = service.config().shutdown_grace;
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
        websocket_sessions = service.sessions().len(),
        "shutting down: finishing in-flight requests"
    );
    let finished = async {
        tokio::join!(graceful.shutdown(), service.sessions().close_all());
    };
    tokio::select! {
        () = finished => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(grace = ?grace, "shutdown grace elapsed; dropping remaining connections"),
    }
    Ok(())
}
