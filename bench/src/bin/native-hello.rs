//! A native hyper server answering `GET /hello/<name>` with `Hello, <name>!`: the ceiling the
//! bench compares Karman against. `native-hello <addr>`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
// Karman's allocator, as every bench target has it.
use karman_bench as _;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let name = request
                        .uri()
                        .path()
                        .strip_prefix("/hello/")
                        .filter(|n| !n.is_empty())
                        .unwrap_or("world")
                        .to_string();
                    let mut response =
                        Response::new(Full::new(Bytes::from(format!("Hello, {name}!"))));
                    response
                        .headers_mut()
                        .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
                    Ok::<_, Infallible>(response)
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
