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
//! Backends: [`sqlite`], [`postgres`], [`mysql`]; one file each.

mod host;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use karman_directive::{DatabaseConnection, DatabaseKind, Query, SqlGrant};
use sqlx::{MySql, Postgres, Sqlite, Transaction};

pub(crate) use host::{Sql, SqlView};

use crate::bindings::sql::{Rows, Value};
use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;
use crate::health::Readiness;

/// Time to wait for a pooled connection before a call fails with `unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows a query may return to a component.
pub const MAX_ROWS: usize = 10_000;

/// The app's database: a pool per kind (SQLite has a second, read-only pool).
#[derive(Clone, Debug)]
pub enum SqlBackend {
    /// SQLite: a writer pool and a pool whose connections are `query_only`.
    Sqlite {
        /// Connections that may write.
        writer: sqlx::SqlitePool,
        /// Connections that may only read.
        reader: sqlx::SqlitePool,
    },
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB.
    MySql(sqlx::MySqlPool),
}

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
        let result = match connection.kind {
            DatabaseKind::Sqlite => sqlite::connect(connection).await,
            DatabaseKind::Postgres => postgres::connect(connection).await.map(Self::Postgres),
            DatabaseKind::MySql => mysql::connect(connection).await.map(Self::MySql),
        };
        result.map_err(|e| {
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
        let result = match connection.kind {
            DatabaseKind::Sqlite => sqlite::connect_lazy(connection),
            DatabaseKind::Postgres => postgres::connect_lazy(connection).map(Self::Postgres),
            DatabaseKind::MySql => mysql::connect_lazy(connection).map(Self::MySql),
        };
        result.map_err(|e| {
            SqlError::Invalid(format!(
                "{}: the database URL {} is not valid: {e}",
                connection.location,
                connection.redacted_url()
            ))
        })
    }

    /// Opens (and returns to the pool) one connection: whether the database answers.
    pub async fn ping(&self) -> Result<(), SqlError> {
        match self {
            Self::Sqlite { writer, .. } => drop(writer.acquire().await?),
            Self::Postgres(pool) => drop(pool.acquire().await?),
            Self::MySql(pool) => drop(pool.acquire().await?),
        }
        Ok(())
    }

    /// What the backend is, for logs and `karman check`.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
            Self::MySql(_) => "MySQL",
        }
    }

    async fn begin(&self, read_only: bool) -> Result<Tx, SqlError> {
        Ok(match self {
            Self::Sqlite { writer, reader } => Tx::Sqlite(if read_only {
                reader.begin().await?
            } else {
                writer.begin().await?
            }),
            Self::Postgres(pool) if read_only => {
                Tx::Postgres(pool.begin_with("BEGIN READ ONLY").await?)
            }
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Self::MySql(pool) if read_only => {
                Tx::MySql(pool.begin_with("START TRANSACTION READ ONLY").await?)
            }
            Self::MySql(pool) => Tx::MySql(pool.begin().await?),
        })
    }

    async fn query(&self, sql: &str, params: &[Value], read_only: bool) -> Result<Rows, SqlError> {
        if read_only {
            let mut tx = self.begin(true).await?;
            let rows = tx.query(sql, params).await?;
            tx.commit().await?;
            return Ok(rows);
        }
        match self {
            Self::Sqlite { writer, .. } => sqlite::query(writer, sql, params).await,
            Self::Postgres(pool) => postgres::query(pool, sql, params).await,
            Self::MySql(pool) => mysql::query(pool, sql, params).await,
        }
    }

    async fn execute(&self, sql: &str, params: &[Value], read_only: bool) -> Result<u64, SqlError> {
        if read_only {
            let mut tx = self.begin(true).await?;
            let affected = tx.execute(sql, params).await?;
            tx.commit().await?;
            return Ok(affected);
        }
        match self {
            Self::Sqlite { writer, .. } => sqlite::execute(writer, sql, params).await,
            Self::Postgres(pool) => postgres::execute(pool, sql, params).await,
            Self::MySql(pool) => mysql::execute(pool, sql, params).await,
        }
    }
}

/// An open transaction on one of the backends.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    MySql(Transaction<'static, MySql>),
}

impl Tx {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        match self {
            Tx::Sqlite(tx) => sqlite::query(&mut **tx, sql, params).await,
            Tx::Postgres(tx) => postgres::query(&mut **tx, sql, params).await,
            Tx::MySql(tx) => mysql::query(&mut **tx, sql, params).await,
        }
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        match self {
            Tx::Sqlite(tx) => sqlite::execute(&mut **tx, sql, params).await,
            Tx::Postgres(tx) => postgres::execute(&mut **tx, sql, params).await,
            Tx::MySql(tx) => mysql::execute(&mut **tx, sql, params).await,
        }
    }

    async fn commit(self) -> Result<(), SqlError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::MySql(tx) => tx.commit().await?,
        }
        Ok(())
    }

    async fn rollback(self) -> Result<(), SqlError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::MySql(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A component's granted access: the backend, its named queries, raw and write rights.
#[derive(Clone, Debug)]
pub(crate) struct SqlAccess {
    backend: SqlBackend,
    ready: Readiness,
    queries: Arc<HashMap<String, Query>>,
    raw: bool,
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
    fn backend(&self) -> Result<&SqlBackend, CapError> {
        if self.ready.is_ready() {
            Ok(&self.backend)
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
    pub(crate) access: Option<SqlAccess>,
}

impl SqlCtx {
    fn access(&self) -> Result<&SqlAccess, CapError> {
        self.access.as_ref().ok_or_else(|| {
            CapError::Denied("sql: this component is not granted the sql capability".into())
        })
    }
}

/// The host side of a guest's `transaction` resource.
pub struct SqlTransaction {
    /// `None` once committed or rolled back.
    tx: Option<Tx>,
    /// The access of the component that began it.
    access: SqlAccess,
}

impl SqlTransaction {
    /// The open transaction and the access it runs under; `invalid` once finished.
    fn open(&mut self) -> Result<(&SqlAccess, &mut Tx), CapError> {
        match &mut self.tx {
            Some(tx) => Ok((&self.access, tx)),
            None => Err(Self::finished()),
        }
    }

    /// Takes the open transaction, to commit or roll it back; `invalid` once finished.
    fn finish(&mut self) -> Result<Tx, CapError> {
        self.tx.take().ok_or_else(Self::finished)
    }

    /// The error of any use of a finished transaction.
    fn finished() -> CapError {
        CapError::Invalid("sql: the transaction is already committed or rolled back".into())
    }
}

/// A backend's row, read back as `value`s.
trait DecodeRow: sqlx::Row {
    /// The value of column `index`.
    fn value(&self, index: usize) -> Result<Value, sqlx::Error>;
}

/// The rows of a result as the guest gets them: column names, then values, within the size cap.
fn to_rows<R: DecodeRow>(rows: &[R]) -> Result<Rows, SqlError> {
    use sqlx::Column as _;
    if rows.len() > MAX_ROWS {
        return Err(SqlError::Invalid(format!(
            "sql: the query returned {} rows, more than {MAX_ROWS}; add a LIMIT",
            rows.len()
        )));
    }
    let columns = rows
        .first()
        .map(|row| row.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| row.value(i)).collect())
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Rows { columns, rows })
}
