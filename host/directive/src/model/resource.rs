//! Resource patterns of request handlers: `/users/:id`, `/files/*path`.
//!
//! | form      | matches                     | `req.url-param` |
//! |-----------|-----------------------------|-----------------|
//! | `/users`  | exactly `/users`            |                 |
//! | `/:id`    | one non-empty path segment  | `id`            |
//! | `/*rest`  | the rest of the path (last) | `rest`          |

use std::fmt;

/// A parsed resource pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    text: String,
    segments: Vec<Segment>,
}

/// One `/`-separated part of a [`Resource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches itself.
    Literal(String),
    /// `:name`: matches one segment.
    Param(String),
    /// `*name`: matches the rest of the path; always last.
    Wildcard(String),
}

impl Resource {
    /// Parses a pattern, explaining what is wrong when it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("resource `{text}` must start with `/`"));
        };
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let segment = if let Some(name) = part.strip_prefix(':') {
                Segment::Param(check_name(text, name, ':')?.to_string())
            } else if let Some(name) = part.strip_prefix('*') {
                if i + 1 != parts.len() {
                    return Err(format!(
                        "resource `{text}`: the wildcard `*{name}` must be the last segment"
                    ));
                }
                Segment::Wildcard(check_name(text, name, '*')?.to_string())
            } else {
                if part.is_empty() && i + 1 != parts.len() {
                    return Err(format!("resource `{text}` has an empty segment (`//`)"));
                }
                if let Some(c) = part
                    .chars()
                    .find(|c| c.is_whitespace() || matches!(c, '?' | '#' | '{' | '}' | ':' | '*'))
                {
                    return Err(format!(
                        "resource `{text}`: `{c}` is not allowed in a path segment"
                    ));
                }
                Segment::Literal(part.to_string())
            };
            if let Segment::Param(name) | Segment::Wildcard(name) = &segment {
                if names.contains(&name.as_str()) {
                    return Err(format!(
                        "resource `{text}` names the parameter `{name}` twice"
                    ));
                }
                names.push(&part[1..]);
            }
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// The pattern as written in the Directive.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments of the pattern.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The pattern in `matchit` syntax (`/users/{id}`, `/files/{*path}`).
    pub fn to_matchit(&self) -> String {
        if self.segments.is_empty() {
            return "/".to_string();
        }
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(name) => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
                Segment::Wildcard(name) => {
                    out.push_str("{*");
                    out.push_str(name);
                    out.push('}');
                }
            }
        }
        out
    }

    /// The pattern with parameter names erased: two resources with the same shape match the
    /// same requests, so one method may not have both.
    pub fn shape(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(_) => out.push(':'),
                Segment::Wildcard(_) => out.push('*'),
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

fn check_name<'a>(text: &str, name: &'a str, sigil: char) -> Result<&'a str, String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "resource `{text}`: `{sigil}{name}` needs a name of letters, digits, `_` or `-`"
        ))
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_params_and_wildcards_to_matchit_syntax() {
        let resource = Resource::parse("/users/:id/files/*path").unwrap();
        assert_eq!(resource.to_matchit(), "/users/{id}/files/{*path}");
        assert_eq!(resource.shape(), "/users/:/files/*");
        assert_eq!(Resource::parse("/").unwrap().to_matchit(), "/");
    }

    #[test]
    fn rejects_malformed_patterns() {
        assert!(
            Resource::parse("users")
                .unwrap_err()
                .contains("must start with `/`")
        );
        assert!(
            Resource::parse("/a/*rest/b")
                .unwrap_err()
                .contains("last segment")
        );
        assert!(
            Resource::parse("/a/:")
                .unwrap_err()
                .contains("needs a name")
        );
        assert!(Resource::parse("/a/:id/:id").unwrap_err().contains("twice"));
        assert!(
            Resource::parse("/a/{x}")
                .unwrap_err()
                .contains("not allowed")
        );
        assert!(
            Resource::parse("/a//b")
                .unwrap_err()
                .contains("empty segment")
        );
    }
}
