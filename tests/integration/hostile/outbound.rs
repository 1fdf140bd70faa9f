//! Outbound calls that would expose a credential the host holds: plain `http` to anything but a
//! private address under `allowPrivate`, and methods whose answer echoes the request (`TRACE`,
//! `CONNECT`). Refused before any request, through `karman:runnable/http` and through
//! `wasi:http/outgoing-handler` alike, against an upstream on 127.0.0.1.

use crate::support::{Reply, TestServer};
use crate::upstream::Upstream;

const SECRET: &str = "hostile-outbound-secret";

/// Components calling the upstream on `port` by name (`localhost`) and by address, with and
/// without `allowPrivate`; both hosts have a credential.
fn app(port: u16) -> String {
    format!(
        r#"
identifier: test.hostile.outbound
appVersion: v1
components:
  - name: public-only
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["localhost:{port}"] }} }}
  - name: local
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["localhost:{port}", "127.0.0.1:{port}"], allowPrivate: true }} }}
  - name: wasi-public-only
    source: guest(wasi-http-user)
    capabilities: {{ http: {{ allow: ["localhost:{port}"] }} }}
  - name: wasi-local
    source: guest(wasi-http-user)
    capabilities: {{ http: {{ allow: ["localhost:{port}"], allowPrivate: true }} }}
  - name: wasi-method
    source: guest(wasi-http-method)
    capabilities: {{ http: {{ allow: ["localhost:{port}", "127.0.0.1:{port}"], allowPrivate: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /public-only, steps: [ {{ fn: public-only }} ] }}
  - {{ type: request, method: GET, resource: /local, steps: [ {{ fn: local }} ] }}
  - {{ type: request, method: GET, resource: /wasi-public-only, steps: [ {{ fn: wasi-public-only }} ] }}
  - {{ type: request, method: GET, resource: /wasi-local, steps: [ {{ fn: wasi-local }} ] }}
  - {{ type: request, method: GET, resource: /wasi-method, steps: [ {{ fn: wasi-method }} ] }}
authentication:
  domains:
    localhost: {{ headerType: bearer, value: "{SECRET}" }}
    127.0.0.1: {{ headerType: "header:X-Api-Key", value: "{SECRET}" }}
"#
    )
}

async fn fetch(server: &TestServer, route: &str, url: &str, extra: &str) -> Reply {
    let url: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
    server.get(&format!("/{route}?url={url}{extra}")).await
}

fn message(reply: &Reply) -> String {
    reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_credential_never_goes_over_plain_http_but_to_a_private_address() {
    let upstream = Upstream::start().await;
    let server = TestServer::start(&app(upstream.port)).await;
    let by_name = format!("http://localhost:{}/hello", upstream.port);

    // Without `allowPrivate` a plain-http request can only reach a public address: with a
    // credential for its host, it is refused before any request (not sent without it).
    let reply = fetch(&server, "public-only", &by_name, "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("the credential for `localhost` is sent over https only"),
        "{reply:?}"
    );
    let reply = fetch(&server, "wasi-public-only", &by_name, "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(message(&reply), "ErrorCode::HttpRequestDenied");
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());

    // Under `allowPrivate`, a name that resolves to a private address gets its credential over
    // plain http (a service on the local network).
    for route in ["local", "wasi-local"] {
        let reply = fetch(&server, route, &by_name, "").await;
        assert_eq!(reply.status, 200, "{route}: {reply:?}");
        assert!(!reply.body.contains(SECRET), "{}", reply.body);
    }
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let bearer = format!("Bearer {SECRET}");
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(bearer.as_str())),
        "{seen:?}"
    );
}

#[tokio::test]
async fn trace_and_connect_never_carry_a_credential() {
    let upstream = Upstream::start().await;
    let server = TestServer::start(&app(upstream.port)).await;
    for (url, host) in [
        (upstream.url("/hello"), "127.0.0.1"),
        (
            format!("http://localhost:{}/hello", upstream.port),
            "localhost",
        ),
    ] {
        for method in ["TRACE", "CONNECT", "track"] {
            let reply = fetch(&server, "local", &url, &format!("&method={method}")).await;
            assert_eq!(reply.status, 403, "{method} {url}: {reply:?}");
            let upper = method.to_ascii_uppercase();
            assert!(
                message(&reply).contains(&format!(
                    "`{upper}` is refused for `{host}`: the request carries a credential"
                )),
                "{reply:?}"
            );
        }
    }
    // The same through wasi:http.
    for method in ["TRACE", "CONNECT"] {
        let reply = fetch(
            &server,
            "wasi-method",
            &upstream.url("/hello"),
            &format!("&method={method}"),
        )
        .await;
        assert_eq!(reply.status, 403, "{method}: {reply:?}");
        assert_eq!(message(&reply), "ErrorCode::HttpRequestDenied");
    }
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());

    // Other methods go, with the credential.
    let reply = fetch(&server, "local", &upstream.url("/hello"), "&method=DELETE").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = fetch(
        &server,
        "wasi-method",
        &upstream.url("/hello"),
        "&method=DELETE",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        assert_eq!(request.method, "DELETE");
        assert_eq!(request.header("x-api-key"), Some(SECRET));
    }
}
