//! `karman export`: a Directive app as one `wasi:http` component. Served with `karman serve
//! app.wasm -S keyvalue` (the real binary, as a user runs it) and with `wasmtime serve -S cli=y
//! -S keyvalue` (wasmtime-cli 48.0.8: live when it is installed, else the recording of what it
//! answered, as in [`crate::wasmtime_serve`]), every exchange is answered byte for byte as Karman
//! serving the Directive answers it, except the `date` header's value (the clock). Each request
//! carries an `x-request-id`, so all answer with the same id.
//!
//! Two apps: examples/hello (a group, `with:`, a `cache` grant with a prefix) and a flow of the
//! test components (`state:`, `onErr`, `as:`, `with:` renaming an error, `resp` setting the
//! status and headers, run errors ending the run, routing errors, a body over the cap).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Binary, expand, repo_root, scratch};
use crate::wasmtime_serve::wasmtime_reference;

/// An exchange: a name and the raw request (`HOST` is replaced by the server's address).
type Exchange = (&'static str, &'static str);

const HELLO: &[Exchange] = &[
    (
        "a greeting",
        "GET /hello/ada HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-1\r\n\r\n",
    ),
    (
        "the second visit is counted",
        "GET /hello/ada HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-2\r\n\r\n",
    ),
    (
        "a percent-encoded name",
        "GET /hello/J%C3%BCrgen HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-3\r\n\r\n",
    ),
    (
        "head",
        "HEAD /hello/grace HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-4\r\n\r\n",
    ),
    (
        "no handler",
        "GET /nowhere HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-5\r\n\r\n",
    ),
    (
        "another method",
        "DELETE /hello/ada HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-6\r\n\r\n",
    ),
    (
        "a body over the cap",
        "GET /hello/ada HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: t-7\r\nContent-Length: 10485761\r\n\r\n",
    ),
];

const FLOW_DIRECTIVE: &str = r#"identifier: com.example.flow
appVersion: v1
components:
  - { name: fail, source: guest(fail) }
  - { name: inspect, source: guest(inspect) }
  - { name: set-response, source: guest(set-response) }
handlers:
  - type: request
    method: POST
    resource: /flow/:name
    state: { seed: planted }
    steps:
      - fn: fail
        as: tried
        onErr: { code: { 404: continue }, other: return }
      - group:
          - fn: inspect
            as: first
          - fn: set-response
            as: second
      - fn: inspect
        with: { error: tried, before: first, seed: seed }
  - type: request
    method: GET
    resource: /fails
    steps:
      - fn: fail
"#;

const FLOW: &[Exchange] = &[
    (
        "onErr continues, a group, with renames the error",
        "POST /flow/ada?code=404&message=not%20here&q=1 HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: f-1\r\nX-Test: yes\r\nContent-Length: 5\r\n\r\nhello",
    ),
    (
        "resp sets the status and a header",
        "POST /flow/bob?code=404&status=201&header=x-custom&value=yes HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: f-2\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "a host-owned header is refused",
        "POST /flow/bob?code=404&header=x-request-id&value=mine HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: f-3\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "a run error onErr does not continue ends the run",
        "POST /flow/ada?code=409&message=taken HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: f-4\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "a run error's code outside 200..=599 answers 500",
        "GET /fails?code=700&message=odd HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: f-5\r\n\r\n",
    ),
    (
        "a request id that is not plain is replaced",
        "GET /nowhere HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: not plain\r\n\r\n",
    ),
];

/// Sends each exchange to `address` on a connection of its own; what came back, byte for byte
/// but the `date` header's value, a request id the server made, and `connection` (whether the
/// host keeps a connection open is the host's: `wasmtime serve` closes one whose request body
/// was left unread).
async fn observe(address: &str, exchanges: &[(&str, impl AsRef<str>)]) -> String {
    let mut out = String::new();
    for (name, request) in exchanges {
        let request = request.as_ref();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(request.replace("HOST", address).as_bytes())
            .await
            .unwrap();
        let answer =
            tokio::time::timeout(Duration::from_secs(20), read_answer(&mut stream, request))
                .await
                .unwrap_or_else(|_| panic!("`{name}`: no whole answer within 20 s"));
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        out.push_str(&format!("== {name}\n"));
        let mut made_id = None;
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("date:") {
                out.push_str("date: (the clock)\n");
            } else if lower.starts_with("connection:") {
                continue;
            } else if request.contains("X-Request-Id: not plain")
                && lower.starts_with("x-request-id:")
            {
                let id = line["x-request-id:".len()..].trim().to_string();
                assert!(
                    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                    "`{name}`: a request id the server made: {id}"
                );
                out.push_str("x-request-id: (made by the server)\n");
                made_id = Some(id);
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        let body = match made_id {
            Some(id) => body.replace(&id, "(made by the server)"),
            None => body.to_string(),
        };
        // An upstream's answer a Runnable prints carries the upstream's clock.
        let body = body
            .split('\n')
            .map(|line| match line.starts_with("date: ") {
                true => "date: (the upstream's clock)",
                false => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        out.push_str(&format!("\n{body}\n"));
    }
    out
}

/// One answer: its head, then as many bytes of body as its `content-length` says (none for
/// `HEAD`).
async fn read_answer(stream: &mut tokio::net::TcpStream, request: &str) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the connection closed before a whole answer");
        bytes.extend_from_slice(&chunk[..read]);
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let length = if request.starts_with("HEAD ") {
            0
        } else {
            length
        };
        if bytes.len() >= end + 4 + length {
            return String::from_utf8_lossy(&bytes[..end + 4 + length]).into_owned();
        }
    }
}

/// `karman export <directive> -o <out>`, which must succeed.
fn export(directive: &Path, out: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .arg("export")
        .arg(directive)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "karman export failed:\n{log}");
    log
}

/// What Karman serving `directive` answers, then what its export `exported` answers under
/// `karman serve app.wasm -S keyvalue` and under `wasmtime serve -S cli=y -S keyvalue`
/// (`recording` when wasmtime-cli is not installed).
async fn served(
    directive: &Path,
    exported: &Path,
    exchanges: &[(&str, impl AsRef<str>)],
    recording: &str,
    serve_options: &[&str],
) -> [String; 3] {
    let karman = Binary::serve_file(directive, "info", &[], &[]);
    let served = karman.url("").trim_start_matches("http://").to_string();
    let by_karman = observe(&served, exchanges).await;
    let options = [&["-S", "keyvalue"][..], serve_options].concat();
    let export = Binary::serve_file(exported, "info", &[], &options);
    let address = export.url("").trim_start_matches("http://").to_string();
    let by_karman_serve = observe(&address, exchanges).await;
    let by_wasmtime =
        wasmtime_reference(exported, &["-S", "keyvalue"], recording, async |address| {
            observe(address, exchanges).await
        })
        .await;
    [by_karman, by_karman_serve, by_wasmtime]
}

/// That the export answered under `karman serve` and under `wasmtime serve` as Karman did.
fn assert_alike(by_karman: &str, by_export: &str, by_wasmtime: &str) {
    assert_eq!(
        by_export, by_karman,
        "under karman serve (left), and Karman (right)"
    );
    assert_eq!(
        by_wasmtime, by_karman,
        "under wasmtime serve (left), and Karman (right)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_example_exported_answers_as_karman_serving_its_directive() {
    let dir = scratch("export-hello");
    let exported = dir.join("hello.wasm");
    let log = export(
        &repo_root().join("examples/hello/Directive.yaml"),
        &exported,
    );
    assert!(
        log.contains("exported com.example.hello v0.1.0 (1 request handlers, 4 components)"),
        "{log}"
    );
    let [by_karman, by_export, by_wasmtime] = served(
        &repo_root().join("examples/hello/Directive.yaml"),
        &exported,
        HELLO,
        "export-hello.txt",
        &[],
    )
    .await;
    assert!(
        by_karman.contains(r#"{"greeting":"Hello, ada!","visits":2,"#),
        "{by_karman}"
    );
    assert_eq!(
        by_export, by_karman,
        "under karman serve (left), and Karman (right)"
    );
    // `wasmtime serve -S keyvalue` makes its in-memory store anew for every request: the
    // count starts over (docs/export.md).
    let counted_anew = by_karman.replace(r#""visits":2,"#, r#""visits":1,"#);
    assert_eq!(
        by_wasmtime, counted_anew,
        "under wasmtime serve (left), and Karman (right)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_with_on_err_groups_and_with_exported_answers_as_karman_does() {
    let dir = scratch("export-flow");
    let directive = dir.join("Directive.yaml");
    std::fs::write(&directive, expand(FLOW_DIRECTIVE)).unwrap();
    let exported = dir.join("flow.wasm");
    export(&directive, &exported);
    let [by_karman, by_export, by_wasmtime] =
        served(&directive, &exported, FLOW, "export-flow.txt", &[]).await;
    assert!(by_karman.contains("HTTP/1.1 201 Created"), "{by_karman}");
    assert!(by_karman.contains("not here"), "{by_karman}");
    assert_alike(&by_karman, &by_export, &by_wasmtime);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An app whose components call out through `karman:runnable/http`, each under another grant.
const OUTBOUND_DIRECTIVE: &str = r#"identifier: com.example.outbound
appVersion: v1
components:
  - name: caller
    source: guest(http-user)
    capabilities: { http: { allow: ["UPSTREAM"], allowPrivate: true } }
  - name: guarded
    source: guest(http-user)
    capabilities: { http: { allow: ["UPSTREAM"] } }
  - name: ungranted
    source: guest(http-user)
handlers:
  - { type: request, method: GET, resource: /caller, steps: [ { fn: caller } ] }
  - { type: request, method: POST, resource: /caller, steps: [ { fn: caller } ] }
  - { type: request, method: GET, resource: /guarded, steps: [ { fn: guarded } ] }
  - { type: request, method: GET, resource: /ungranted, steps: [ { fn: ungranted } ] }
"#;

/// The exchanges with the outbound app: `(name, path, query after ?url=…, body)`; `UPSTREAM`
/// is the upstream's address.
const OUTBOUND: &[(&str, &str, &str, &str)] = &[
    (
        "a call on the allow list",
        "GET /caller",
        "http://UPSTREAM/hello",
        "",
    ),
    (
        "a post with a body",
        "POST /caller",
        "http://UPSTREAM/hello&method=POST",
        "ping",
    ),
    (
        "a redirect is followed",
        "GET /caller",
        "http://UPSTREAM/redirect?to=%2Fhello",
        "",
    ),
    (
        "a redirect off the allow list is refused",
        "GET /caller",
        "http://UPSTREAM/redirect?to=http%3A%2F%2Fexample.com%2F",
        "",
    ),
    (
        "a host off the allow list",
        "GET /caller",
        "http://example.com/",
        "",
    ),
    ("not an http URL", "GET /caller", "ftp://UPSTREAM/x", ""),
    ("not a URL", "GET /caller", "nowhere", ""),
    (
        "a response over the cap",
        "GET /caller",
        "http://UPSTREAM/big?bytes=10485761",
        "",
    ),
    (
        "a timeout the guest asked for",
        "GET /caller",
        "http://UPSTREAM/slow&timeout_ms=300",
        "",
    ),
    (
        "a private address without allowPrivate",
        "GET /guarded",
        "http://UPSTREAM/hello",
        "",
    ),
    (
        "no http grant",
        "GET /ungranted",
        "http://UPSTREAM/hello",
        "",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_calling_out_exported_keeps_its_grants_and_answers_as_karman_does() {
    let upstream = crate::upstream::Upstream::start().await;
    let address = format!("127.0.0.1:{}", upstream.port);
    let dir = scratch("export-outbound");
    let directive = dir.join("Directive.yaml");
    std::fs::write(
        &directive,
        expand(OUTBOUND_DIRECTIVE).replace("UPSTREAM", &address),
    )
    .unwrap();
    let exported = dir.join("outbound.wasm");
    let log = export(&directive, &exported);
    assert!(
        log.contains("component `guarded`: its allow list is enforced inside the export"),
        "{log}"
    );
    let exchanges: Vec<(&str, String)> = OUTBOUND
        .iter()
        .enumerate()
        .map(|(index, (name, target, url, body))| {
            // The URL goes in the query: `?` and `&` of its own are escaped, but the first `&`
            // of a row starts the next parameter.
            let (url, rest) = url.split_once('&').unwrap_or((url, ""));
            let url: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
            let rest = if rest.is_empty() { String::new() } else { format!("&{rest}") };
            let request = format!(
                "{target}?url={url}{rest} HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: o-{index}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len(),
            );
            (*name, request.replace("UPSTREAM", &address))
        })
        .collect();
    let allow = ["--allow-http", address.as_str(), "--allow-private-http"];
    let [by_karman, by_export, by_wasmtime] = served(
        &directive,
        &exported,
        &exchanges,
        "export-outbound.txt",
        &allow,
    )
    .await;
    for expected in [
        "HTTP/1.1 200 OK",
        "hello from upstream",
        "x-upstream: yes",
        "`example.com` is not on this component's allow list",
        "`127.0.0.1` is a private address (the grant needs `allowPrivate: true`)",
        "http: this component is not granted the http capability",
        "http: only http and https URLs can be called",
        "http: the response is larger than 10485760 bytes",
        "http: the request to `127.0.0.1` timed out",
    ] {
        assert!(by_karman.contains(expected), "{expected}: {by_karman}");
    }
    assert_alike(&by_karman, &by_export, &by_wasmtime);
    // `karman serve` checks the export's requests again: without `--allow-private-http` the
    // upstream's private address is refused whatever the grant inside says, and without
    // `--allow-http` every request is.
    for (options, refusal) in [
        (
            &["--allow-http", address.as_str()][..],
            "http: `127.0.0.1` resolves to a private address (the grant needs `allowPrivate: true`)",
        ),
        (
            &[][..],
            "http: the host serving the app refused the request to `127.0.0.1`",
        ),
    ] {
        let options = [&["-S", "keyvalue"][..], options].concat();
        let strict = Binary::serve_file(&exported, "info", &[], &options);
        let served = strict.url("").trim_start_matches("http://").to_string();
        let answer = observe(&served, &exchanges[..1]).await;
        assert!(
            answer.contains("HTTP/1.1 403 Forbidden"),
            "{options:?}: {answer}"
        );
        assert!(answer.contains(refusal), "{options:?}: {answer}");
    }
    // The upstream saw the same requests from Karman and from its export: each call on the
    // list, the redirects' second hops, with Karman's user agent and the body's length.
    let seen = upstream.seen();
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert!(posts.len() >= 2, "{seen:?}");
    for post in posts {
        assert_eq!(post.header("content-length"), Some("4"), "{post:?}");
        assert!(
            post.header("user-agent")
                .is_some_and(|agent| agent.starts_with("karman/")),
            "{post:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_an_export_cannot_serve_is_refused_naming_each_component_and_nothing_is_written() {
    let dir = scratch("export-refused");
    let out = dir.join("notes.wasm");
    let directive = repo_root().join("examples/notes/Directive.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_karman"))
        .arg("export")
        .arg(&directive)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{error}");
    assert!(error.contains("cannot be exported:"), "{error}");
    // Each component that imports `sql`, with its place in the Directive.
    for (component, line) in [("schema", 27), ("create-note", 31), ("get-note", 35)] {
        assert!(
            error.contains(&format!(
                "{}:{line}:5: component `{component}` imports `karman:runnable/sql@0.1.0`, which an exported app cannot serve: a database's address and credentials stay with a host",
                directive.display()
            )),
            "{component}: {error}"
        );
    }
    assert!(!out.exists(), "nothing is written");
    std::fs::remove_dir_all(&dir).unwrap();
}
