//! The `http` and `graphql` capabilities against an upstream on 127.0.0.1: allow lists, the
//! private-address check (after DNS resolution, at every redirect), credentials the host adds
//! and the component never sees, and the bounds on time and size.

use crate::support::{Reply, TestServer};
use crate::upstream::Upstream;

/// The secret of the test credential: it must reach the upstream and nothing else.
const SECRET: &str = "s3cr3t-token-never-shown";

/// An app whose components call the upstream on `port`, each under another grant.
fn app(port: u16) -> String {
    format!(
        r#"
identifier: test.outbound
appVersion: v1
components:
  - name: trusted
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }}
  - name: two-hosts
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["127.0.0.1:{port}", "localhost:{port}"], allowPrivate: true }} }}
  - name: public-only
    source: guest(http-user)
    capabilities: {{ http: {{ allow: ["localhost", "127.0.0.1"] }} }}
  - name: empty-list
    source: guest(http-user)
    capabilities: {{ http: {{ allow: [] }} }}
  - name: no-grant
    source: guest(http-user)
  - name: wasi-trusted
    source: guest(wasi-http-user)
    capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }}
  - name: wasi-public-only
    source: guest(wasi-http-user)
    capabilities: {{ http: {{ allow: ["localhost", "127.0.0.1"] }} }}
  - name: wasi-no-grant
    source: guest(wasi-http-user)
  - name: gql
    source: guest(graphql-user)
    capabilities: {{ graphql: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }}
  - name: gql-public-only
    source: guest(graphql-user)
    capabilities: {{ graphql: {{ allow: ["127.0.0.1"] }} }}
  - name: gql-no-grant
    source: guest(graphql-user)
    capabilities: {{ http: {{ allow: ["127.0.0.1:{port}"], allowPrivate: true }} }}
handlers:
  - {{ type: request, method: GET, resource: /trusted, steps: [ {{ fn: trusted }} ] }}
  - {{ type: request, method: GET, resource: /two-hosts, steps: [ {{ fn: two-hosts }} ] }}
  - {{ type: request, method: GET, resource: /public-only, steps: [ {{ fn: public-only }} ] }}
  - {{ type: request, method: GET, resource: /empty-list, steps: [ {{ fn: empty-list }} ] }}
  - {{ type: request, method: GET, resource: /no-grant, steps: [ {{ fn: no-grant }} ] }}
  - {{ type: request, method: GET, resource: /wasi-trusted, steps: [ {{ fn: wasi-trusted }} ] }}
  - {{ type: request, method: GET, resource: /wasi-public-only, steps: [ {{ fn: wasi-public-only }} ] }}
  - {{ type: request, method: GET, resource: /wasi-no-grant, steps: [ {{ fn: wasi-no-grant }} ] }}
  - {{ type: request, method: POST, resource: /gql, steps: [ {{ fn: gql }} ] }}
  - {{ type: request, method: POST, resource: /gql-public-only, steps: [ {{ fn: gql-public-only }} ] }}
  - {{ type: request, method: POST, resource: /gql-no-grant, steps: [ {{ fn: gql-no-grant }} ] }}
authentication:
  domains:
    127.0.0.1: {{ headerType: bearer, value: "{SECRET}" }}
"#
    )
}

struct Fixture {
    upstream: Upstream,
    server: TestServer,
}

impl Fixture {
    async fn start() -> Self {
        let upstream = Upstream::start().await;
        let server = TestServer::start(&app(upstream.port)).await;
        Self { upstream, server }
    }

    /// Asks the component behind `/<route>` to fetch `url` (plus extra query parameters).
    async fn fetch(&self, route: &str, url: &str, extra: &str) -> Reply {
        let url: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
        self.server.get(&format!("/{route}?url={url}{extra}")).await
    }

    /// Runs a GraphQL query through the component behind `/<route>`.
    async fn graphql(&self, route: &str, endpoint: &str, query: &str, variables: &str) -> Reply {
        let endpoint: String = form_urlencoded::byte_serialize(endpoint.as_bytes()).collect();
        let variables: String = form_urlencoded::byte_serialize(variables.as_bytes()).collect();
        self.server
            .post(
                &format!("/{route}?endpoint={endpoint}&variables={variables}"),
                query.to_string(),
            )
            .await
    }
}

/// The message of an error reply.
fn message(reply: &Reply) -> String {
    reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_credential_reaches_the_upstream_but_never_the_component() {
    let f = Fixture::start().await;
    // The guest tries to set its own Authorization header: the host's credential replaces it.
    let reply = f
        .fetch(
            "trusted",
            &f.upstream.url("/hello"),
            "&auth=Bearer%20forged",
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("200\n"), "{}", reply.body);
    assert!(reply.body.contains("x-upstream: yes"), "{}", reply.body);
    assert!(
        reply.body.ends_with("\n\nhello from upstream"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(SECRET), "{}", reply.body);
    assert!(
        !reply.headers.iter().any(|(_, v)| v
            .as_bytes()
            .windows(SECRET.len())
            .any(|w| w == SECRET.as_bytes())),
        "{reply:?}"
    );
    let seen = f.upstream.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert!(seen[0].headers.iter().all(|(_, v)| !v.contains("forged")));
}

#[tokio::test]
async fn hosts_not_on_the_allow_list_are_denied_before_any_request() {
    let f = Fixture::start().await;
    let other = Upstream::start().await;

    let reply = f.fetch("trusted", &other.url("/hello"), "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("`127.0.0.1` is not on this component's allow list"),
        "{reply:?}"
    );

    let reply = f.fetch("empty-list", &f.upstream.url("/hello"), "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("not on this component's allow list"),
        "{reply:?}"
    );

    let reply = f.fetch("no-grant", &f.upstream.url("/hello"), "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("not granted the http capability"),
        "{reply:?}"
    );

    let reply = f.fetch("trusted", "file:///etc/passwd", "").await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(message(&reply).contains("only http and https"), "{reply:?}");

    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert!(f.upstream.seen().is_empty(), "{:?}", f.upstream.seen());
}

#[tokio::test]
async fn private_addresses_are_refused_without_allow_private() {
    let f = Fixture::start().await;
    // A name that resolves to loopback: refused after resolution.
    let by_name = format!("http://localhost:{}/hello", f.upstream.port);
    let reply = f.fetch("public-only", &by_name, "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("`localhost` resolves to a private address"),
        "{reply:?}"
    );
    // An address literal.
    let reply = f.fetch("public-only", &f.upstream.url("/hello"), "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("`127.0.0.1` is a private address"),
        "{reply:?}"
    );
    assert!(f.upstream.seen().is_empty(), "{:?}", f.upstream.seen());

    // The same name with `allowPrivate`.
    let reply = f.fetch("two-hosts", &by_name, "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(f.upstream.seen().len(), 1);
}

#[tokio::test]
async fn every_redirect_is_checked_and_credentials_stay_with_their_host() {
    let f = Fixture::start().await;
    let elsewhere = format!("http://localhost:{}/hello", f.upstream.port);
    let to = |url: &str| {
        let url: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
        f.upstream.url(&format!("/redirect?to={url}"))
    };

    // A redirect on the same host is followed, with the credential.
    let reply = f.fetch("trusted", &to("/hello"), "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.ends_with("hello from upstream"),
        "{}",
        reply.body
    );
    let seen = f.upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].path.starts_with("/redirect?to="), "{seen:?}");
    assert_eq!(seen[1].path, "/hello");
    assert!(seen.iter().all(|s| s.header("authorization").is_some()));

    // A redirect to a host the grant does not list is refused, and not requested.
    let reply = f.fetch("trusted", &to(&elsewhere), "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("`localhost` is not on this component's allow list"),
        "{reply:?}"
    );
    assert_eq!(f.upstream.seen().len(), 3);

    // A redirect to another allowed host is followed, without the first host's credential.
    let reply = f.fetch("two-hosts", &to(&elsewhere), "").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let seen = f.upstream.seen();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[3].header("authorization").is_some(), "{seen:?}");
    assert_eq!(seen[4].header("authorization"), None, "{seen:?}");
    assert_eq!(
        seen[4].header("host"),
        Some(format!("localhost:{}", f.upstream.port).as_str())
    );

    // A redirect loop ends at the limit.
    let loop_url = f
        .upstream
        .url("/redirect?to=%2Fredirect%3Fto%3D%252Fredirect");
    let reply = f.fetch("trusted", &loop_url, "").await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert!(
        message(&reply).contains("more than 5 redirects"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn oversize_responses_and_slow_upstreams_end_with_errors() {
    let f = Fixture::start().await;
    let over = 10 * 1024 * 1024 + 1;
    for chunked in ["", "&chunked=1"] {
        let url = f.upstream.url(&format!("/big?bytes={over}{chunked}"));
        let reply = f.fetch("trusted", &url, "").await;
        assert_eq!(reply.status, 500, "{chunked}: {}", reply.status);
        assert!(
            message(&reply).contains("the response is larger than 10485760 bytes"),
            "{chunked}: {}",
            message(&reply)
        );
    }
    // Just under the cap is fine.
    let url = f
        .upstream
        .url(&format!("/big?bytes={}&chunked=1", over - 1));
    let reply = f.fetch("trusted", &url, "").await;
    assert_eq!(reply.status, 200, "{}", reply.status);

    let reply = f
        .fetch("trusted", &f.upstream.url("/slow"), "&timeout_ms=300")
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(message(&reply).contains("timed out"), "{reply:?}");
}

#[tokio::test]
async fn graphql_returns_data_and_server_errors_under_its_own_grant() {
    let f = Fixture::start().await;
    let endpoint = f.upstream.url("/graphql");
    let query = "query($name: String) { greeting(name: $name) }";

    let reply = f
        .graphql("gql", &endpoint, query, r#"{"name": "Ada"}"#)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), serde_json::json!({"greeting": "hello Ada"}));
    let seen = f.upstream.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );

    let reply = f.graphql("gql", &endpoint, "{ boom }", "").await;
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(message(&reply), "boom happened; and again");

    let reply = f.graphql("gql", &endpoint, query, "{not json").await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        message(&reply).contains("the variables are not JSON"),
        "{reply:?}"
    );

    // An `http` grant is not a `graphql` grant.
    let reply = f.graphql("gql-no-grant", &endpoint, query, "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        message(&reply).contains("not granted the graphql capability"),
        "{reply:?}"
    );
    // The same private-address rule.
    let reply = f.graphql("gql-public-only", &endpoint, query, "").await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(message(&reply).contains("private address"), "{reply:?}");
    assert_eq!(f.upstream.seen().len(), 2);
}

#[tokio::test]
async fn wasi_http_outgoing_requests_follow_the_same_policy() {
    let f = Fixture::start().await;

    // Allowed: the credential replaces the guest's own header and stays invisible.
    let reply = f
        .fetch(
            "wasi-trusted",
            &f.upstream.url("/hello"),
            "&auth=Bearer%20forged",
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("200\n"), "{}", reply.body);
    assert!(reply.body.contains("x-upstream: yes"), "{}", reply.body);
    assert!(
        reply.body.ends_with("\n\nhello from upstream"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(SECRET), "{}", reply.body);
    let seen = f.upstream.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );

    // wasi:http does not follow redirects: the guest sees the 302 (and a request to the new
    // location would be checked again).
    let reply = f
        .fetch("wasi-trusted", &f.upstream.url("/redirect?to=/hello"), "")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("302\n"), "{}", reply.body);
    assert!(reply.body.contains("location: /hello"), "{}", reply.body);
    assert_eq!(f.upstream.seen().len(), 2);

    // Refused before any request: not granted, not listed, private by address or by name.
    let other = Upstream::start().await;
    let by_name = format!("http://localhost:{}/hello", f.upstream.port);
    for (route, url, code) in [
        (
            "wasi-no-grant",
            f.upstream.url("/hello"),
            "HttpRequestDenied",
        ),
        ("wasi-trusted", other.url("/hello"), "HttpRequestDenied"),
        (
            "wasi-public-only",
            f.upstream.url("/hello"),
            "DestinationIpProhibited",
        ),
        ("wasi-public-only", by_name, "DestinationIpProhibited"),
    ] {
        let reply = f.fetch(route, &url, "").await;
        assert_eq!(reply.status, 403, "{route} {url}: {reply:?}");
        assert_eq!(
            message(&reply),
            format!("ErrorCode::{code}"),
            "{route} {url}"
        );
    }
    assert_eq!(f.upstream.seen().len(), 2);
    assert!(other.seen().is_empty());
}
