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

/// One entry of an allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// `http` or `https`, when the entry names one.
    pub scheme: Option<String>,
    /// The host in lower case; `*.` + domain for a wildcard.
    pub host: String,
    /// The port, when the entry names one.
    pub port: Option<u16>,
}

impl HostPattern {
    /// Parses an entry: `[scheme://]host[:port]`, host possibly `*.domain`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    return Err(format!("`{text}`: only http and https can be allowed"));
                }
                (Some(scheme), rest)
            }
            None => (None, text),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(format!(
                "`{text}` is not a host: write `host`, `*.domain` or `https://host:port`"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{text}`: `{port}` is not a port"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        let valid = !bare.is_empty()
            && !bare.contains('*')
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'));
        if !valid {
            return Err(format!(
                "`{text}` is not a host: write `host`, `*.domain` or `https://host:port`"
            ));
        }
        Ok(Self { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme)
            || self.port.is_some_and(|p| p != port)
        {
            return false;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.')
            }
            None => host == self.host,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_exact_wildcard_scheme_and_port() {
        let exact = HostPattern::parse("API.github.com").unwrap();
        assert!(exact.matches("https", "api.github.com", 443));
        assert!(exact.matches("http", "Api.GitHub.com", 8080));
        assert!(!exact.matches("https", "evil-api.github.com", 443));
        let wildcard = HostPattern::parse("*.example.com").unwrap();
        assert!(wildcard.matches("https", "a.b.example.com", 443));
        assert!(!wildcard.matches("https", "example.com", 443));
        assert!(!wildcard.matches("https", "badexample.com", 443));
        let scoped = HostPattern::parse("https://pay.example.com:8443").unwrap();
        assert!(scoped.matches("https", "pay.example.com", 8443));
        assert!(!scoped.matches("http", "pay.example.com", 8443));
        assert!(!scoped.matches("https", "pay.example.com", 443));
        assert!(
            HostPattern::parse("127.0.0.1:8080")
                .unwrap()
                .matches("http", "127.0.0.1", 8080)
        );
        assert!(
            HostPattern::parse("[::1]:80")
                .unwrap()
                .matches("http", "[::1]", 80)
        );
        assert!(HostPattern::parse("ftp://x").is_err());
        assert!(HostPattern::parse("x.com/path").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
    }

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
