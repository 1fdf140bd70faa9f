//! Named SQL queries (`queries:`).

use crate::error::Location;

/// A named query of the Directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Unique name; grants and components refer to it.
    pub name: String,
    /// The SQL text.
    pub sql: String,
    /// How many parameters it takes.
    pub params: usize,
    /// Where it is declared.
    pub location: Location,
}
