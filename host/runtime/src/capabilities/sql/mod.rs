//! `karman:runnable/sql`: named queries, raw SQL, transactions and batches on SQLite,
//! PostgreSQL or MySQL/MariaDB (sqlx pools, shared by all instances).
//!
//! | grant in the Directive                  | the component may                               |
//! |-----------------------------------------|-------------------------------------------------|
//! | (none)                                  | nothing: every call fails with `denied`         |
//! | `sql: { queries: [a, b] }`              | run the named queries `a` and `b`               |
//! | `sql: { …, raw: true }`                 | also run raw SQL, with bound parameters         |
//! | `sql: { …, write: false }`              | only read: every statement runs in a read-only transaction, so the database refuses writes |
//!
//! A transaction holds a connection of its own until `commit` or `rollback`; dropped otherwise
//! (by the guest, or with the instance after a trap or a timeout) it is rolled back.
//!
//! One code path serves the three: [`pools`] runs pools, statements, transactions and rows
//! for any [`dialect::Dialect`], and each backend file ([`sqlite`], [`postgres`], [`mysql`])
//! implements only what differs (connect options, NULL binding, read-only mode, decoding).

mod dialect;
mod host;
mod mysql;
mod pools;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use karman_directive::{DatabaseConnection, DatabaseKind, Query, SqlGrant};
use sqlx::{MySql, Postgres, Sqlite};

pub(crate) use host::{Sql, SqlView};

use self::pools::{Backend, Pools, Transaction};
use crate::bindings::sql::Value;
use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;
use crate::health::Readiness;

/// Time to wait for a pooled connection before a call fails with `unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows a query may return to a component.
pub const MAX_ROWS: usize = 10_000;

/// The app's database (SQLite, PostgreSQL or MySQL): its pools, shared by all instances.
#[derive(Clone, Debug)]
pub struct SqlBackend(Arc<dyn Backend>);

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
            SqlError::ReadOnly => CapError::Denied(SqlError::ReadOnly.to_string()),
        }
    }
}

impl From<SqlError> for CapFailure {
    fn from(error: SqlError) -> Self {
        CapFailure::Guest(error.into())
    }
}

impl SqlBackend {
    /// Connects to the database (creating a SQLite file if absent); a database that cannot be
    /// reached is an error naming it and its place in the Directive.
    pub async fn connect(connection: &DatabaseConnection) -> Result<Self, SqlError> {
        let result = async {
            let backend = Self::pools(connection)?;
            backend.0.connect().await?;
            Ok(backend)
        };
        result.await.map_err(|e: sqlx::Error| {
            SqlError::Unavailable(format!(
                "{}: cannot connect to the database {}: {e}",
                connection.location,
                connection.redacted_url()
            ))
        })
    }

    /// Pools that connect when first used, for a background connect: only a malformed URL
    /// fails here. Until the database answers, calls fail with `unavailable`.
    pub fn connect_lazy(connection: &DatabaseConnection) -> Result<Self, SqlError> {
        Self::pools(connection).map_err(|e| {
            SqlError::Invalid(format!(
                "{}: the database URL {} is not valid: {e}",
                connection.location,
                connection.redacted_url()
            ))
        })
    }

    /// The pools of the connection's kind of database, not connected yet.
    fn pools(connection: &DatabaseConnection) -> Result<Self, sqlx::Error> {
        let pools: Arc<dyn Backend> = match connection.kind {
            DatabaseKind::Sqlite => Arc::new(Pools::<Sqlite>::new(connection)?),
            DatabaseKind::Postgres => Arc::new(Pools::<Postgres>::new(connection)?),
            DatabaseKind::MySql => Arc::new(Pools::<MySql>::new(connection)?),
        };
        Ok(Self(pools))
    }

    /// Opens (and returns to the pool) one connection: whether the database answers.
    pub async fn ping(&self) -> Result<(), SqlError> {
        self.0.ping().await
    }

    /// What the backend is, for logs and `karman check`.
    pub fn describe(&self) -> &'static str {
        self.0.describe()
    }
}

/// A component's granted access: the backend, its named queries, raw and write rights.
#[derive(Clone, Debug)]
pub(crate) struct SqlAccess {
    /// The app's database.
    backend: SqlBackend,
    /// Whether the database has connected.
    ready: Readiness,
    /// The declared queries the grant lists, by name.
    queries: Arc<HashMap<String, Query>>,
    /// Whether raw SQL is granted.
    raw: bool,
    /// Whether the grant is read-only (`write: false`).
    read_only: bool,
}

impl SqlAccess {
    /// The access a grant gives, resolved once at load.
    pub(crate) fn new(
        backend: SqlBackend,
        ready: Readiness,
        grant: &SqlGrant,
        declared: &[Query],
    ) -> Self {
        let queries = declared
            .iter()
            .filter(|q| grant.queries.contains(&q.name))
            .map(|q| (q.name.clone(), q.clone()))
            .collect();
        Self {
            backend,
            ready,
            queries: Arc::new(queries),
            raw: grant.raw,
            read_only: !grant.write,
        }
    }

    /// The database, once connected (a background connect may still be trying).
    fn backend(&self) -> Result<&dyn Backend, CapError> {
        if self.ready.is_ready() {
            Ok(&*self.backend.0)
        } else {
            Err(CapError::Unavailable(
                "sql: the database is not connected yet".into(),
            ))
        }
    }

    /// The SQL of a granted named query, once its parameters are counted.
    fn named(&self, name: &str, params: &[Value]) -> Result<&str, CapError> {
        let query = self.queries.get(name).ok_or_else(|| {
            CapError::Denied(format!(
                "sql: this component is not granted the query `{name}`"
            ))
        })?;
        if params.len() != query.params {
            return Err(CapError::Invalid(format!(
                "sql: query `{name}` takes {} parameters, not {}",
                query.params,
                params.len()
            )));
        }
        Ok(&query.sql)
    }

    /// Raw SQL, if the grant allows it.
    fn raw<'q>(&self, sql: &'q str) -> Result<&'q str, CapError> {
        if self.raw {
            Ok(sql)
        } else {
            Err(CapError::Denied(
                "sql: this component is not granted raw SQL".into(),
            ))
        }
    }
}

/// The sql capability of an instance.
pub(crate) struct SqlCtx {
    /// What the component's grant allows; `None` without a `sql` grant.
    pub(crate) access: Option<SqlAccess>,
}

impl SqlCtx {
    /// The component's access, or `denied` without a grant.
    fn access(&self) -> Result<&SqlAccess, CapError> {
        self.access.as_ref().ok_or_else(|| {
            CapError::Denied("sql: this component is not granted the sql capability".into())
        })
    }
}

/// The host side of a guest's `transaction` resource.
pub struct SqlTransaction {
    /// `None` once committed or rolled back.
    tx: Option<Box<dyn Transaction>>,
    /// The access of the component that began it.
    access: SqlAccess,
}

impl SqlTransaction {
    /// The open transaction and the access it runs under; `invalid` once finished.
    fn open(&mut self) -> Result<(&SqlAccess, &mut dyn Transaction), CapError> {
        match &mut self.tx {
            Some(tx) => Ok((&self.access, &mut **tx)),
            None => Err(Self::finished()),
        }
    }

    /// Takes the open transaction, to commit or roll it back; `invalid` once finished.
    fn finish(&mut self) -> Result<Box<dyn Transaction>, CapError> {
        self.tx.take().ok_or_else(Self::finished)
    }

    /// The error of any use of a finished transaction.
    fn finished() -> CapError {
        CapError::Invalid("sql: the transaction is already committed or rolled back".into())
    }
}
