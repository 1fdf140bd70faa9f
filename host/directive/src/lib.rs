//! The Karman Directive: the YAML file that declares an app.
//!
//! This crate reads a Directive, validates it and resolves it into an [`App`] — the only form the
//! runtime ever sees. It has no dependency on wasmtime. Every problem is reported with its
//! `file:line:column` and, where possible, a hint; all problems of a file are reported at once.
//!
//! # Examples
//!
//! ```
//! use karman_directive::{parse, ParseOptions};
//!
//! let yaml = "
//! identifier: com.example.hello
//! appVersion: v0.1.0
//! handlers:
//!   - type: request
//!     method: GET
//!     resource: /hello/:name
//!     steps:
//!       - fn: greet
//! ";
//! let error = parse(yaml, &ParseOptions::new("Directive.yaml", ".")).unwrap_err();
//! assert_eq!(
//!     error.diagnostics[0].to_string(),
//!     "Directive.yaml:9:13: step runs `greet`, which is not a declared component\n  \
//!      hint: declare it under `components:` with a `name` and a `source`"
//! );
//! ```
//!
//! See `docs/directive.md` for every key of the format.
//!
//! # Layout
//!
//! No module uses one above it:
//!
//! - at the bottom, `model` (the types of a validated [`App`], without parsing), `error`
//!   (locations and diagnostics), `units`, and [`keys`]: the keys of every mapping, the only ones
//!   the parsers accept, each set named beside its object in the Directive's JSON Schema
//!   (`schema`: [`JSON_SCHEMA`]; the test `tests/schema.rs` holds the two equal);
//! - above them, `yaml` (a reader of YAML nodes that records each problem at its position) and
//!   `parse::values` (the value parsers the sections share: methods, timeouts, rate limits, …);
//! - above those, one parser per section in `parse` (components, sequences, streams, schedules,
//!   routes, authentication, connections, queries), and `parse::app`, which reads the top level
//!   and the request handlers and runs the checks across sections;
//! - at the top, this file: from a file or text to an [`App`];
//! - beside it, [`routing`]: method and path routing over the model's resource patterns (the
//!   server routes requests with it; it has no dependency on the parsers), and `sources`
//!   ([`source_scalars`]): where each component's `source:` is written in the text, for
//!   `karman bundle` to rewrite only those, and [`static_dir_scalar`] for the static directory.

#![warn(missing_docs)]

mod error;
pub mod keys;
mod model;
mod parse;
pub mod routing;
mod schema;
mod sources;
mod units;
mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::LoaderOptions;

pub use error::{Diagnostic, DirectiveError, Location};
pub use model::*;
pub use schema::{JSON_SCHEMA, SCHEMA_COMMENT, SCHEMA_URL};
pub use sources::{Scalar, SourceScalar, source_scalars, static_dir_scalar, top_level_as_written};
pub use units::{parse_byte_size, parse_duration};

/// Where a Directive comes from and how to resolve what it refers to.
pub struct ParseOptions<'a> {
    /// The file name shown in diagnostics.
    pub file_name: String,
    /// The directory component `source` paths are relative to.
    pub base_dir: PathBuf,
    /// Looks up environment variables for `env(NAME)` values.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Accept a component `source` that does not exist yet (for `karman build`, which makes it).
    pub unbuilt_sources: bool,
    /// What an `env(NAME)` without a default reads when `NAME` is not set.
    pub unset_env: UnsetEnv,
}

/// What an `env(NAME)` without a default reads when the variable is not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnsetEnv {
    /// An error naming the variable (serving, checking, building).
    #[default]
    Error,
    /// [`unset_placeholder`]`(NAME)`: for a tool that shows an app without its secrets
    /// (`karman graph`), so it needs none of them. A value with a default still reads it.
    Placeholder,
}

/// The value an unset `env(NAME)` reads under [`UnsetEnv::Placeholder`]: `unset:NAME`, padded
/// with `-` to 64 characters so that it passes any length check a secret has.
///
/// ```
/// let value = karman_directive::unset_placeholder("JWT_SECRET");
/// assert!(value.starts_with("unset:JWT_SECRET---") && value.len() == 64);
/// ```
pub fn unset_placeholder(name: &str) -> String {
    format!("{:-<64}", format!("unset:{name}"))
}

impl ParseOptions<'static> {
    /// Options reading the process environment.
    pub fn new(file_name: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        Self {
            file_name: file_name.into(),
            base_dir: base_dir.into(),
            env: &process_env,
            unbuilt_sources: false,
            unset_env: UnsetEnv::Error,
        }
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads, validates and resolves the Directive at `path`.
pub fn load(path: &Path) -> Result<App, DirectiveError> {
    load_with(path, |_| {})
}

/// As [`load`], but a component `source` that does not exist yet is accepted: for
/// `karman build`, which makes it.
pub fn load_unbuilt(path: &Path) -> Result<App, DirectiveError> {
    load_with(path, |options| options.unbuilt_sources = true)
}

/// As [`load`], with the options `adjust` changes (the file name and base directory are the
/// file's own).
///
/// ```no_run
/// use karman_directive::UnsetEnv;
/// let app = karman_directive::load_with("Directive.yaml".as_ref(), |options| {
///     options.unbuilt_sources = true;
///     options.unset_env = UnsetEnv::Placeholder;
/// });
/// ```
pub fn load_with(
    path: &Path,
    adjust: impl FnOnce(&mut ParseOptions<'static>),
) -> Result<App, DirectiveError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DirectiveError::single(Diagnostic::new(
            None,
            format!("cannot read the Directive `{}`: {e}", path.display()),
        ))
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    let mut options = ParseOptions::new(path.display().to_string(), base_dir);
    adjust(&mut options);
    parse(&text, &options)
}

/// Validates and resolves a Directive given as text.
pub fn parse(text: &str, options: &ParseOptions<'_>) -> Result<App, DirectiveError> {
    let file: Arc<str> = Arc::from(options.file_name.as_str());
    let loader = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    let (app, mut diagnostics) = match marked_yaml::parse_yaml_with_options(0, text, loader) {
        Ok(root) => {
            let mut reader = yaml::Reader::new(file, options.env);
            reader.unbuilt_sources = options.unbuilt_sources;
            reader.unset_env = options.unset_env;
            let app = parse::parse_app(&mut reader, &root, &options.base_dir);
            (app, reader.into_diagnostics())
        }
        Err(e) => (None, vec![load_error(&file, &e)]),
    };
    let end = end_of_text(text);
    for location in diagnostics.iter_mut().filter_map(|d| d.location.as_mut()) {
        if (location.line, location.column) > end {
            (location.line, location.column) = end;
        }
    }
    // In file order, whatever order the checks ran in.
    diagnostics.sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
    match app {
        Some(app) if diagnostics.is_empty() => Ok(app),
        _ => Err(DirectiveError { diagnostics }),
    }
}

/// The `(line, column)` just after the last character of `text`, counting lines as YAML does
/// (`\r\n`, `\r` or `\n` ends one). The YAML parser places the end of a document that lacks a
/// final newline on the line after it, where no editor can go: positions past the end are
/// reported here instead.
fn end_of_text(text: &str) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => {
                line += 1;
                column = 1;
            }
            _ => column += 1,
        }
    }
    (line, column)
}

/// Turns a YAML syntax error into a diagnostic with its position.
fn load_error(file: &Arc<str>, error: &marked_yaml::LoadError) -> Diagnostic {
    use marked_yaml::LoadError::*;
    let (marker, message, hint) = match error {
        TopLevelMustBeMapping(m) => (
            Some(*m),
            "a Directive must be a mapping (`identifier: …` and so on)".to_string(),
            None,
        ),
        TopLevelMustBeSequence(m) => (Some(*m), "expected a list".to_string(), None),
        UnexpectedAnchor(m) => (
            Some(*m),
            "YAML anchors and aliases are not supported in a Directive".to_string(),
            Some("repeat the value instead"),
        ),
        MappingKeyMustBeScalar(m) => (
            Some(*m),
            "mapping keys must be plain values".to_string(),
            None,
        ),
        UnexpectedTag(m) => (
            Some(*m),
            "YAML tags (`!tag`) are not supported in a Directive".to_string(),
            None,
        ),
        ScanError(m, e) => (Some(*m), format!("invalid YAML: {}", e.info()), None),
        DuplicateKey(inner) => (
            inner.key.span().start().copied(),
            format!(
                "duplicate key `{}` (first at line {})",
                inner.key.as_str(),
                inner.prev_key.span().start().map(|m| m.line()).unwrap_or(0)
            ),
            None,
        ),
    };
    let location = marker.map(|m| Location {
        file: file.clone(),
        line: m.line(),
        column: m.column(),
    });
    let diagnostic = Diagnostic::new(location, message);
    match hint {
        Some(hint) => diagnostic.with_hint(hint),
        None => diagnostic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every diagnostic's position, as `(line, column)`.
    fn positions(text: &str) -> Vec<(usize, usize)> {
        let error = parse(text, &ParseOptions::new("Directive.yaml", ".")).unwrap_err();
        error
            .diagnostics
            .iter()
            .map(|d| {
                let location = d.location.as_ref().expect("a diagnostic has a position");
                (location.line, location.column)
            })
            .collect()
    }

    #[test]
    fn positions_stay_inside_a_text_without_a_final_newline() {
        // Found by fuzzing: the end of such a document was reported on the line after it.
        // (Each of the two problems: `identifier` and `appVersion` are missing.)
        assert_eq!(positions("# only a comment"), [(1, 17), (1, 17)]);
        assert_eq!(
            positions("# a comment\r\n# and another"),
            [(2, 14), (2, 14)]
        );
        assert_eq!(positions(""), [(1, 1), (1, 1)]);
        // With a final newline, the line after the last one is the end, and stays.
        assert_eq!(positions("a: [1,\n"), [(2, 1)]);
    }

    #[test]
    fn an_unset_variable_is_an_error_or_a_placeholder_and_a_default_is_kept() {
        let text = "identifier: t\n\
                    appVersion: env(KARMAN_TEST_SURELY_UNSET_VERSION)\n\
                    authentication: { domains: { api.example.com: { headerType: bearer, \
                    value: \"env(KARMAN_TEST_SURELY_UNSET_TOKEN, kept)\" } } }\n";
        let error = parse(text, &ParseOptions::new("Directive.yaml", ".")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`KARMAN_TEST_SURELY_UNSET_VERSION`, which is not set"),
            "{error}"
        );
        let mut options = ParseOptions::new("Directive.yaml", ".");
        options.unset_env = UnsetEnv::Placeholder;
        let app = parse(text, &options).unwrap();
        assert_eq!(
            app.app_version,
            unset_placeholder("KARMAN_TEST_SURELY_UNSET_VERSION")
        );
        let credential = &app.authentication.domains["api.example.com"];
        assert_eq!(
            credential.value, "Bearer kept",
            "a default is read, not a placeholder"
        );
    }
}
