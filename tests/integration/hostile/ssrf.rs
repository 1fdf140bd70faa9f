//! SSRF: every spelling of a private address a URL parser accepts is refused before a
//! connection is made, for the Karman `http` capability and for `wasi:http`, even when the
//! grant's allow list names the address.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::TestServer;

/// A listener on 127.0.0.1 that counts the connections it accepts.
struct Target {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Target {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { port, accepted }
    }
}

fn app() -> String {
    // The allow list names every address below (as the URL parser normalises it): only the
    // private-address rule stands between the guest and the target.
    let allow = r#"["127.0.0.1", "localhost", "[::1]", "[::ffff:7f00:1]", "0.0.0.0", "169.254.169.254", "[64:ff9b::7f00:1]", "[::]"]"#;
    format!(
        r#"
identifier: test.ssrf
appVersion: v1
components:
  - {{ name: fetch, source: guest(http-user), capabilities: {{ http: {{ allow: {allow} }} }} }}
  - {{ name: wasi-fetch, source: guest(wasi-http-user), capabilities: {{ http: {{ allow: {allow} }} }} }}
handlers:
  - {{ type: request, method: GET, resource: /fetch, steps: [ {{ fn: fetch }} ] }}
  - {{ type: request, method: GET, resource: /wasi-fetch, steps: [ {{ fn: wasi-fetch }} ] }}
"#
    )
}

#[tokio::test]
async fn every_spelling_of_a_private_address_is_refused_before_connecting() {
    let target = Target::start().await;
    let server = TestServer::start(&app()).await;
    let port = target.port;
    let forms = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),         // decimal
        format!("http://0x7f000001:{port}/"),         // hex
        format!("http://0177.0.0.1:{port}/"),         // octal
        format!("http://127.1:{port}/"),              // short form
        format!("http://[::ffff:127.0.0.1]:{port}/"), // IPv4-mapped IPv6
        format!("http://[::ffff:7f00:1]:{port}/"),
        format!("http://[64:ff9b::7f00:1]:{port}/"), // NAT64
        format!("http://[::1]:{port}/"),
        format!("http://[::]:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://localhost:{port}/"), // a name that resolves to 127.0.0.1
        "http://169.254.169.254/latest/meta-data/".to_string(), // cloud metadata
    ];
    for route in ["/fetch", "/wasi-fetch"] {
        for url in &forms {
            let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
            let reply = server.get(&format!("{route}?url={encoded}")).await;
            assert_eq!(reply.status, 403, "{route} {url}: {reply:?}");
            // `http` names the reason; `wasi:http` answers with its standard error code.
            let reason = if route == "/fetch" {
                "private address"
            } else {
                "DestinationIpProhibited"
            };
            assert!(reply.body.contains(reason), "{route} {url}: {}", reply.body);
        }
    }
    assert_eq!(
        target.accepted.load(Ordering::SeqCst),
        0,
        "a refused request still connected"
    );
    // The host still serves, and the allow list is not the reason: the same grant with
    // `allowPrivate` would have reached the target (shown by tests/integration/outbound.rs).
    assert_eq!(
        server
            .get("/fetch?url=ftp%3A%2F%2F127.0.0.1%2F")
            .await
            .status,
        400
    );
}
