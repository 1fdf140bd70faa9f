//! Where each component's `source:` is written in a Directive's text, so a tool can rewrite
//! only those scalars and keep everything else (comments, `env(…)` values) as written:
//! `karman bundle` points them at the copies inside the bundle.
//!
//! ```
//! let text = "identifier: a\nappVersion: v1\ncomponents:\n  - name: greet\n    source: \"build/greet.wasm\" # built\n";
//! let sources = karman_directive::source_scalars(text).unwrap();
//! assert_eq!(sources[0].component, "greet");
//! assert_eq!(sources[0].value, "build/greet.wasm");
//! assert_eq!(&text[sources[0].range.clone()], "\"build/greet.wasm\"");
//! ```

use std::ops::Range;

use marked_yaml::{LoaderOptions, Node};

/// A component's `source:` scalar in the text of a Directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceScalar {
    /// The component's `name`.
    pub component: String,
    /// The value of `source` (the path as written).
    pub value: String,
    /// The bytes of the text the scalar takes, quotes included.
    pub range: Range<usize>,
    /// The value of `build`, if the component has one.
    pub build: Option<String>,
}

/// Every component's `source:` scalar in `text`, in the order of `components:`. Fails, with
/// `line:column`, when the text is not YAML or a `source` is not a one-line scalar (a plain or
/// quoted one); a component without a name or a source is skipped (validation reports it).
pub fn source_scalars(text: &str) -> Result<Vec<SourceScalar>, String> {
    let root = parse(text)?;
    let Some(items) = root
        .as_mapping()
        .and_then(|map| map.get_node("components"))
        .and_then(Node::as_sequence)
    else {
        return Ok(Vec::new());
    };
    let mut sources = Vec::new();
    for item in items.iter() {
        let Some(map) = item.as_mapping() else {
            continue;
        };
        let (Some(name), Some(source)) = (map.get_scalar("name"), map.get_scalar("source")) else {
            continue;
        };
        let what = format!("the source of `{}`", name.as_str());
        sources.push(SourceScalar {
            component: name.as_str().to_string(),
            value: source.as_str().to_string(),
            range: scalar_range(text, source, &what)?,
            build: map.get_scalar("build").map(|b| b.as_str().to_string()),
        });
    }
    Ok(sources)
}

/// The static directory the Directive's `static:` names (`static: dir` or
/// `static: { dir: … }`), as written and where: `None` when it names none (no `static:`, or
/// the mapping form without `dir`, both meaning `static/` beside the Directive). Fails, with
/// `line:column`, when the text is not YAML or the directory is not a one-line scalar.
///
/// ```
/// let text = "identifier: a\nstatic: { dir: public, mount: / }\n";
/// let dir = karman_directive::static_dir_scalar(text).unwrap().unwrap();
/// assert_eq!((dir.value.as_str(), &text[dir.range]), ("public", "public"));
/// ```
pub fn static_dir_scalar(text: &str) -> Result<Option<Scalar>, String> {
    let root = parse(text)?;
    let Some(node) = root.as_mapping().and_then(|map| map.get_node("static")) else {
        return Ok(None);
    };
    let dir = match node.as_mapping() {
        Some(map) => match map.get_node("dir") {
            Some(dir) => dir,
            None => return Ok(None),
        },
        None => node,
    };
    let Some(dir) = dir.as_scalar() else {
        return Ok(None);
    };
    let range = scalar_range(text, dir, "the `static` directory")?;
    Ok(Some(Scalar {
        value: dir.as_str().to_string(),
        range,
    }))
}

/// A one-line scalar of a Directive's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// Its value (as written: an `env(…)` unresolved).
    pub value: String,
    /// The bytes of the text it takes, quotes included.
    pub range: Range<usize>,
}

/// The text parsed as YAML with a top-level mapping, duplicate keys refused.
fn parse(text: &str) -> Result<Node, String> {
    let loader = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    marked_yaml::parse_yaml_with_options(0, text, loader).map_err(|e| format!("invalid YAML: {e}"))
}

/// The bytes of `text` that the one-line `scalar` takes; `what` names it in errors.
fn scalar_range(
    text: &str,
    scalar: &marked_yaml::types::MarkedScalarNode,
    what: &str,
) -> Result<Range<usize>, String> {
    let Some(start) = scalar.span().start() else {
        return Err(format!("{what} has no position"));
    };
    let at = format!("{}:{}", start.line(), start.column());
    // Markers count characters; the ranges are in bytes.
    let begin = text
        .char_indices()
        .map(|(offset, _)| offset)
        .chain(std::iter::once(text.len()))
        .nth(start.character())
        .ok_or_else(|| format!("{at}: {what} is past the end"))?;
    let length = scalar_length(&text[begin..], scalar.as_str())
        .ok_or_else(|| format!("{at}: {what} must be written on one line"))?;
    Ok(begin..begin + length)
}

/// The top-level scalar `key` of a Directive's text as written (an `env(…)` unresolved), if
/// the text is YAML and has it.
pub fn top_level_as_written(text: &str, key: &str) -> Option<String> {
    let loader = LoaderOptions::default().toplevel_mapping();
    let root = marked_yaml::parse_yaml_with_options(0, text, loader).ok()?;
    let value = root.as_mapping()?.get_scalar(key)?;
    Some(value.as_str().to_string())
}

/// The length in bytes of the one-line scalar at the start of `rest` whose value is `value`:
/// a quoted one up to its closing quote, a plain one as long as its value.
fn scalar_length(rest: &str, value: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    match chars.next()? {
        (_, quote @ ('"' | '\'')) => {
            let mut escaped = false;
            let mut chars = chars.peekable();
            while let Some((offset, c)) = chars.next() {
                match c {
                    '\n' | '\r' => return None,
                    '\\' if quote == '"' && !escaped => {
                        escaped = true;
                        continue;
                    }
                    '\'' if quote == '\''
                        && chars.peek().is_some_and(|(_, next)| *next == '\'') =>
                    {
                        chars.next();
                    }
                    c if c == quote && !escaped => return Some(offset + 1),
                    _ => {}
                }
                escaped = false;
            }
            None
        }
        _ => rest.starts_with(value).then_some(value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(text: &str) -> Vec<&str> {
        source_scalars(text)
            .unwrap()
            .iter()
            .map(|s| &text[s.range.clone()])
            .collect()
    }

    #[test]
    fn finds_plain_quoted_and_flow_sources() {
        let text = "identifier: é\ncomponents:\n  - name: a\n    source: build/a.wasm   # a comment\n  - { name: b, source: 'it''s/b.wasm' }\n  - name: c\n    source: \"c\\\"d.wasm\"\n";
        assert_eq!(
            ranges(text),
            ["build/a.wasm", "'it''s/b.wasm'", "\"c\\\"d.wasm\""]
        );
    }

    #[test]
    fn reports_a_source_written_on_two_lines() {
        let text = "components:\n  - name: a\n    source: build/\n      a.wasm\n";
        assert_eq!(
            source_scalars(text).unwrap_err(),
            "3:13: the source of `a` must be written on one line"
        );
    }
}
