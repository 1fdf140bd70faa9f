//! A small reader over `marked_yaml` nodes that keeps every position, so each problem is
//! reported at its `file:line:column`, with all problems of a file collected in one pass.

use std::sync::Arc;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Node, Span};

use crate::error::{Diagnostic, Location, did_you_mean};
use crate::keys::KeySet;

/// Looks an environment variable up, for `env(NAME)` values.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Walks a parsed Directive and collects diagnostics.
pub(crate) struct Reader<'a> {
    file: Arc<str>,
    env: EnvLookup<'a>,
    diagnostics: Vec<Diagnostic>,
    /// A component `source` that does not exist yet is not an error (`karman build` makes it).
    pub(crate) unbuilt_sources: bool,
    /// What an unset `env(NAME)` without a default reads.
    pub(crate) unset_env: crate::UnsetEnv,
    /// Names of components declared but invalid: their own errors are reported, so a step or
    /// route naming them is not reported again as naming an undeclared component.
    pub(crate) invalid_components: std::collections::BTreeSet<String>,
}

/// The fields of a mapping whose keys were checked against the allowed ones.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'n> {
    map: &'n MarkedMappingNode,
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.map.get_node(key)
    }

    /// The position of the mapping: its first key (where a reader's eye goes), else the
    /// mapping itself.
    pub(crate) fn span(&self) -> &'n Span {
        self.map
            .keys()
            .next()
            .map_or(self.map.span(), |key| key.span())
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: Arc<str>, env: EnvLookup<'a>) -> Self {
        Self {
            file,
            env,
            diagnostics: Vec::new(),
            unbuilt_sources: false,
            unset_env: crate::UnsetEnv::Error,
            invalid_components: Default::default(),
        }
    }

    pub(crate) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// The location of a span, if the parser recorded one.
    pub(crate) fn location(&self, span: &Span) -> Option<Location> {
        span.start().map(|marker| Location {
            file: self.file.clone(),
            line: marker.line(),
            column: marker.column(),
        })
    }

    /// The location of a span, or of the start of the file.
    pub(crate) fn location_or_start(&self, span: &Span) -> Location {
        self.location(span).unwrap_or_else(|| Location {
            file: self.file.clone(),
            line: 1,
            column: 1,
        })
    }

    /// Records a problem at `span`.
    pub(crate) fn error(&mut self, span: &Span, message: impl Into<String>) {
        let diagnostic = Diagnostic::new(self.location(span), message);
        self.diagnostics.push(diagnostic);
    }

    /// Records a problem at `span`, with a hint on how to fix it.
    pub(crate) fn error_with_hint(
        &mut self,
        span: &Span,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let diagnostic = Diagnostic::new(self.location(span), message).with_hint(hint);
        self.diagnostics.push(diagnostic);
    }

    /// Reports an error at an already resolved location (for checks across sections).
    pub(crate) fn error_at(
        &mut self,
        location: &Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let diagnostic = Diagnostic::new(Some(location.clone()), message).with_hint(hint);
        self.diagnostics.push(diagnostic);
    }

    /// `node` as a mapping whose keys are all in `allowed`; every other key is reported
    /// (with the closest allowed key as a hint).
    pub(crate) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &KeySet,
    ) -> Option<Fields<'n>> {
        let Some(map) = node.as_mapping() else {
            self.error(
                node.span(),
                format!("{what} must be a mapping (`key: value` lines)"),
            );
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(key.as_str()) {
                self.unknown_key(key, what, allowed.keys());
            }
        }
        Some(Fields { map })
    }

    fn unknown_key(&mut self, key: &MarkedScalarNode, what: &str, allowed: &[&str]) {
        let message = format!("unknown key `{}` in {what}", key.as_str());
        let hint = match did_you_mean(key.as_str(), allowed.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("expected one of: {}", allowed.join(", ")),
        };
        self.error_with_hint(key.span(), message, hint);
    }

    /// The value of a required key; reports its absence at the mapping.
    pub(crate) fn required<'n>(
        &mut self,
        fields: Fields<'n>,
        key: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.error(fields.span(), format!("{what} is missing `{key}`"));
        }
        node
    }

    /// `node` as a plain string.
    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar() {
            Some(scalar) => Some(scalar.as_str().to_string()),
            None => {
                self.error(
                    node.span(),
                    format!("{what} must be a single value, not a list or mapping"),
                );
                None
            }
        }
    }

    /// `node` as a non-empty string.
    pub(crate) fn non_empty_string(&mut self, node: &Node, what: &str) -> Option<String> {
        let value = self.string(node, what)?;
        if value.trim().is_empty() {
            self.error(node.span(), format!("{what} must not be empty"));
            return None;
        }
        Some(value)
    }

    /// `node` as a string that may be written `env(NAME)`, replaced by that environment
    /// variable (an unset variable is an error), or `env(NAME, default)`, replaced by the
    /// default when the variable is unset.
    pub(crate) fn string_or_env(&mut self, node: &Node, what: &str) -> Option<String> {
        let value = self.string(node, what)?;
        self.resolve_env(node.span(), value, what)
    }

    /// `text` (found at `span`) with `env(…)` resolved as in [`Self::string_or_env`].
    pub(crate) fn resolve_env(&mut self, span: &Span, value: String, what: &str) -> Option<String> {
        let trimmed = value.trim();
        let Some(inner) = trimmed
            .strip_prefix("env(")
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            return Some(value);
        };
        let (name, default) = match inner.split_once(',') {
            Some((name, default)) => (name.trim(), Some(default.trim())),
            None => (inner.trim(), None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.error_with_hint(
                span,
                format!("{what}: `{trimmed}` does not name an environment variable"),
                "write `env(NAME)` or `env(NAME, default)`",
            );
            return None;
        }
        match ((self.env)(name), default) {
            (Some(value), _) => Some(value),
            (None, Some(default)) => Some(default.to_string()),
            (None, None) if self.unset_env == crate::UnsetEnv::Placeholder => {
                Some(crate::unset_placeholder(name))
            }
            (None, None) => {
                self.error_with_hint(
                    span,
                    format!("{what} reads the environment variable `{name}`, which is not set"),
                    format!("set it before starting Karman (`export {name}=…`), or give a default: `env({name}, …)`"),
                );
                None
            }
        }
    }

    /// `node` as `true` or `false`, or `env(…)` resolving to one of them.
    pub(crate) fn boolean_or_env(&mut self, node: &Node, what: &str) -> Option<bool> {
        let text = node.as_scalar().map(|s| s.as_str().trim().to_string());
        match text {
            Some(text) if text.starts_with("env(") => {
                let value = self.resolve_env(node.span(), text, what)?;
                match value.trim() {
                    "true" => Some(true),
                    "false" => Some(false),
                    other => {
                        self.error(
                            node.span(),
                            format!("{what} must be `true` or `false`, not `{other}`"),
                        );
                        None
                    }
                }
            }
            _ => self.boolean(node, what),
        }
    }

    /// `node` as `true` or `false`.
    pub(crate) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_scalar().and_then(MarkedScalarNode::as_bool) {
            Some(value) => Some(value),
            None => {
                self.error(node.span(), format!("{what} must be `true` or `false`"));
                None
            }
        }
    }

    /// `node` as a list; an empty value (`key:`) is an empty list.
    pub(crate) fn sequence<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match node {
            Node::Sequence(sequence) => Some(sequence_items(sequence)),
            Node::Scalar(scalar) if scalar.as_str().is_empty() => Some(&[]),
            _ => {
                self.error(
                    node.span(),
                    format!("{what} must be a list (`- item` lines)"),
                );
                None
            }
        }
    }
}

/// Where a node starts for a reader: a mapping at its first key, anything else at itself.
pub(crate) fn start(node: &Node) -> &Span {
    match node.as_mapping().and_then(|map| map.keys().next()) {
        Some(key) => key.span(),
        None => node.span(),
    }
}

fn sequence_items(sequence: &MarkedSequenceNode) -> &[Node] {
    sequence
}
