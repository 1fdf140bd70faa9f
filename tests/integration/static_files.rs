//! Static files: the `file` capability confined to the static directory (symbolic links
//! included), and the static mount (`static: { dir, mount }`): content types, ETags and
//! `if-none-match`, ranges, and no way out of the directory, even percent-encoded.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestServer, guest, unique};

/// A static directory in a temporary place: `index.html`, `app.js`, `data.bin` (0..=255),
/// `img/logo.png`, `.env`, a link `leak` to a file beside the directory and a link `alias` to
/// `app.js`; removed on drop.
struct StaticDir {
    dir: PathBuf,
    root: PathBuf,
}

impl StaticDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("karman_static"));
        let root = dir.join("public");
        std::fs::create_dir_all(root.join("img")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>front</h1>").unwrap();
        std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("data.bin"), (0..=255u8).collect::<Vec<u8>>()).unwrap();
        std::fs::write(root.join("img/logo.png"), b"\x89PNG").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(dir.join("outside.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.join("outside.txt"), root.join("leak")).unwrap();
        std::os::unix::fs::symlink(root.join("app.js"), root.join("alias.js")).unwrap();
        Self { dir, root }
    }

    fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for StaticDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn directive(root: &Path) -> String {
    format!(
        r#"
identifier: test.static
appVersion: v1
static: {{ dir: "{}", mount: /assets }}
components:
  - name: reader
    source: {}
    capabilities: {{ files: true }}
  - name: images
    source: {}
    capabilities: {{ files: {{ path: img }} }}
handlers:
  - {{ type: request, method: POST, resource: /read, steps: [ {{ fn: reader }} ] }}
  - {{ type: request, method: POST, resource: /images, steps: [ {{ fn: images }} ] }}
  - {{ type: request, method: GET, resource: /assets/app.js, steps: [ {{ fn: reader }} ] }}
"#,
        root.display(),
        guest("conformance_rust").display(),
        guest("conformance_rust").display(),
    )
}

/// The status line of a request sent byte for byte (HTTP clients normalize `..` and `%2e%2e`
/// away before sending).
async fn raw_status(server: &TestServer, target: &str) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await
    .expect("answered in time")
    .unwrap();
    let text = String::from_utf8_lossy(&response);
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_read_static_files_only_inside_their_grant() {
    let files = StaticDir::new();
    let server = TestServer::start(&directive(files.root())).await;
    let read = |path: &'static str| server.post(path, Vec::<u8>::new());

    let reply = read("/read?case=file&name=img/logo.png").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "file=\u{fffd}PNG")
    );
    let reply = read("/read?case=file&name=alias.js").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "file=console.log(1)"),
        "a link inside the directory is followed"
    );
    let reply = read("/read?case=file&name=leak").await;
    assert_eq!(
        reply.status, 403,
        "a link out of the directory: {}",
        reply.body
    );
    assert!(reply.body.contains("leads out of"), "{}", reply.body);
    let reply = read("/read?case=file&name=/etc/passwd").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = read("/read?case=file&name=img").await;
    assert_eq!(reply.status, 400, "a directory: {}", reply.body);

    let reply = read("/images?case=file&name=img/logo.png").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = read("/images?case=file&name=index.html").await;
    assert_eq!(reply.status, 403, "outside `img/`: {}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mount_serves_files_with_types_etags_and_ranges() {
    let files = StaticDir::new();
    let server = TestServer::start(&directive(files.root())).await;
    let client = &server.client;

    let page = client
        .get(server.url("/assets/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-length"], "14");
    assert_eq!(headers["accept-ranges"], "bytes");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "a strong ETag: {etag}"
    );
    assert_eq!(page.text().await.unwrap(), "<h1>front</h1>");

    let png = server.get("/assets/img/logo.png").await;
    assert_eq!(png.headers["content-type"], "image/png");

    // The same ETag again; 304 for it (and for its weak form), 200 once the file changes.
    let again = server.get("/assets/index.html").await;
    assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
    for validator in [
        etag.clone(),
        format!("W/{etag}"),
        "\"other\", *".to_string(),
    ] {
        let cached = client
            .get(server.url("/assets/index.html"))
            .header("if-none-match", &validator)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), 304, "if-none-match: {validator}");
        assert_eq!(cached.headers()["etag"].to_str().unwrap(), etag);
        // A 304 tells no length of its own (the host adds one only to answers with a body).
        assert_eq!(cached.headers().get("content-length"), None);
        assert!(cached.bytes().await.unwrap().is_empty());
    }
    std::fs::write(files.root().join("index.html"), "<h1>changed!</h1>").unwrap();
    let changed = client
        .get(server.url("/assets/index.html"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(changed.text().await.unwrap(), "<h1>changed!</h1>");

    // Ranges of data.bin (bytes 0..=255).
    let range = |spec: &'static str| {
        client
            .get(server.url("/assets/data.bin"))
            .header("range", spec)
            .send()
    };
    let part = range("bytes=10-13").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 10-13/256");
    assert_eq!(part.headers()["content-type"], "application/octet-stream");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &[10, 11, 12, 13]);
    let tail = range("bytes=-2").await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.headers()["content-range"], "bytes 254-255/256");
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &[254, 255]);
    let from = range("bytes=250-").await.unwrap();
    assert_eq!(from.bytes().await.unwrap().len(), 6);
    let past = range("bytes=256-300").await.unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */256");
    let several = range("bytes=0-1,5-6").await.unwrap();
    assert_eq!(several.status(), 200, "several ranges: the whole file");
    assert_eq!(several.bytes().await.unwrap().len(), 256);
    let stale = client
        .get(server.url("/assets/data.bin"))
        .header("range", "bytes=0-0")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200, "an if-range that is not current");

    let head = client
        .head(server.url("/assets/data.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "256");
    let post = client
        .post(server.url("/assets/data.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mount_never_leaves_its_directory_nor_lists_it() {
    let files = StaticDir::new();
    let server = TestServer::start(&directive(files.root())).await;

    for target in [
        "/assets/",
        "/assets",
        "/assets/img",
        "/assets/img/",
        "/assets/missing.txt",
        "/assets/.env",
        "/assets/leak",
        "/assets/../outside.txt",
        "/assets/img/../../outside.txt",
        "/assets/%2e%2e/outside.txt",
        "/assets/%2E%2E/outside.txt",
        "/assets/img/%2e%2e%2f%2e%2e%2foutside.txt",
        "/assets/..%2foutside.txt",
        "/assets/%2e%2e%5coutside.txt",
        "/assets/img%00/logo.png",
    ] {
        assert_eq!(
            raw_status(&server, target).await,
            "HTTP/1.1 404 Not Found",
            "{target}"
        );
    }
    assert_eq!(
        raw_status(&server, "/assets/img/logo.png").await,
        "HTTP/1.1 200 OK"
    );
    // A handler under the mount takes precedence over the file of the same name.
    let reply = server.get("/assets/app.js?case=echo").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    // Outside the mount, nothing is served from the directory.
    assert_eq!(server.get("/index.html").await.status, 404);
}
