//! `source: server` stream handlers: WebSocket endpoints at `GET <resource>`.
//!
//! Each text or binary message runs the handler's steps through its stream [`Handler`] (so it
//! counts in the handler's stats, and at most `maxInFlight` messages of all the endpoint's
//! sockets run at once) (`req.method()` is `STREAM`, `req.url()`
//! the path, the headers those of the opening request, the body the message) and the result is
//! sent back on the same socket, as text when the message was text and the result is UTF-8.
//! A failed run sends `{"code": …, "message": …}` as text and the socket stays open. Messages of
//! one socket run one at a time, in order. Pings are answered, a close is returned, and a
//! message larger than the body cap (`--max-body`) closes the socket with an error.
//!
//! On shutdown ([`Sessions::close_all`]) every socket finishes the message it is running, sends
//! its answer, then closes with 1001 (going away); no message in flight is lost.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use karman_streams::{Handler, Incoming};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The open WebSocket sessions of a server, so that a shutdown can close them cleanly. Clones
/// share the registry (a reloaded service keeps the sessions the one before it opened).
#[derive(Clone, Default)]
pub(crate) struct Sessions {
    tasks: TaskTracker,
    closing: CancellationToken,
}

impl Sessions {
    /// Asks every session to close after the message it is running, and waits until all have.
    pub(crate) async fn close_all(&self) {
        self.closing.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// How many sessions are open.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}

/// Whether the request asks to open a WebSocket (RFC 6455 §4.2.1).
pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    let has_token = |name, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    request.method() == http::Method::GET
        && has_token(CONNECTION, "upgrade")
        && has_token(UPGRADE, "websocket")
        && request
            .headers()
            .get(SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13")
        && request.headers().contains_key(SEC_WEBSOCKET_KEY)
}

/// Answers the opening request with 101 and runs the socket's session in its own task.
pub(crate) fn accept<B>(
    sessions: &Sessions,
    handler: Arc<Handler>,
    max_message_bytes: usize,
    mut request: Request<B>,
) -> Response<Full<Bytes>> {
    let accept_key = derive_accept_key(
        request
            .headers()
            .get(SEC_WEBSOCKET_KEY)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default(),
    );
    let path = request.uri().path().to_string();
    let headers = karman_runtime::header_list(request.headers());
    let upgrade = hyper::upgrade::on(&mut request);
    let closing = sessions.closing.clone();
    sessions.tasks.spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(max_message_bytes))
                    .max_frame_size(Some(max_message_bytes));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                session(&handler, path, headers, socket, closing).await;
            }
            Err(error) => tracing::debug!(%error, "the WebSocket upgrade failed"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept_key) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

async fn session<S>(
    handler: &Handler,
    path: String,
    headers: Vec<(String, String)>,
    mut socket: WebSocketStream<S>,
    closing: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut close = None;
    loop {
        let frame = tokio::select! {
            biased;
            () = closing.cancelled() => {
                close = Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "the server is shutting down".into(),
                });
                break;
            }
            frame = socket.next() => match frame {
                Some(frame) => frame,
                None => break,
            },
        };
        let (body, text) = match frame {
            Ok(Message::Text(text)) => (Bytes::copy_from_slice(text.as_bytes()), true),
            Ok(Message::Binary(bytes)) => (bytes, false),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
                // Pongs are queued by the protocol; send them now.
                if socket.flush().await.is_err() {
                    break;
                }
                continue;
            }
            Ok(Message::Close(_)) => break,
            Err(error) => {
                tracing::debug!(%path, %error, "WebSocket closed with an error");
                break;
            }
        };
        let message = Incoming {
            subject: path.clone(),
            payload: body,
            headers: headers.clone(),
        };
        let answer = match handler.run_when_free(message).await {
            Ok(reply) => match (text, String::from_utf8(reply.body.to_vec())) {
                (true, Ok(text)) => Message::text(text),
                _ => Message::binary(reply.body),
            },
            Err(failure) => Message::text(
                serde_json::json!({ "code": failure.code, "message": failure.message }).to_string(),
            ),
        };
        if socket.send(answer).await.is_err() {
            break;
        }
    }
    let _ = socket.close(close).await;
}
