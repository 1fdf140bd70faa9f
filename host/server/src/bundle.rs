//! Bundles: an app in one file (`karman bundle`), served and checked as the Directive it holds
//! (`karman serve app.karman`, `karman check app.karman`).
//!
//! A bundle is a gzip-compressed tar archive (see `docs/bundles.md` for why) that holds, in
//! order:
//!
//! | entry | what |
//! |-------|------|
//! | `karman-bundle.json` | the [`Manifest`]: format, Karman and WIT versions, the app, and every other file with its size and SHA-256 |
//! | `Directive.yaml` | the Directive as written, with only each component's `source:` pointing into the bundle |
//! | `components/<name>.wasm` | each component the Directive names (one copy per source file) |
//! | `static/…` | the app's static files, when the Directive's directory has a `static/` |
//!
//! Only regular files, with mode 0644, owner 0 and time 0: nothing of the building machine
//! (its paths, users, times, environment) goes in, and the same app gives the same bytes.
//!
//! Opening a bundle ([`open`]) unpacks it into a private directory, checking as it streams:
//! the manifest comes first; every entry must be a regular file at a relative path inside the
//! bundle, listed in the manifest once, with the listed size and SHA-256; the unpacked bytes
//! (counted as they are decompressed) and the number of entries stay under
//! [`Limits`]; every listed file must be present. Only then is the Directive read, and
//! each component's source must lie inside the bundle. Nothing is loaded before that.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component as PathPart, Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, bail};
use karman_directive::{App, ParseOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's name inside a bundle (its first entry).
pub const MANIFEST: &str = "karman-bundle.json";
/// The Directive's name inside a bundle.
pub const DIRECTIVE: &str = "Directive.yaml";
/// The format of bundles this build writes and reads.
pub const FORMAT: u32 = 1;
/// The directory of the app's static files, beside the Directive and inside a bundle.
pub const STATIC_DIR: &str = "static";
/// Default cap on the bytes a bundle unpacks to (1 GiB), counted as they are decompressed.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Default cap on the entries of a bundle.
pub const DEFAULT_MAX_FILES: u64 = 10_000;
/// Largest manifest accepted.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The manifest of a bundle (`karman-bundle.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The bundle format ([`FORMAT`]).
    pub format: u32,
    /// The version of Karman that built it.
    pub karman: String,
    /// The WIT package its components were built against (`karman:runnable@…`).
    pub wit: String,
    /// The app's `identifier`.
    pub identifier: String,
    /// The app's `appVersion`.
    #[serde(rename = "appVersion")]
    pub app_version: String,
    /// The Directive's path inside the bundle.
    pub directive: String,
    /// Every file of the bundle but the manifest.
    pub files: Vec<FileEntry>,
}

/// One file of a bundle, as its manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Its path inside the bundle (`/`-separated, relative).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in lower-case hex.
    pub sha256: String,
}

/// Caps on what a bundle may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Bundles: most bytes a bundle may unpack to, counted as they are decompressed
    /// (e.g. `1GiB`).
    #[arg(long = "bundle-max-bytes", env = "KARMAN_BUNDLE_MAX_BYTES", default_value = "1GiB", value_parser = crate::commands::parse_size)]
    pub max_bytes: u64,
    /// Bundles: most entries a bundle may hold.
    #[arg(long = "bundle-max-files", env = "KARMAN_BUNDLE_MAX_FILES", default_value_t = DEFAULT_MAX_FILES)]
    pub max_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

/// Whether `path` is a bundle: named `*.karman`, or starting as a gzip stream does (a YAML
/// Directive cannot).
pub fn is_bundle(path: &Path) -> bool {
    if path.extension().is_some_and(|ext| ext == "karman") {
        return true;
    }
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| magic == GZIP_MAGIC)
}

// ---------------------------------------------------------------------------------------------
// Building

/// What [`build`] wrote.
#[derive(Debug)]
pub struct Built {
    /// The manifest inside.
    pub manifest: Manifest,
    /// The bundle's size in bytes.
    pub size: u64,
}

/// Builds the bundle of the Directive at `directive` into `output`: validates the Directive
/// (with this process's environment, whose values are not written), points each component's
/// `source:` at its copy, and adds the static files.
pub fn build(directive: &Path, output: &Path) -> anyhow::Result<Built> {
    let text = std::fs::read_to_string(directive)
        .with_context(|| format!("cannot read the Directive `{}`", directive.display()))?;
    let app = crate::commands::load_directive(directive)?;
    let parent = directive
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base_dir =
        std::path::absolute(parent).context("cannot resolve the Directive's directory")?;
    let scalars = karman_directive::source_scalars(&text)
        .map_err(|e| anyhow::anyhow!("{}:{e}", directive.display()))?;

    // Each source file once, under the name of the first component that uses it.
    let mut copies: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut files: Vec<(String, Content)> = Vec::new();
    let mut replacements = Vec::new();
    for component in &app.components {
        let scalar = scalars
            .iter()
            .find(|s| s.component == component.name)
            .with_context(|| {
                format!(
                    "{}: cannot find the `source` of component `{}` in the text",
                    component.location, component.name
                )
            })?;
        if let Some(build) = &scalar.build
            && Path::new(build).is_absolute()
        {
            bail!(
                "{}: the `build` directory of component `{}` is an absolute path (`{build}`), \
                 which would put this machine's layout into the bundle: make it relative to \
                 the Directive",
                component.location,
                component.name
            );
        }
        let inside = copies
            .entry(component.source.clone())
            .or_insert_with(|| {
                let inside = format!("components/{}.wasm", component.name);
                files.push((inside.clone(), Content::File(component.source.clone())));
                inside
            })
            .clone();
        replacements.push((scalar.range.clone(), inside));
    }
    replacements.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let text_for_manifest = text.clone();
    let mut rewritten = text;
    for (range, inside) in replacements {
        rewritten.replace_range(range, &inside);
    }
    files.insert(
        0,
        (
            DIRECTIVE.to_string(),
            Content::Bytes(rewritten.into_bytes()),
        ),
    );

    let static_root = base_dir.join(STATIC_DIR);
    if static_root.is_dir() {
        let mut found = Vec::new();
        static_files(&static_root, &static_root, &mut found)?;
        found.sort();
        for (inside, path) in found {
            files.push((format!("{STATIC_DIR}/{inside}"), Content::File(path)));
        }
    }

    let mut entries = Vec::with_capacity(files.len());
    for (path, content) in &files {
        let (size, sha256) = content
            .digest()
            .with_context(|| format!("cannot read `{path}`"))?;
        entries.push(FileEntry {
            path: path.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        karman: env!("CARGO_PKG_VERSION").to_string(),
        wit: karman_runtime::wit::PACKAGE.to_string(),
        identifier: app.identifier.clone(),
        // As written: an `env(…)` version stays unresolved, as in the Directive.
        app_version: karman_directive::top_level_as_written(&text_for_manifest, "appVersion")
            .unwrap_or_else(|| app.app_version.clone()),
        directive: DIRECTIVE.to_string(),
        files: entries,
    };
    let size = write_archive(output, &manifest, &files)?;
    Ok(Built { manifest, size })
}

/// What goes into one entry.
enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Content {
    /// The size and SHA-256.
    fn digest(&self) -> io::Result<(u64, String)> {
        match self {
            Self::Bytes(bytes) => Ok((bytes.len() as u64, hex(&Sha256::digest(bytes)))),
            Self::File(path) => {
                let mut hasher = Sha256::new();
                let size = io::copy(&mut BufReader::new(File::open(path)?), &mut hasher)?;
                Ok((size, hex(&hasher.finalize())))
            }
        }
    }
}

/// The files under `dir` (a directory inside the static root `root`), as (path inside the
/// root, path on disk). A symbolic link is followed when it points inside the root, and
/// refused when it points outside.
fn static_files(root: &Path, dir: &Path, found: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    let canonical_root = root
        .canonicalize()
        .with_context(|| format!("cannot read `{}`", root.display()))?;
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        let inside = path
            .strip_prefix(root)
            .expect("a directory entry lies under its directory")
            .to_str()
            .with_context(|| format!("`{}`: a static file's name must be UTF-8", path.display()))?
            .replace(std::path::MAIN_SEPARATOR, "/");
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            let target = path
                .canonicalize()
                .with_context(|| format!("`{}`: a broken symbolic link", path.display()))?;
            if !target.starts_with(&canonical_root) {
                bail!(
                    "`{}` is a symbolic link to `{}`, outside the static directory `{}`",
                    path.display(),
                    target.display(),
                    root.display()
                );
            }
            if target.is_dir() {
                bail!(
                    "`{}` is a symbolic link to a directory: link files, or copy the directory",
                    path.display()
                );
            }
            found.push((inside, target));
        } else if file_type.is_dir() {
            static_files(root, &path, found)?;
        } else if file_type.is_file() {
            found.push((inside, path));
        } else {
            bail!("`{}` is not a regular file", path.display());
        }
    }
    Ok(())
}

/// Writes the archive to a temporary file beside `output`, then renames it.
fn write_archive(
    output: &Path,
    manifest: &Manifest,
    files: &[(String, Content)],
) -> anyhow::Result<u64> {
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = (|| -> anyhow::Result<()> {
        let file = File::create(&partial)?;
        let gzip =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        let mut tar = tar::Builder::new(gzip);
        let json = serde_json::to_vec_pretty(manifest)?;
        append(&mut tar, MANIFEST, json.len() as u64, json.as_slice())?;
        for ((path, content), entry) in files.iter().zip(&manifest.files) {
            match content {
                Content::Bytes(bytes) => append(&mut tar, path, entry.size, bytes.as_slice())?,
                Content::File(source) => {
                    let file = File::open(source)
                        .with_context(|| format!("cannot read `{}`", source.display()))?;
                    append(&mut tar, path, entry.size, file.take(entry.size))?;
                }
            }
        }
        let mut out = tar.into_inner()?.finish()?;
        out.flush()?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        Ok(())
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error.context(format!("cannot write the bundle `{}`", output.display())));
    }
    std::fs::rename(&partial, output)
        .with_context(|| format!("cannot write the bundle `{}`", output.display()))?;
    Ok(std::fs::metadata(output)?.len())
}

/// Appends one regular file: mode 0644, owner 0, time 0.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    tar.append_data(&mut header, path, data)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

// ---------------------------------------------------------------------------------------------
// Opening

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
