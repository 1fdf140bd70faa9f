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
//! | `static/…` | the app's static files (the directory `static:` names, or `static/` beside the Directive), when it has some; a `static:` directory in the Directive is rewritten to `static` |
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

mod make;
mod open;

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use make::{Built, build};
pub use open::{Opened, open};

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

/// Lower-case hexadecimal, as the manifest writes SHA-256 digests.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
