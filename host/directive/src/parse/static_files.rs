//! `static:`: the app's static files, read by components through the `file` capability (with a
//! `files` grant) and, optionally, served over HTTP at a URL prefix.
//!
//! ```yaml
//! static: public                            # a directory, relative to the Directive
//! static: { dir: public, mount: /assets }   # … also served at /assets/…
//! static: { mount: / }                      # static/ beside the Directive, served at /
//! ```
//!
//! Without `static:`, the directory `static/` beside the Directive is used when it exists (and
//! the app has no static files when it does not); a directory the Directive names must exist.

use std::path::{Path, PathBuf};

use marked_yaml::Node;

use crate::keys;
use crate::model::{DEFAULT_STATIC_DIR, StaticMount};
use crate::yaml::{Reader, start};

/// What `static:` resolves to: the canonical directory, and where it is served.
pub(crate) struct StaticFiles {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) mount: Option<StaticMount>,
}

/// `static:` (absent: `static/` beside the Directive, when it is a directory).
pub(crate) fn parse_static(
    reader: &mut Reader<'_>,
    node: Option<&Node>,
    base_dir: &Path,
) -> Option<StaticFiles> {
    let Some(node) = node else {
        let default = base_dir.join(DEFAULT_STATIC_DIR);
        let dir = default
            .is_dir()
            .then(|| std::fs::canonicalize(&default).ok())
            .flatten();
        return Some(StaticFiles { dir, mount: None });
    };
    let (dir_node, mount_node) = if node.as_scalar().is_some() {
        (Some(node), None)
    } else {
        let fields = reader.mapping(node, "`static`", &keys::STATIC)?;
        (fields.get("dir"), fields.get("mount"))
    };
    let dir = match dir_node {
        Some(dir_node) => reader
            .non_empty_string(dir_node, "the `static` directory")
            .and_then(|text| resolve_dir(reader, dir_node, base_dir, &text)),
        // The mapping form without `dir`: the default directory, which must then exist.
        None => resolve_dir(reader, node, base_dir, DEFAULT_STATIC_DIR),
    };
    let mount = mount_node.map(|mount_node| parse_mount(reader, mount_node));
    Some(StaticFiles {
        dir: Some(dir?),
        mount: mount.map_or(Some(None), |mount| mount.map(Some))?,
    })
}

/// The canonical path of the directory `text` (relative to `base_dir`), or an error at `node`.
fn resolve_dir(
    reader: &mut Reader<'_>,
    node: &Node,
    base_dir: &Path,
    text: &str,
) -> Option<PathBuf> {
    let path = base_dir.join(text);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => match std::fs::canonicalize(&path) {
            Ok(canonical) => Some(canonical),
            Err(e) => {
                reader.error(
                    start(node),
                    format!("cannot read the static directory `{text}`: {e}"),
                );
                None
            }
        },
        Ok(_) => {
            reader.error(
                start(node),
                format!("the static directory `{text}` is a file, not a directory"),
            );
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            reader.error_with_hint(
                start(node),
                format!("the static directory `{text}` does not exist"),
                "create it, or correct the path (relative to the Directive)",
            );
            None
        }
        Err(e) => {
            reader.error(
                start(node),
                format!("cannot read the static directory `{text}`: {e}"),
            );
            None
        }
    }
}

/// `mount:`: `/` or a path of plain segments; not `/health`, nor `/ext` or under it.
fn parse_mount(reader: &mut Reader<'_>, node: &Node) -> Option<StaticMount> {
    let text = reader.non_empty_string(node, "`mount` of `static`")?;
    let hint = "write a URL path such as `/assets` or `/`";
    let Some(rest) = text.strip_prefix('/') else {
        reader.error_with_hint(
            start(node),
            format!("`mount` `{text}` must start with `/`"),
            hint,
        );
        return None;
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let plain = |segment: &&str| {
        *segment != "."
            && *segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    };
    if !segments.iter().all(plain) {
        reader.error_with_hint(
            start(node),
            format!("`mount` `{text}` may hold only letters, digits, `-`, `_`, `.` and `~` between slashes, and no `.` or `..` segment"),
            hint,
        );
        return None;
    }
    let prefix = format!("/{}", segments.join("/"));
    if prefix == "/health" || prefix == "/ext" || prefix.starts_with("/ext/") {
        reader.error_with_hint(
            start(node),
            format!("`mount` `{text}` is reserved by Karman"),
            "Karman serves `/health` itself and mounts custom routes under `/ext/`",
        );
        return None;
    }
    Some(StaticMount {
        prefix,
        location: reader.location_or_start(start(node)),
    })
}
