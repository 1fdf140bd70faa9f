//! [`SqlError`]: why a database operation failed, and what the guest gets for it.

use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The database could not be reached, or no connection was free in time.
    #[error("{0}")]
    Unavailable(String),
    /// The database refused the statement (syntax, constraint, read-only, …).
    #[error("{0}")]
    Database(String),
    /// A value could not be converted.
    #[error("{0}")]
    Invalid(String),
    /// A result over `maxRows` or `maxResultBytes`.
    #[error("{0}")]
    TooLarge(String),
    /// Raw SQL the checks refuse (transaction control, session state, the host's files, …).
    #[error("{0}")]
    Refused(String),
    /// A write under a read-only grant.
    #[error("sql: this component is granted read-only access")]
    ReadOnly,
}

/// Whether the database refused a write because the transaction is read-only (PostgreSQL
/// SQLSTATE 25006, MySQL error 1792, SQLite `SQLITE_READONLY`).
fn is_read_only_violation(error: &dyn sqlx::error::DatabaseError) -> bool {
    let code = error.code();
    let code = code.as_deref().unwrap_or_default();
    matches!(code, "25006" | "1792" | "25000" | "8")
        || error.message().contains("readonly database")
}

impl From<sqlx::Error> for SqlError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => {
                SqlError::Unavailable(format!("sql: the database is unavailable ({error})"))
            }
            sqlx::Error::Database(db) if is_read_only_violation(db.as_ref()) => SqlError::ReadOnly,
            sqlx::Error::Database(db) => SqlError::Database(db.message().to_string()),
            other => SqlError::Database(other.to_string()),
        }
    }
}

impl From<SqlError> for CapError {
    fn from(error: SqlError) -> Self {
        match error {
            SqlError::Unavailable(message) => CapError::Unavailable(message),
            SqlError::Database(message) => CapError::Other(message),
            SqlError::Invalid(message) => CapError::Invalid(message),
            SqlError::Refused(message) => CapError::Denied(message),
            SqlError::TooLarge(message) => CapError::Invalid(message),
            SqlError::ReadOnly => CapError::Denied(SqlError::ReadOnly.to_string()),
        }
    }
}

impl From<SqlError> for CapFailure {
    fn from(error: SqlError) -> Self {
        CapFailure::Guest(error.into())
    }
}
