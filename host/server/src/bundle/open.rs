//! Opening a bundle: unpacking it into a private directory while checking every entry against
//! the manifest and the limits, then reading the Directive it holds.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component as PathPart, Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, bail};
use karman_directive::{App, ParseOptions};
use sha2::{Digest, Sha256};

use super::{FORMAT, FileEntry, Limits, MANIFEST, MAX_MANIFEST_BYTES, Manifest, hex};

/// An opened bundle: checked, unpacked into a private directory (removed when this is
/// dropped), its Directive loaded.
#[derive(Debug)]
pub struct Opened {
    /// The manifest.
    pub manifest: Manifest,
    /// The app of its Directive, with every path inside [`Opened::dir`].
    pub app: App,
    /// The SHA-256 of the bundle file.
    pub sha256: String,
    dir: PrivateDir,
}

impl Opened {
    /// The directory the bundle was unpacked into.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

/// A directory removed when dropped.
#[derive(Debug)]
struct PrivateDir(PathBuf);

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks and unpacks the bundle at `path` within `limits`, then loads its Directive. Every
/// problem is an error that names the bundle and the entry.
pub fn open(path: &Path, limits: Limits) -> anyhow::Result<Opened> {
    let name = path.display().to_string();
    let dir = private_dir()?;
    let (manifest, sha256) =
        unpack(path, &dir.0, limits).with_context(|| format!("refusing the bundle `{name}`"))?;
    let directive = dir.0.join(&manifest.directive);
    let text = std::fs::read_to_string(&directive)
        .with_context(|| format!("refusing the bundle `{name}`: cannot read its Directive"))?;
    let options = ParseOptions::new(format!("{name}!{}", manifest.directive), dir.0.clone());
    let app = karman_directive::parse(&text, &options)
        .map_err(|error| anyhow::anyhow!("invalid Directive in the bundle `{name}`\n{error}"))?;
    let root = dir.0.canonicalize()?;
    for component in &app.components {
        let inside = component
            .source
            .canonicalize()
            .is_ok_and(|source| source.starts_with(&root));
        if !inside {
            bail!(
                "refusing the bundle `{name}`: {}: the source of component `{}` lies outside \
                 the bundle",
                component.location,
                component.name
            );
        }
    }
    Ok(Opened {
        manifest,
        app,
        sha256,
        dir,
    })
}

/// A new directory only this user can read, under the system's temporary directory.
fn private_dir() -> anyhow::Result<PrivateDir> {
    let base = std::env::temp_dir();
    for attempt in 0..16u32 {
        let path = base.join(format!(
            "karman-bundle-{}-{}-{attempt}",
            std::process::id(),
            karman_runtime::new_id()
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&path) {
            Ok(()) => return Ok(PrivateDir(path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create a directory in `{}`", base.display()));
            }
        }
    }
    bail!("cannot create a private directory in `{}`", base.display())
}

/// Counts the bytes read through it, failing (and setting `exceeded`) once they pass
/// `limit`: a decompression bomb stops here, mid-stream.
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.exceeded.set(true);
            return Err(io::Error::other("the unpacked size is over the limit"));
        }
        Ok(n)
    }
}

/// Hashes what is read through it.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Unpacks the bundle into `dir`, checking every entry; returns the manifest and the
/// bundle's SHA-256.
fn unpack(path: &Path, dir: &Path, limits: Limits) -> anyhow::Result<(Manifest, String)> {
    let file = File::open(path).context("cannot open it")?;
    let hashed = Hashed {
        inner: BufReader::new(file),
        hasher: Sha256::new(),
    };
    let gzip = flate2::read::GzDecoder::new(hashed);
    let exceeded = Rc::new(Cell::new(false));
    let counted = Counted {
        inner: gzip,
        read: 0,
        limit: limits.max_bytes,
        exceeded: exceeded.clone(),
    };
    // An I/O error while reading the archive; the cap on unpacked bytes named as such.
    let unreadable = |error: io::Error, entry: Option<&str>| {
        let at = entry.map(|e| format!("entry `{e}`: ")).unwrap_or_default();
        if exceeded.get() {
            anyhow::anyhow!(
                "{at}it unpacks to more than {} bytes (the limit, --bundle-max-bytes)",
                limits.max_bytes
            )
        } else {
            anyhow::anyhow!("{at}it is not a readable tar.gz archive: {error}")
        }
    };
    let mut archive = tar::Archive::new(counted);
    let mut manifest: Option<Manifest> = None;
    let mut expected: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut count = 0u64;
    let entries = archive.entries().map_err(|e| unreadable(e, None))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(e, None))?;
        count += 1;
        if count > limits.max_files {
            bail!(
                "it holds more than {} entries (the limit, --bundle-max-files)",
                limits.max_files
            );
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let inside = entry_path(&raw).with_context(|| format!("entry `{shown}`"))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            bail!(
                "entry `{shown}` is a {}, not a regular file",
                match kind {
                    tar::EntryType::Symlink => "symbolic link",
                    tar::EntryType::Link => "hard link",
                    tar::EntryType::Char | tar::EntryType::Block => "device",
                    tar::EntryType::Fifo => "FIFO",
                    _ => "special entry",
                }
            );
        }
        if !seen.insert(inside.clone()) {
            bail!("entry `{shown}` appears twice");
        }
        let size = entry.size();
        if manifest.is_none() {
            if inside != MANIFEST {
                bail!("its first entry is `{shown}`, not the manifest `{MANIFEST}`");
            }
            if size > MAX_MANIFEST_BYTES {
                bail!("its manifest is larger than {MAX_MANIFEST_BYTES} bytes");
            }
            let mut json = Vec::new();
            entry
                .by_ref()
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut json)
                .map_err(|e| unreadable(e, Some(&shown)))?;
            let read: Manifest = serde_json::from_slice(&json)
                .with_context(|| format!("its manifest `{MANIFEST}` is not valid"))?;
            check_manifest(&read, limits)?;
            expected = read
                .files
                .iter()
                .map(|file| (file.path.clone(), file.clone()))
                .collect();
            manifest = Some(read);
            continue;
        }
        let Some(listed) = expected.get(&inside) else {
            bail!("entry `{shown}` is not listed in the manifest");
        };
        if size != listed.size {
            bail!(
                "entry `{shown}` has {size} bytes, the manifest lists {}",
                listed.size
            );
        }
        let target = dir.join(&inside);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("entry `{shown}`: cannot create its directory"))?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .with_context(|| format!("entry `{shown}`: cannot write it"))?;
        let mut hashed = Hashed {
            inner: entry.by_ref(),
            hasher: Sha256::new(),
        };
        let written = io::copy(&mut hashed, &mut out).map_err(|e| unreadable(e, Some(&shown)))?;
        let digest = hex(&hashed.hasher.finalize());
        if written != listed.size || digest != listed.sha256 {
            bail!(
                "entry `{shown}` does not match the manifest (SHA-256 {digest}, listed {}): \
                 the bundle was changed after it was built",
                listed.sha256
            );
        }
    }
    let Some(manifest) = manifest else {
        bail!("it is empty: no manifest `{MANIFEST}`");
    };
    let missing: Vec<&str> = expected
        .keys()
        .filter(|path| !seen.contains(*path))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "the manifest lists files the archive does not hold: {}",
            missing.join(", ")
        );
    }
    // Read the rest (gzip trailer), so the hash covers the whole file.
    let mut counted = archive.into_inner();
    io::copy(&mut counted, &mut io::sink()).map_err(|e| unreadable(e, None))?;
    let hashed = counted.inner.into_inner();
    let mut rest = hashed.inner;
    let mut hasher = hashed.hasher;
    io::copy(&mut rest, &mut hasher).context("cannot read it")?;
    Ok((manifest, hex(&hasher.finalize())))
}

/// The manifest is of this format and this WIT package, and lists safe, distinct paths.
fn check_manifest(manifest: &Manifest, limits: Limits) -> anyhow::Result<()> {
    if manifest.format != FORMAT {
        bail!(
            "its manifest is of format {}; this karman reads format {FORMAT}",
            manifest.format
        );
    }
    let wit = karman_runtime::wit::PACKAGE;
    if manifest.wit != wit {
        bail!(
            "it was built for {} (by karman {}); this karman implements {wit}",
            manifest.wit,
            manifest.karman
        );
    }
    if manifest.files.len() as u64 >= limits.max_files {
        bail!(
            "its manifest lists {} files, more than the limit (--bundle-max-files {})",
            manifest.files.len(),
            limits.max_files
        );
    }
    let mut paths = BTreeSet::new();
    for file in &manifest.files {
        let checked = entry_path(file.path.as_bytes())
            .with_context(|| format!("its manifest lists `{}`", file.path))?;
        if checked == MANIFEST || !paths.insert(checked) {
            bail!("its manifest lists `{}` twice", file.path);
        }
        let hex_digest = file.sha256.len() == 64
            && file
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_digest {
            bail!(
                "its manifest lists `{}` with `{}`, not a SHA-256 in lower-case hex",
                file.path,
                file.sha256
            );
        }
    }
    if !paths.contains(&manifest.directive) {
        bail!(
            "its manifest names the Directive `{}`, which it does not list",
            manifest.directive
        );
    }
    Ok(())
}

/// A path inside the bundle: UTF-8, relative, made of plain names only (no `..`, `.`, root or
/// drive), `/`-separated.
fn entry_path(raw: &[u8]) -> anyhow::Result<String> {
    let text = std::str::from_utf8(raw).context("its path is not UTF-8")?;
    if text.is_empty() || text.contains('\0') || text.contains('\\') {
        bail!("its path is empty or holds a `\\` or NUL");
    }
    if text.starts_with('/') {
        bail!("its path is absolute: it would escape the bundle");
    }
    let path = Path::new(text.trim_end_matches('/'));
    let mut parts = Vec::new();
    for part in path.components() {
        match part {
            PathPart::Normal(name) => parts.push(name.to_str().unwrap_or_default()),
            PathPart::ParentDir => bail!("its path goes up (`..`): it would escape the bundle"),
            PathPart::RootDir | PathPart::Prefix(_) => {
                bail!("its path is absolute: it would escape the bundle")
            }
            PathPart::CurDir => bail!("its path holds `.`"),
        }
    }
    if parts.is_empty() {
        bail!("its path is empty");
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_stay_inside_the_bundle() {
        assert_eq!(entry_path(b"static/a/b.css").unwrap(), "static/a/b.css");
        assert_eq!(entry_path(b"static/").unwrap(), "static");
        for bad in [
            &b"../x"[..],
            b"a/../../x",
            b"/etc/passwd",
            b"./a",
            b"",
            b"a\\..\\b",
            b"\xff",
        ] {
            assert!(entry_path(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
