//! Serving a [`Service`] on a bound listener: one task per connection (HTTP/1.1 and HTTP/2,
//! with WebSocket upgrades), on one of the connection threads (one per core by default: see
//! [`crate::connection_threads`]) for its whole life, at most `max_connections` at once
//! (further ones wait in the listen backlog), each closed once idle; and a graceful shutdown
//! that stops accepting, lets in-flight requests and WebSocket sessions finish within the grace
//! period, then drops the rest (stopping the connection threads).
//!
//! The service answering is a [`LiveService`]: a reload replaces it whole between two
//! requests, and a request already started finishes on the service it started on.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::connection::{Activity, Closing, TrackedBody, Watched};
use crate::connection_threads::ConnectionThreads;
use crate::rate_limit::ClientAddr;
use crate::service::Service;

/// The service that answers the next request; replaced whole by a reload.
pub struct LiveService {
    current: ArcSwap<Service>,
}

impl LiveService {
    /// Starts with `service`.
    pub fn new(service: Arc<Service>) -> Self {
        Self {
            current: ArcSwap::new(service),
        }
    }

    /// The service new requests go to.
    pub fn current(&self) -> Arc<Service> {
        self.current.load_full()
    }

    /// Sends new requests to `service`; requests in flight finish on the one they started on,
    /// which is dropped (with its app) once the last of them has.
    pub fn replace(&self, service: Arc<Service>) {
        self.current.store(service);
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops accepting and waits up
/// to the configured grace for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_live(listener, Arc::new(LiveService::new(service)), shutdown).await
}

/// As [`serve`], each request answered by the service `live` holds when it arrives. The
/// server's settings are those of the first service.
pub async fn serve_live(
    listener: TcpListener,
    live: Arc<LiveService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_connections(listener, live, None, shutdown).await
}

/// As [`serve_live`], over TLS when `tls` is given: the handshake runs in the connection's own
/// task, within the header-read timeout, so a slow or silent client cannot stall accepting.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    live: Arc<LiveService>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = live.current().config().clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header-read timeout is the connection's own (see `Activity`), not a timer hyper
    // arms, resets and drops for every request.
    builder.http1().header_read_timeout(None);
    let graceful = GracefulShutdown::new();
    let grace = config.shutdown_grace;
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let threads = ConnectionThreads::start(config.connection_threads, config.connection_spin)?;
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                tracing::warn!(
                    max_connections = config.max_connections,
                    "at the connection cap: new connections wait"
                );
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
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
        // The CPU the connection's packets came in on: serving it on the thread of that CPU
        // keeps its wake-ups there (see `ConnectionThreads::spawn`).
        let cpu = incoming_cpu(&stream);
        // Registered again with the runtime of the thread that serves it.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%peer, %error, "cannot hand the connection to its thread");
                continue;
            }
        };
        let connection = Connection {
            live: live.clone(),
            builder: builder.clone(),
            watcher: graceful.watcher(),
            peer,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
        };
        match &tls {
            None => {
                threads.spawn(cpu, async move {
                    let _slot = slot;
                    let Some(stream) = registered(stream, peer) else {
                        return;
                    };
                    connection.serve(stream).await;
                });
            }
            Some(acceptor) => {
                let (acceptor, limit) = (acceptor.clone(), config.header_read_timeout);
                threads.spawn(cpu, async move {
                    let _slot = slot;
                    let Some(stream) = registered(stream, peer) else {
                        return;
                    };
                    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
                    }
                });
            }
        }
    }
    drop(listener);
    // The WebSocket sessions of every service a reload replaced are registered here too.
    let service = live.current();
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
    // Stops the connection threads, dropping the connections still open.
    drop(threads);
    Ok(())
}

/// The CPU that received `stream`'s last packet (`SO_INCOMING_CPU`), where Linux says.
fn incoming_cpu(stream: &tokio::net::TcpStream) -> Option<usize> {
    #[cfg(target_os = "linux")]
    return socket2::SockRef::from(stream).cpu_affinity().ok();
    #[cfg(not(target_os = "linux"))]
    return None;
}

/// `stream`, accepted on the main runtime, registered with the runtime of the thread that
/// serves it (its readiness then wakes that thread only).
fn registered(stream: std::net::TcpStream, peer: SocketAddr) -> Option<tokio::net::TcpStream> {
    match tokio::net::TcpStream::from_std(stream) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::debug!(%peer, %error, "cannot register the connection with its thread");
            None
        }
    }
}

/// One accepted connection, served on its own task.
struct Connection {
    live: Arc<LiveService>,
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
    peer: SocketAddr,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl Connection {
    /// Serves HTTP/1.1 or HTTP/2 (with WebSocket upgrades) on `stream` until the client
    /// leaves, the connection has been idle for the idle timeout, a request head has not come
    /// whole within the header-read timeout, or shutdown closes it.
    async fn serve<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            live,
            builder,
            watcher,
            peer,
            header_read_timeout,
            idle_timeout,
        } = self;
        let activity = Activity::new();
        let handler = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                let http2 = request.version() == http::Version::HTTP_2;
                let (service, in_flight) = (live.current(), activity.start(http2));
                request.extensions_mut().insert(ClientAddr(peer));
                async move {
                    let response = service.handle(request).await;
                    Ok::<_, Infallible>(response.map(|inner| TrackedBody {
                        inner,
                        _in_flight: in_flight,
                    }))
                }
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(Watched::new(stream, activity.clone())),
                handler,
            )
            .into_owned();
        let connection = watcher.watch(connection);
        tokio::select! {
            ended = connection => if let Err(error) = ended {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            },
            closing = activity.closing(header_read_timeout, idle_timeout) => match closing {
                Closing::Idle => tracing::debug!(%peer, "closing an idle connection"),
                Closing::HeadTooSlow => tracing::debug!(%peer, "closing a connection whose request head did not come in time"),
            }
        }
    }
}
