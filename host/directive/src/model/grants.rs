//! Grants: the capabilities a component may use (`cache`, `log`, `sql`, `http`, `graphql`,
//! `files`),
//! and the host patterns of the outbound allow lists.
//!
//! | allow entry               | matches                                        |
//! |---------------------------|------------------------------------------------|
//! | `api.github.com`          | that host, http or https, any port             |
//! | `*.example.com`           | any subdomain of example.com (not example.com) |
//! | `https://api.stripe.com`  | that host over https only                      |
//! | `api.local:8080`          | that host on port 8080 only                    |
//!
//! An empty list allows nothing. Addresses in private, loopback, link-local and unique-local
//! ranges are refused (after DNS resolution, at every redirect) unless `allowPrivate: true`.

use std::fmt;

pub use karman_protocol::outbound::HostPattern;

/// The capabilities a component is granted. Everything absent is denied, except `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Access to the cache, if granted.
    pub cache: Option<CacheGrant>,
    /// Whether `log` calls and stdout/stderr reach the host log (default: yes).
    pub log: bool,
    /// Access to SQL, if granted.
    pub sql: Option<SqlGrant>,
    /// Outbound HTTP, if granted.
    pub http: Option<OutboundGrant>,
    /// GraphQL, if granted.
    pub graphql: Option<OutboundGrant>,
    /// Reading the app's static files, if granted.
    pub files: Option<FilesGrant>,
}

impl fmt::Display for Grants {
    /// What is granted, for reports: `cache (prefix "users:"), log, sql (queries: a, b; raw;
    /// read-only), http (allow: api.github.com, *.example.com; private allowed), graphql (allow:
    /// api.github.com), files (path "img/")`; `none` when nothing is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(cache) = &self.cache {
            parts.push(if cache.prefix.is_empty() {
                "cache".to_string()
            } else {
                format!("cache (prefix {:?})", cache.prefix)
            });
        }
        if self.log {
            parts.push("log".to_string());
        }
        if let Some(sql) = &self.sql {
            let mut text = format!("sql (queries: {}", list_or_none(&sql.queries));
            if sql.raw {
                text.push_str("; raw");
            }
            if !sql.write {
                text.push_str("; read-only");
            }
            text.push(')');
            parts.push(text);
        }
        for (capability, grant) in [("http", &self.http), ("graphql", &self.graphql)] {
            if let Some(grant) = grant {
                let private = if grant.allow_private {
                    "; private allowed"
                } else {
                    ""
                };
                parts.push(format!(
                    "{capability} (allow: {}{private})",
                    list_or_none(&grant.allow)
                ));
            }
        }
        if let Some(files) = &self.files {
            parts.push(if files.path.is_empty() {
                "files".to_string()
            } else {
                format!("files (path \"{}/\")", files.path)
            });
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// `a, b`, or `none` for an empty list.
fn list_or_none(items: &[impl fmt::Display]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            cache: None,
            log: true,
            sql: None,
            http: None,
            graphql: None,
            files: None,
        }
    }
}

/// A grant of the `files` capability: reading the app's static files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilesGrant {
    /// The sub-directory of the static directory the component is confined to, as
    /// `/`-separated segments without leading or trailing slash (`img`, `assets/css`); empty
    /// for the whole directory.
    pub path: String,
}

/// A grant of the `cache` capability.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheGrant {
    /// The prefix the component's keys are confined to (invisible to the component);
    /// empty for the shared, unprefixed key space.
    pub prefix: String,
}

/// A grant of the `sql` capability.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SqlGrant {
    /// The named queries the component may run (each is declared under `queries:`).
    pub queries: Vec<String>,
    /// Whether it may run raw SQL (still with bound parameters).
    pub raw: bool,
    /// Whether it may write; without, every statement runs in a read-only transaction.
    pub write: bool,
}

/// A grant of `http` or `graphql`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundGrant {
    /// The hosts the component may call.
    pub allow: Vec<HostPattern>,
    /// Whether private, loopback and link-local addresses may be reached.
    pub allow_private: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_display_as_the_check_report_lists_them() {
        assert_eq!(Grants::default().to_string(), "log");
        let nothing = Grants {
            log: false,
            ..Grants::default()
        };
        assert_eq!(nothing.to_string(), "none");
        let everything = Grants {
            cache: Some(CacheGrant {
                prefix: "users:".to_string(),
            }),
            log: true,
            sql: Some(SqlGrant {
                queries: vec!["a".to_string(), "b".to_string()],
                raw: true,
                write: false,
            }),
            http: Some(OutboundGrant {
                allow: vec![
                    HostPattern::parse("api.github.com").unwrap(),
                    HostPattern::parse("*.example.com").unwrap(),
                ],
                allow_private: true,
            }),
            graphql: Some(OutboundGrant {
                allow: vec![HostPattern::parse("api.github.com").unwrap()],
                allow_private: false,
            }),
            files: Some(FilesGrant {
                path: "img/icons".to_string(),
            }),
        };
        assert_eq!(
            everything.to_string(),
            "cache (prefix \"users:\"), log, sql (queries: a, b; raw; read-only), \
             http (allow: api.github.com, *.example.com; private allowed), \
             graphql (allow: api.github.com), files (path \"img/icons/\")"
        );
        let bare = Grants {
            cache: Some(CacheGrant::default()),
            log: false,
            sql: Some(SqlGrant {
                write: true,
                ..SqlGrant::default()
            }),
            http: Some(OutboundGrant::default()),
            graphql: None,
            files: Some(FilesGrant::default()),
        };
        assert_eq!(
            bare.to_string(),
            "cache, sql (queries: none), http (allow: none), files"
        );
    }
}
