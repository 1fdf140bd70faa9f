//! `karman:runnable/file`: read-only access to the app's static files (the Directive's
//! `static:` directory, by default `static/` beside it).
//!
//! | grant in the Directive       | the component may read                              |
//! |------------------------------|-----------------------------------------------------|
//! | (none), `files: false`       | nothing: every call fails with `denied`             |
//! | `files: true`                | any file under the static directory                 |
//! | `files: { path: "img/" }`    | files under `img/` of the static directory only     |
//!
//! A name is a `/`-separated path relative to the static directory; `.` segments and repeated
//! slashes are ignored. How each name is answered:
//!
//! | name                                                   | answer      |
//! |--------------------------------------------------------|-------------|
//! | empty, absolute (`/x`), with a `..` segment, a `\` or a NUL | `invalid` |
//! | outside the granted sub-directory (by its segments)    | `denied`    |
//! | a symbolic link (anywhere on the path) leading out of the static directory or the granted sub-directory | `denied` |
//! | no such file                                           | `not-found` |
//! | a directory                                            | `invalid`   |
//! | larger than [`MAX_STATIC_FILE_BYTES`] or the component's memory limit | `invalid` |
//!
//! The file is resolved with `canonicalize` (every symbolic link followed) and the result must
//! lie under the canonical static directory and granted sub-directory. Its size is checked
//! before reading, and the read itself stops one byte past the cap, so a file that grows in
//! the meantime cannot make the host allocate more. Files are read on a blocking thread.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bindings::file::Host;
use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;

/// The largest static file a component may read, in bytes (a smaller memory limit of the
/// component lowers it).
pub const MAX_STATIC_FILE_BYTES: u64 = 16 << 20;

/// A component's granted access: the canonical static directory and the sub-directory its
/// grant confines it to.
#[derive(Clone, Debug)]
pub(crate) struct FileAccess {
    /// The canonical static directory, or `None` when the app has none (every name is then
    /// `not-found`).
    root: Option<Arc<Path>>,
    /// The granted sub-directory as segments (empty: the whole directory).
    sub: Arc<[String]>,
    /// The largest file this component may read.
    max_bytes: u64,
}

impl FileAccess {
    /// The access of a component granted `sub` (a normalized relative path, `""` for all) of
    /// the static directory `root` (canonical), with memory limit `memory`.
    pub(crate) fn new(root: Option<Arc<Path>>, sub: &str, memory: u64) -> Self {
        Self {
            root,
            sub: sub
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            max_bytes: MAX_STATIC_FILE_BYTES.min(memory),
        }
    }

    /// Checks `name` and resolves it to a file under the root and the granted sub-directory.
    fn resolve(&self, name: &str) -> Result<PathBuf, CapError> {
        let segments = segments(name)?;
        if !segments.starts_with(&self.sub) {
            return Err(CapError::Denied(format!(
                "file: `{name}` is outside `{}/`, the part of the static files this component \
                 is granted",
                self.sub.join("/")
            )));
        }
        let Some(root) = &self.root else {
            return Err(CapError::NotFound(format!(
                "file: `{name}`: the app has no static files"
            )));
        };
        let mut path = root.to_path_buf();
        path.extend(&segments);
        let canonical = match std::fs::canonicalize(&path) {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CapError::NotFound(format!("file: no static file `{name}`")));
            }
            Err(e) => return Err(CapError::Other(format!("file: `{name}`: {e}"))),
        };
        let mut allowed = root.to_path_buf();
        allowed.extend(self.sub.iter());
        if !canonical.starts_with(&allowed) {
            return Err(CapError::Denied(format!(
                "file: `{name}` is a link that leads out of the static files this component is \
                 granted"
            )));
        }
        Ok(canonical)
    }

    /// Reads the file `name`, within the size cap.
    fn read(&self, name: &str) -> Result<Vec<u8>, CapError> {
        let path = self.resolve(name)?;
        let file = std::fs::File::open(&path)
            .map_err(|e| CapError::Other(format!("file: cannot open `{name}`: {e}")))?;
        let metadata = file
            .metadata()
            .map_err(|e| CapError::Other(format!("file: `{name}`: {e}")))?;
        if metadata.is_dir() {
            return Err(CapError::Invalid(format!(
                "file: `{name}` is a directory, not a file"
            )));
        }
        let too_large = |size: u64| {
            CapError::Invalid(format!(
                "file: `{name}` ({size} bytes) is larger than the {} bytes a component may read",
                self.max_bytes
            ))
        };
        if metadata.len() > self.max_bytes {
            return Err(too_large(metadata.len()));
        }
        let capacity = usize::try_from(metadata.len()).unwrap_or(0);
        let mut contents = Vec::with_capacity(capacity);
        file.take(self.max_bytes + 1)
            .read_to_end(&mut contents)
            .map_err(|e| CapError::Other(format!("file: cannot read `{name}`: {e}")))?;
        if contents.len() as u64 > self.max_bytes {
            return Err(too_large(contents.len() as u64));
        }
        Ok(contents)
    }
}

/// The segments of a name, `.` and empty ones dropped; `invalid` for an empty or absolute name,
/// a `..` segment, a backslash or a NUL.
fn segments(name: &str) -> Result<Vec<String>, CapError> {
    let invalid = |why: &str| CapError::Invalid(format!("file: `{name}` {why}"));
    if name.is_empty() {
        return Err(CapError::Invalid("file: the name is empty".into()));
    }
    if name.starts_with('/') {
        return Err(invalid(
            "is absolute: name a file relative to the static directory",
        ));
    }
    if name.contains('\0') {
        return Err(invalid("contains a NUL character"));
    }
    if name.contains('\\') {
        return Err(invalid(
            "contains a backslash: separate directories with `/`",
        ));
    }
    let mut segments = Vec::new();
    for segment in name.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(invalid("has a `..` segment")),
            other => segments.push(other.to_string()),
        }
    }
    if segments.is_empty() {
        return Err(invalid("names the static directory itself, not a file"));
    }
    Ok(segments)
}

/// The `file` capability of one step: the access its grant gives, if any.
pub(crate) struct FileCtx {
    pub(crate) access: Option<FileAccess>,
}

impl Host for FileCtx {
    async fn get_static(&mut self, name: String) -> Result<Vec<u8>, CapFailure> {
        let access = self.access.clone().ok_or_else(|| {
            CapError::Denied("file: this component is not granted the `files` capability".into())
        })?;
        let read = tokio::task::spawn_blocking(move || access.read(&name))
            .await
            .map_err(|e| CapError::Other(format!("file: the read failed: {e}")))?;
        Ok(read?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A static directory with `a.txt`, `img/logo.png` and `secret/key`, and a sibling
    /// `outside.txt`; removed on drop.
    struct Fixture {
        dir: PathBuf,
        root: Arc<Path>,
    }

    impl Fixture {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "karman-file-{tag}-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            let root = dir.join("static");
            std::fs::create_dir_all(root.join("img")).unwrap();
            std::fs::create_dir_all(root.join("secret")).unwrap();
            std::fs::write(root.join("a.txt"), b"hello").unwrap();
            std::fs::write(root.join("img/logo.png"), b"png").unwrap();
            std::fs::write(root.join("secret/key"), b"k").unwrap();
            std::fs::write(dir.join("outside.txt"), b"outside").unwrap();
            let root: Arc<Path> = std::fs::canonicalize(&root).unwrap().into();
            Self { dir, root }
        }

        fn access(&self, sub: &str) -> FileAccess {
            FileAccess::new(Some(self.root.clone()), sub, 64 << 20)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn kind(result: Result<Vec<u8>, CapError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(CapError::Denied(_)) => "denied",
            Err(CapError::NotFound(_)) => "not-found",
            Err(CapError::Invalid(_)) => "invalid",
            Err(CapError::Unavailable(_)) => "unavailable",
            Err(CapError::Other(_)) => "other",
        }
    }

    #[test]
    fn reads_files_under_the_root_and_normalizes_dots_and_slashes() {
        let fixture = Fixture::new("read");
        let all = fixture.access("");
        assert_eq!(all.read("a.txt").unwrap(), b"hello");
        assert_eq!(all.read("./img//logo.png").unwrap(), b"png");
        assert_eq!(kind(all.read("missing.txt")), "not-found");
        assert_eq!(kind(all.read("img")), "invalid");
    }

    #[test]
    fn refuses_names_that_could_escape_the_root() {
        let fixture = Fixture::new("escape");
        let all = fixture.access("");
        for name in [
            "",
            ".",
            "/etc/passwd",
            "../outside.txt",
            "img/../../outside.txt",
            "img/../a.txt",
            "a.txt\0",
            "img\\logo.png",
        ] {
            assert_eq!(kind(all.read(name)), "invalid", "{name:?}");
        }
    }

    #[test]
    fn a_sub_path_grant_denies_everything_else() {
        let fixture = Fixture::new("sub");
        let img = fixture.access("img/");
        assert_eq!(img.read("img/logo.png").unwrap(), b"png");
        assert_eq!(kind(img.read("a.txt")), "denied");
        assert_eq!(kind(img.read("secret/key")), "denied");
        assert_eq!(kind(img.read("imgx/logo.png")), "denied");
        // Denied, not not-found: the grant is checked before the file system.
        assert_eq!(kind(img.read("secret/missing")), "denied");
        assert_eq!(kind(img.read("img/missing.png")), "not-found");
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_followed_only_inside_what_is_granted() {
        let fixture = Fixture::new("links");
        let root = fixture.root.to_path_buf();
        std::os::unix::fs::symlink(fixture.dir.join("outside.txt"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(&fixture.dir, root.join("up")).unwrap();
        std::os::unix::fs::symlink(root.join("secret/key"), root.join("img/key")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("alias")).unwrap();
        let all = fixture.access("");
        assert_eq!(kind(all.read("out")), "denied");
        assert_eq!(kind(all.read("up/outside.txt")), "denied");
        assert_eq!(all.read("alias").unwrap(), b"hello");
        assert_eq!(all.read("img/key").unwrap(), b"k");
        let img = fixture.access("img");
        assert_eq!(kind(img.read("img/key")), "denied");
    }

    #[test]
    fn files_over_the_cap_are_refused_before_they_are_read() {
        let fixture = Fixture::new("cap");
        std::fs::write(fixture.root.join("big"), vec![b'x'; 2048]).unwrap();
        let small = FileAccess::new(Some(fixture.root.clone()), "", 1024);
        assert_eq!(kind(small.read("big")), "invalid");
        assert_eq!(small.read("a.txt").unwrap(), b"hello");
        assert_eq!(
            FileAccess::new(None, "", 1 << 30).max_bytes,
            MAX_STATIC_FILE_BYTES
        );
    }

    #[test]
    fn without_a_static_directory_every_file_is_missing() {
        let none = FileAccess::new(None, "", 64 << 20);
        assert_eq!(kind(none.read("a.txt")), "not-found");
        assert_eq!(kind(none.read("../a.txt")), "invalid");
    }
}
