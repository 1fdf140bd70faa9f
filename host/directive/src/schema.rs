//! The Directive's JSON Schema (draft 2020-12), for editors: with [`SCHEMA_COMMENT`] as the
//! first line of a Directive, yaml-language-server (VS Code, Neovim, Helix, …) completes and
//! checks its keys. The schema lives in `host/directive/schema/directive.schema.json`;
//! `karman schema` prints it.
//!
//! The schema says what the parser accepts, key by key ([`keys`](crate::keys) holds the two
//! equal). It uses only keywords that draft-07 tools, which most editors are, read the same way.
//! It checks the shape of a Directive; what needs more than one key or a file — a step naming a
//! declared component, a source that is a component — only `karman check` tells.
//!
//! ```
//! let schema: serde_json::Value = serde_json::from_str(karman_directive::JSON_SCHEMA).unwrap();
//! assert_eq!(schema["$id"], karman_directive::SCHEMA_URL);
//! assert!(karman_directive::SCHEMA_COMMENT.ends_with(karman_directive::SCHEMA_URL));
//! ```

/// Expands to the schema's URL, for `concat!`.
macro_rules! schema_url {
    () => {
        "https://raw.githubusercontent.com/karman-dev/karman/main/host/directive/schema/directive.schema.json"
    };
}

/// The Directive's JSON Schema, as JSON text.
pub const JSON_SCHEMA: &str = include_str!("../schema/directive.schema.json");

/// Where the schema is published: the file in the repository's main branch (its `$id`).
pub const SCHEMA_URL: &str = schema_url!();

/// The first line of a Directive that points editors at the schema.
pub const SCHEMA_COMMENT: &str = concat!("# yaml-language-server: $schema=", schema_url!());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_schema_file_in_the_repository() {
        let repository = env!("CARGO_PKG_REPOSITORY");
        let raw = repository.replacen(
            "https://github.com/",
            "https://raw.githubusercontent.com/",
            1,
        );
        assert_eq!(
            SCHEMA_URL,
            format!("{raw}/main/host/directive/schema/directive.schema.json")
        );
        let schema: serde_json::Value = serde_json::from_str(JSON_SCHEMA).unwrap();
        assert_eq!(schema["$id"], SCHEMA_URL, "the schema's `$id` is its URL");
    }
}
