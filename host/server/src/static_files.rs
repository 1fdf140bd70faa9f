//! The static mount (`static: { dir, mount }`): the app's static files served over HTTP at a
//! URL prefix, for the HTML, JavaScript and images of the app's own front end.
//!
//! Request handlers take precedence: a path under the mount that a handler serves goes to the
//! handler. For the rest, under the mount:
//!
//! | request | answer |
//! |---------|--------|
//! | `GET`/`HEAD` of a file | 200, its bytes, `content-type` by extension, `content-length`, a strong `etag` (SHA-256 of the contents), `accept-ranges: bytes`, `cache-control: no-cache` |
//! | `if-none-match` listing its ETag (or `*`) | 304, no body |
//! | `range: bytes=a-b`, `bytes=a-`, `bytes=-n` (one range) | 206 with `content-range` (a range past the end is cut to the file) |
//! | a range starting past the end | 416 with `content-range: bytes */<size>` |
//! | several ranges, a malformed `range`, or an `if-range` that is not the current ETag | 200, the whole file |
//! | a directory, a missing file, a name with a `.`-leading segment (`..`, `.git`, also percent-encoded), `%2F`, a backslash or NUL, a symbolic link leading out of the directory | 404 |
//! | another method | 405 with `allow: GET, HEAD` |
//!
//! There is no directory listing. Files are streamed from disk in chunks of
//! [`CHUNK_BYTES`] on blocking threads, so a large file takes no more memory than a chunk per
//! response. ETags are computed on the first request of a file and remembered while its size
//! and modification time stay the same (at most [`MAX_REMEMBERED_ETAGS`] files).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    HeaderMap, HeaderValue, IF_NONE_MATCH, IF_RANGE, RANGE,
};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use karman_runtime::{HttpBody, HttpBodyError};
use sha2::{Digest, Sha256};

use crate::responses::{error, full};

/// Bytes read from disk at a time while a file is sent.
pub const CHUNK_BYTES: usize = 64 << 10;
/// Files whose ETag is remembered at most (beyond, the memory is cleared and refilled).
pub const MAX_REMEMBERED_ETAGS: usize = 4096;

/// A file's ETag, with the size and modification time it was computed for.
type KnownEtag = (u64, Option<SystemTime>, Arc<str>);

/// The static files of an app, served at a prefix.
pub(crate) struct StaticFiles {
    /// `/` or `/assets` (no trailing slash).
    prefix: String,
    /// The canonical directory.
    root: PathBuf,
    /// ETags by canonical path, with the size and modification time they were computed for.
    etags: Mutex<HashMap<PathBuf, KnownEtag>>,
}

/// A file found under the root, ready to send.
struct Found {
    path: PathBuf,
    len: u64,
    etag: Arc<str>,
}

impl StaticFiles {
    /// The mount of an app that declares one.
    pub(crate) fn for_app(app: &karman_directive::App) -> Option<Self> {
        let mount = app.static_mount.as_ref()?;
        let dir = app.static_dir.as_ref()?;
        let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        Some(Self {
            prefix: mount.prefix.clone(),
            root,
            etags: Mutex::new(HashMap::new()),
        })
    }

    /// The part of `path` under the mount (without its leading `/`), when it is under it.
    pub(crate) fn under<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.prefix == "/" {
            return path.strip_prefix('/');
        }
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_prefix('/')
    }

    /// Answers a request for `rest` (the path under the mount, still percent-encoded).
    pub(crate) async fn serve(
        self: &Arc<Self>,
        method: &Method,
        headers: &HeaderMap,
        rest: &str,
        request_id: &str,
    ) -> Response<HttpBody> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                405,
                "static files answer GET and HEAD only",
                request_id,
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let not_found = || error(StatusCode::NOT_FOUND, 404, "no such file", request_id);
        let Some(segments) = segments(rest) else {
            return not_found();
        };
        let this = self.clone();
        let found = tokio::task::spawn_blocking(move || this.find(&segments)).await;
        let Ok(Some(found)) = found else {
            return not_found();
        };
        self.respond(method, headers, found)
    }

    /// The file at `segments` under the root, with its ETag: `None` when it is missing, not a
    /// regular file, or outside the root once links are followed.
    fn find(&self, segments: &[String]) -> Option<Found> {
        let mut path = self.root.clone();
        path.extend(segments);
        let path = std::fs::canonicalize(&path).ok()?;
        if !path.starts_with(&self.root) {
            return None;
        }
        let metadata = std::fs::metadata(&path).ok()?;
        if !metadata.is_file() {
            return None;
        }
        let len = metadata.len();
        let modified = metadata.modified().ok();
        let remembered = self
            .etags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&path)
            .filter(|(l, m, _)| *l == len && *m == modified)
            .map(|(_, _, etag)| etag.clone());
        let etag = match remembered {
            Some(etag) => etag,
            None => {
                let etag: Arc<str> = hash_file(&path)?.into();
                let mut etags = self.etags.lock().unwrap_or_else(|e| e.into_inner());
                if etags.len() >= MAX_REMEMBERED_ETAGS {
                    etags.clear();
                }
                etags.insert(path.clone(), (len, modified, etag.clone()));
                etag
            }
        };
        Some(Found { path, len, etag })
    }

    /// 200, 206, 304 or 416 for a found file.
    fn respond(&self, method: &Method, headers: &HeaderMap, found: Found) -> Response<HttpBody> {
        let etag = HeaderValue::from_str(&found.etag).expect("hex in quotes");
        let mut response = Response::new(full(Bytes::new()));
        response.headers_mut().insert(ETAG, etag);
        response
            .headers_mut()
            .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Some(value) = headers.get(IF_NONE_MATCH)
            && none_match_hits(value, &found.etag)
        {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(content_type(&found.path)),
        );
        response.headers_mut().insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let range_applies = headers
            .get(IF_RANGE)
            .is_none_or(|value| value.as_bytes() == found.etag.as_bytes());
        let range = match headers.get(RANGE) {
            Some(value) if range_applies => parse_range(value, found.len),
            _ => RangeRequest::Whole,
        };
        let (start, length) = match range {
            RangeRequest::Whole => (0, found.len),
            RangeRequest::Part { start, end } => {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                let content_range = format!("bytes {start}-{end}/{}", found.len);
                response.headers_mut().insert(
                    CONTENT_RANGE,
                    HeaderValue::from_str(&content_range).expect("digits"),
                );
                (start, end - start + 1)
            }
            RangeRequest::Unsatisfiable => {
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let content_range = format!("bytes */{}", found.len);
                response.headers_mut().insert(
                    CONTENT_RANGE,
                    HeaderValue::from_str(&content_range).expect("digits"),
                );
                response
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(0u64));
                return response;
            }
        };
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
        if method == Method::GET && length > 0 {
            *response.body_mut() = file_body(found.path, start, length);
        }
        response
    }
}

/// The decoded segments of a path under the mount; `None` (404) for an empty path or segment
/// (a directory), a segment starting with `.`, or one holding `/`, `\` or NUL once decoded.
fn segments(rest: &str) -> Option<Vec<String>> {
    if rest.is_empty() {
        return None;
    }
    rest.split('/')
        .map(|raw| {
            let decoded = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()?;
            let plain = !decoded.is_empty()
                && !decoded.starts_with('.')
                && !decoded.contains(['/', '\\', '\0']);
            plain.then(|| decoded.into_owned())
        })
        .collect()
}

/// `"<hex of the first 16 bytes of the SHA-256 of the file>"`, a strong ETag.
fn hash_file(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("\"{hex}\""))
}

/// Whether an `if-none-match` value names `etag` (weak comparison) or is `*`.
fn none_match_hits(value: &HeaderValue, etag: &str) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    text.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// What a `range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// The whole file (no range, a malformed one, or several).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that starts past the end of the file.
    Unsatisfiable,
}

fn parse_range(value: &HeaderValue, len: u64) -> RangeRequest {
    let Some(spec) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => RangeRequest::Whole,
        },
        (start, "") => match number(start) {
            Some(start) if start >= len => RangeRequest::Unsatisfiable,
            Some(start) => RangeRequest::Part {
                start,
                end: len - 1,
            },
            None => RangeRequest::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(start), Some(end)) if start > end => RangeRequest::Whole,
            (Some(start), Some(_)) if start >= len => RangeRequest::Unsatisfiable,
            (Some(start), Some(end)) => RangeRequest::Part {
                start,
                end: end.min(len - 1),
            },
            _ => RangeRequest::Whole,
        },
    }
}

/// `length` bytes of the file at `path` from `start`, read in chunks on blocking threads.
fn file_body(path: PathBuf, start: u64, length: u64) -> HttpBody {
    let state = (Arc::new(path), start, length);
    let stream = futures_util::stream::unfold(state, |(path, offset, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let want = usize::try_from(remaining.min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
        let file = path.clone();
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut handle = std::fs::File::open(&*file)?;
            handle.seek(SeekFrom::Start(offset))?;
            let mut chunk = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                match handle.read(&mut chunk[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            chunk.truncate(filled);
            Ok(chunk)
        })
        .await;
        let chunk = match read {
            Ok(Ok(chunk)) if !chunk.is_empty() => chunk,
            Ok(Ok(_)) => {
                let error = HttpBodyError("the file became shorter while it was sent".into());
                return Some((Err(error), (path, offset, 0)));
            }
            Ok(Err(e)) => {
                let error = HttpBodyError(format!("cannot read the file: {e}"));
                return Some((Err(error), (path, offset, 0)));
            }
            Err(e) => {
                let error = HttpBodyError(format!("cannot read the file: {e}"));
                return Some((Err(error), (path, offset, 0)));
            }
        };
        let n = chunk.len() as u64;
        Some((
            Ok(Frame::data(Bytes::from(chunk))),
            (path, offset + n, remaining - n),
        ))
    });
    StreamBody::new(stream).boxed_unsync()
}

/// The content type of a file, by its extension (`application/octet-stream` when unknown).
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str, len: u64) -> RangeRequest {
        parse_range(&HeaderValue::from_str(text).unwrap(), len)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        use RangeRequest::*;
        assert_eq!(range("bytes=0-3", 10), Part { start: 0, end: 3 });
        assert_eq!(range("bytes=4-", 10), Part { start: 4, end: 9 });
        assert_eq!(range("bytes=-3", 10), Part { start: 7, end: 9 });
        assert_eq!(range("bytes=-30", 10), Part { start: 0, end: 9 });
        assert_eq!(range("bytes=5-100", 10), Part { start: 5, end: 9 });
        assert_eq!(range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(range("bytes=10-12", 10), Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(range("bytes=0-1,4-5", 10), Whole);
        assert_eq!(range("bytes=5-2", 10), Whole);
        assert_eq!(range("bytes=a-b", 10), Whole);
        assert_eq!(range("items=0-1", 10), Whole);
        assert_eq!(range("bytes=+1-2", 10), Whole);
    }

    #[test]
    fn paths_with_dot_segments_or_encoded_separators_are_refused() {
        assert_eq!(
            segments("css/site%20a.css"),
            Some(vec!["css".to_string(), "site a.css".to_string()])
        );
        for bad in [
            "",
            "a/",
            "a//b",
            "..",
            "../x",
            "%2e%2e/x",
            "%2E%2E",
            "a/%2e%2e/b",
            ".env",
            "a/.git/config",
            "a%2fb",
            "a%5cb",
            "a%00",
            "%ff",
        ] {
            assert_eq!(segments(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_a_star() {
        let etag = "\"abc\"";
        let hits = |value: &str| none_match_hits(&HeaderValue::from_str(value).unwrap(), etag);
        assert!(hits("\"abc\""));
        assert!(hits("W/\"abc\""));
        assert!(hits("\"x\", \"abc\""));
        assert!(hits("*"));
        assert!(!hits("\"abd\""));
    }

    #[test]
    fn the_mount_prefix_matches_whole_segments() {
        let files = StaticFiles {
            prefix: "/assets".into(),
            root: PathBuf::from("/nonexistent"),
            etags: Mutex::new(HashMap::new()),
        };
        assert_eq!(files.under("/assets/app.js"), Some("app.js"));
        assert_eq!(files.under("/assets"), Some(""));
        assert_eq!(files.under("/assetsx/app.js"), None);
        assert_eq!(files.under("/other"), None);
        let root = StaticFiles {
            prefix: "/".into(),
            ..files
        };
        assert_eq!(root.under("/index.html"), Some("index.html"));
    }
}
