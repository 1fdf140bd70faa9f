//! `karman serve component.wasm` against `wasmtime serve` on the same component: the same
//! requests, byte-level HTTP/1.1 exchanges, the same observations (status, headers, body
//! framing, trailers). `components/http-echo` is plain `wasi:http`; `components/kv-portable`
//! also uses the standard `wasi:keyvalue` and `wasi:config`, served with the same `-S` options.
//!
//! `wasmtime serve` (wasmtime-cli 48.0.8) takes 18 minutes to build, so the test compares with
//! it live when it is installed (`$KARMAN_TOOLS/bin/wasmtime`, installed by `bench/http.sh`), and
//! otherwise with the recordings in `tests/fixtures/wasmtime-serve/` made from it. With
//! `KARMAN_BLESS=1` and wasmtime present, the recording is rewritten.
//!
//! Observations leave out what differs by design: `date` (the clock), `x-request-id` (Karman
//! adds one), the port in `authority`, and the bodies of error answers (wasmtime serve sends an
//! empty 500, Karman a JSON error); their status is compared.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Binary, PrivateService, free_port, guest, repo_root, tools_dir};

/// An exchange compared: a name, the raw request, and whether only the status counts.
type Exchange = (&'static str, &'static str, bool);

/// The exchanges compared on `http-echo`.
const EXCHANGES: &[Exchange] = &[
    (
        "get",
        "GET /hello HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "post with a body",
        "POST /echo HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-test\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello there",
        false,
    ),
    (
        "chunked request body",
        "POST /echo HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n there\r\n0\r\n\r\n",
        false,
    ),
    (
        "request as the component sees it",
        "GET /inspect?x=1&y=%20 HTTP/1.1\r\nHost: HOST\r\nX-Custom: yes\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "streamed body with trailers",
        "GET /stream?chunks=4 HTTP/1.1\r\nHost: HOST\r\nTE: trailers\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "streamed body, trailers not accepted",
        "GET /stream?chunks=2 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "status",
        "GET /status/418 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "head",
        "HEAD /hello HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "not found",
        "GET /nowhere HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "trap",
        "GET /trap HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        true,
    ),
    (
        "error code",
        "GET /error HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        true,
    ),
];

/// The exchanges compared on `kv-portable` (standard `wasi:keyvalue` and `wasi:config`, served
/// with `-S keyvalue -S config -S config-var=greeting=hi` by both): what answers the same on a
/// fresh server of either. A value kept from one request to the next, and the bucket name
/// `default`, differ by design (docs/standard-interfaces.md).
const STANDARD_EXCHANGES: &[Exchange] = &[
    (
        "keyvalue round trip in one request",
        "GET /kv/roundtrip?key=k&value=v HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "increment of an absent key",
        "GET /kv/incr?key=n&by=5 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "set",
        "GET /kv/set?key=kept&value=1 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "a bucket that does not exist",
        "GET /kv/open?name=elsewhere HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "every config value",
        "GET /config HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "one config value",
        "GET /config/get?key=greeting HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
    (
        "no host environment through config",
        "GET /config/get?key=HOME HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        false,
    ),
];

/// The `-S` options both servers get for `kv-portable`.
pub(crate) const STANDARD_OPTIONS: &[&str] = &[
    "-S",
    "keyvalue",
    "-S",
    "config",
    "-S",
    "config-var=greeting=hi",
];

/// Sends each exchange to `address` and describes what came back.
async fn observe(address: &str, exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for (name, request, status_only) in exchanges {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(request.replace("HOST", address).as_bytes())
            .await
            .unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("`{name}`: the server closes the connection"))
            .unwrap();
        let answer = String::from_utf8_lossy(&answer).replace(address, "HOST");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let mut lines = head.lines();
        let status = lines.next().unwrap_or_default();
        out.push_str(&format!("== {name}\n{status}\n"));
        if *status_only {
            continue;
        }
        let mut headers: Vec<String> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
            .filter(|(name, _)| name != "date" && name != "x-request-id")
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        headers.sort();
        for header in headers {
            out.push_str(&format!("{header}\n"));
        }
        out.push_str(&format!("body: {body:?}\n"));
    }
    out
}

/// `wasmtime serve` on a free port, stopped on drop.
struct WasmtimeServe(PrivateService);

impl WasmtimeServe {
    fn binary() -> PathBuf {
        tools_dir().join("bin/wasmtime")
    }

    fn start(component: &std::path::Path, options: &[&str]) -> Self {
        let port = free_port();
        let mut command = Command::new(Self::binary());
        command.args(["serve", "-S", "cli=y", "-O", "pooling-allocator=y"]);
        command.args(options).arg("--addr");
        command.arg(format!("127.0.0.1:{port}")).arg(component);
        Self(PrivateService::start("wasmtime serve", command, port))
    }
}

/// What `wasmtime serve` answers on `component` with `options`, as `observe` describes what the
/// server at an address answers: live when wasmtime-cli is installed (the recording must match
/// it; `KARMAN_BLESS=1` rewrites it), else the recording `tests/fixtures/wasmtime-serve/<recording>`.
pub(crate) async fn wasmtime_reference(
    component: &std::path::Path,
    options: &[&str],
    recording: &str,
    observe: impl AsyncFnOnce(&str) -> String,
) -> String {
    let recording = repo_root()
        .join("tests/fixtures/wasmtime-serve")
        .join(recording);
    if WasmtimeServe::binary().exists() {
        let wasmtime = WasmtimeServe::start(component, options);
        let seen = observe(&wasmtime.0.address).await;
        if std::env::var_os("KARMAN_BLESS").is_some() {
            std::fs::create_dir_all(recording.parent().unwrap()).unwrap();
            std::fs::write(&recording, &seen).unwrap();
        }
        let recorded = std::fs::read_to_string(&recording).unwrap_or_default();
        assert_eq!(
            recorded, seen,
            "the recording is out of date: rerun with KARMAN_BLESS=1 and review the diff"
        );
        seen
    } else {
        std::fs::read_to_string(&recording).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (record it with wasmtime-cli installed and KARMAN_BLESS=1)",
                recording.display()
            )
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karman_serves_a_wasi_http_component_as_wasmtime_serve_does() {
    let component = guest("http-echo");
    let karman = crate::routes::serve_component("http-echo", Duration::from_secs(5), 1 << 20).await;
    let karman_seen = observe(karman.base.trim_start_matches("http://"), EXCHANGES).await;
    let reference = wasmtime_reference(&component, &[], "http-echo.txt", async |address| {
        observe(address, EXCHANGES).await
    })
    .await;
    assert_eq!(
        karman_seen, reference,
        "karman serve differs from wasmtime serve (left: karman)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_on_standard_interfaces_answers_as_under_wasmtime_serve() {
    let component = guest("kv-portable");
    let karman = Binary::serve_file(&component, "info", &[], STANDARD_OPTIONS);
    let address = karman.url("").trim_start_matches("http://").to_string();
    let karman_seen = observe(&address, STANDARD_EXCHANGES).await;
    let reference = wasmtime_reference(
        &component,
        STANDARD_OPTIONS,
        "kv-portable.txt",
        async |address| observe(address, STANDARD_EXCHANGES).await,
    )
    .await;
    assert_eq!(
        karman_seen, reference,
        "karman serve differs from wasmtime serve (left: karman)"
    );
}
