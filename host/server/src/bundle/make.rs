//! Making a bundle: the Directive with its sources (and static directory) pointed inside, each
//! component once, the static files, and the manifest first; entries written the same way on
//! every machine.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use super::{DIRECTIVE, FORMAT, FileEntry, MANIFEST, Manifest, STATIC_DIR, hex};

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
    // The static files go in at `static/`: a directory the Directive names is pointed there.
    let named_static = karman_directive::static_dir_scalar(&text)
        .map_err(|e| anyhow::anyhow!("{}:{e}", directive.display()))?;
    if let Some(named) = named_static {
        replacements.push((named.range, STATIC_DIR.to_string()));
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

    if let Some(static_root) = &app.static_dir {
        let mut found = Vec::new();
        static_files(static_root, static_root, &mut found)?;
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
