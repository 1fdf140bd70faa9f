//! The one SQL path, written once for every [`Dialect`]: pools, statements with bound `value`s,
//! read-only runs, transactions, and rows read back as `value`s — streamed, and counted against
//! `maxRows` and `maxResultBytes` as they arrive. Every statement runs [`Armed`]: cancelled on
//! the server when its call is dropped.
//!
//! [`Pools`] and [`Tx`] are generic over the database; [`Backend`] and [`Transaction`] erase it
//! for the host functions (a boxed future per call, next to a database round trip).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use karman_directive::DatabaseConnection;
use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::query::Query;
use sqlx::{
    AssertSqlSafe, Column, ColumnIndex, Connection, Encode, Executor, IntoArguments, Pool, Row,
    Type, TypeInfo, ValueRef,
};

use super::classify::check_raw;
pub(super) use super::dialect::BoxFuture;
use super::dialect::{Dialect, Options, ReadOnly};
use super::error::SqlError;
use super::running::{Armed, ResultLimits, Run};
use crate::bindings::sql::{Rows, Value};

/// Time to wait for a pooled connection before a call fails with `unavailable` (within a
/// step, the call waits less when the step has less time left: see `SqlCtx::acquire_within`).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A database's pools, whatever its dialect: what a [`super::SqlBackend`] holds.
pub(super) trait Backend: Send + Sync + Debug {
    /// What the database is, for logs and `karman check`.
    fn describe(&self) -> &'static str;
    /// The database as a metric label ([`Dialect::LABEL`]).
    fn label(&self) -> &'static str;
    /// Opens one connection outside the pools (a pool reports only that it timed out, this
    /// says why), then one connection of each pool.
    fn connect(&self) -> BoxFuture<'_, Result<(), sqlx::Error>>;
    /// Opens (and returns to the pool) one connection: whether the database answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), SqlError>>;
    /// Checks raw SQL against the dialect's rules (see [`super::classify`]).
    fn check_raw(&self, sql: &str, read_only: bool) -> Result<(), SqlError>;
    /// Begins a transaction; a read-only one under a read-only grant. Each of these three
    /// waits at most `acquire` for a connection, then fails with `unavailable`.
    fn begin(
        &self,
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'_, Result<Box<dyn Transaction>, SqlError>>;
    /// Runs a query; under a read-only grant, in a read-only transaction.
    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'a, Result<Rows, SqlError>>;
    /// Runs a statement and counts the rows it affected; under a read-only grant, in a
    /// read-only transaction.
    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'a, Result<u64, SqlError>>;
}

/// An open transaction, whatever its dialect. Dropped unfinished, it rolls back when its
/// connection goes back to the pool.
pub(super) trait Transaction: Send {
    /// Runs a query in the transaction.
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Rows, SqlError>>;
    /// Runs a statement in the transaction and counts the rows it affected.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<u64, SqlError>>;
    /// Commits.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), SqlError>>;
    /// Rolls back.
    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), SqlError>>;
}

/// A [`Dialect`] as the shared path uses it: statements run on a connection with `value`s bound,
/// and rows read back as `value`s. Every dialect is one; the bounds sqlx's generic API needs are
/// stated once, here.
pub(super) trait Driver: Dialect {
    /// Runs a query on `conn`; its rows, within `limits`.
    fn query<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &'c [Value],
        limits: ResultLimits,
    ) -> BoxFuture<'c, Result<Rows, SqlError>>;
    /// Runs a statement on `conn`; how many rows it affected.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &'c [Value],
        limits: ResultLimits,
    ) -> BoxFuture<'c, Result<u64, SqlError>>;
    /// `sql` with `params` bound (a `null` as the dialect's [`Dialect::Null`]).
    fn statement(sql: &str, params: &[Value]) -> Query<'static, Self, Self::Arguments>;
    /// The value of column `index` of `row`.
    fn value(row: &Self::Row, index: usize) -> Result<Value, sqlx::Error>;
}

impl<DB> Driver for DB
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn query<'c>(
        conn: &'c mut DB::Connection,
        sql: &'c str,
        params: &'c [Value],
        limits: ResultLimits,
    ) -> BoxFuture<'c, Result<Rows, SqlError>> {
        let rows = conn.fetch(DB::statement(sql, params));
        Box::pin(async move {
            let mut rows = rows;
            let mut result = Rows {
                columns: Vec::new(),
                rows: Vec::new(),
            };
            let mut bytes = 0u64;
            while let Some(row) = rows.try_next().await? {
                if result.rows.is_empty() {
                    result.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                    bytes += result.columns.iter().map(|c| c.len() as u64).sum::<u64>();
                }
                if result.rows.len() as u64 >= limits.max_rows {
                    return Err(SqlError::TooLarge(format!(
                        "sql: the query returns more than {} rows (`maxRows`); add a LIMIT",
                        limits.max_rows
                    )));
                }
                let values = (0..row.len())
                    .map(|i| DB::value(&row, i))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                bytes += values.iter().map(size_of_value).sum::<u64>();
                if bytes > limits.max_bytes {
                    return Err(SqlError::TooLarge(format!(
                        "sql: the query returns more than {} bytes (`maxResultBytes`); select fewer or smaller values",
                        limits.max_bytes
                    )));
                }
                result.rows.push(values);
            }
            Ok(result)
        })
    }

    fn execute<'c>(
        conn: &'c mut DB::Connection,
        sql: &'c str,
        params: &'c [Value],
        _: ResultLimits,
    ) -> BoxFuture<'c, Result<u64, SqlError>> {
        let result = conn.execute(DB::statement(sql, params));
        Box::pin(async move { Ok(DB::rows_affected(&result.await?)) })
    }

    fn statement(sql: &str, params: &[Value]) -> Query<'static, DB, DB::Arguments> {
        let mut query = sqlx::query(AssertSqlSafe(sql.to_string()));
        for param in params {
            query = match param {
                Value::Null => query.bind(DB::Null::default()),
                Value::Boolean(value) => query.bind(*value),
                Value::Int(value) => query.bind(*value),
                Value::Float(value) => query.bind(*value),
                Value::Text(value) => query.bind(value.clone()),
                Value::Blob(value) => query.bind(value.clone()),
            };
        }
        query
    }

    fn value(row: &DB::Row, index: usize) -> Result<Value, sqlx::Error> {
        let raw = row.try_get_raw(index)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        DB::decode(row, index, raw.type_info().name())
    }
}

/// What a value weighs against `maxResultBytes`: its bytes, or 8 for a number.
fn size_of_value(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Boolean(_) => 1,
        Value::Int(_) | Value::Float(_) => 8,
        Value::Text(text) => text.len() as u64,
        Value::Blob(blob) => blob.len() as u64,
    }
}

/// `work` (which needs a pooled connection), given at most `acquire`: past it, the call
/// fails with `unavailable`, as when the pool itself times out.
async fn within<T>(
    acquire: Duration,
    work: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, SqlError> {
    match tokio::time::timeout(acquire, work).await {
        Ok(result) => Ok(result?),
        Err(_elapsed) => Err(SqlError::Unavailable(format!(
            "sql: the database is unavailable (no connection within {})",
            humantime::format_duration(acquire)
        ))),
    }
}

/// The pools of one database.
#[derive(Debug)]
pub(super) struct Pools<DB: Dialect> {
    /// Connections that may write.
    writer: Pool<DB>,
    /// Where read-only statements run: a pool of their own, or transactions begun read-only.
    read_only: ReadOnly<Pool<DB>>,
    /// The bounds of a query's result.
    limits: ResultLimits,
    /// The options a cancelling connection is opened with.
    options: Arc<Options<DB>>,
}

impl<DB: Driver> Pools<DB> {
    /// Pools that connect when first used: only a malformed URL fails here.
    pub(super) fn new(connection: &DatabaseConnection) -> Result<Self, sqlx::Error> {
        let options = DB::connect_options(&connection.url)?;
        let pool = |options| {
            PoolOptions::<DB>::new()
                .max_connections(connection.max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options)
        };
        Ok(Self {
            read_only: DB::READ_ONLY.map(|reader| pool(reader(&options))),
            limits: ResultLimits {
                max_rows: connection.max_rows,
                max_bytes: connection.max_result_bytes,
            },
            options: Arc::new(options.clone()),
            writer: pool(options),
        })
    }

    /// Begins a transaction, read-only as the dialect enforces it if `read_only`, waiting at
    /// most `acquire` for its connection.
    async fn transaction(&self, read_only: bool, acquire: Duration) -> Result<Tx<DB>, SqlError> {
        let tx = match (read_only, &self.read_only) {
            (false, _) => within(acquire, self.writer.begin()).await?,
            (true, ReadOnly::Pool(reader)) => within(acquire, reader.begin()).await?,
            (true, ReadOnly::Begin(statement)) => {
                within(acquire, self.writer.begin_with(*statement)).await?
            }
        };
        Ok(Tx {
            conn: Armed::new(tx, self.options.clone()),
            limits: self.limits,
        })
    }

    /// Runs a statement on a connection of the writer pool or, under a read-only grant, in a
    /// read-only transaction committed after it.
    async fn run<T>(
        &self,
        run: Run<DB, T>,
        sql: &str,
        params: &[Value],
        read_only: bool,
        acquire: Duration,
    ) -> Result<T, SqlError> {
        if !read_only {
            let mut conn: Armed<DB, PoolConnection<DB>> = Armed::new(
                within(acquire, self.writer.acquire()).await?,
                self.options.clone(),
            );
            return conn.run(run, sql, params, self.limits).await;
        }
        let mut tx = self.transaction(true, acquire).await?;
        let outcome = tx.conn.run(run, sql, params, self.limits).await?;
        tx.conn.into_inner().commit().await?;
        Ok(outcome)
    }
}

impl<DB: Driver> Backend for Pools<DB> {
    fn describe(&self) -> &'static str {
        DB::NAME
    }

    fn label(&self) -> &'static str {
        DB::LABEL
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let options = self.writer.connect_options();
            let probe =
                tokio::time::timeout(ACQUIRE_TIMEOUT, DB::Connection::connect_with(&options))
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
            probe.close().await?;
            drop(self.writer.acquire().await?);
            if let ReadOnly::Pool(reader) = &self.read_only {
                drop(reader.acquire().await?);
            }
            Ok(())
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), SqlError>> {
        Box::pin(async move {
            drop(self.writer.acquire().await?);
            Ok(())
        })
    }

    fn check_raw(&self, sql: &str, read_only: bool) -> Result<(), SqlError> {
        check_raw(sql, DB::RULES, read_only)
    }

    fn begin(
        &self,
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'_, Result<Box<dyn Transaction>, SqlError>> {
        Box::pin(async move {
            let tx: Box<dyn Transaction> = Box::new(self.transaction(read_only, acquire).await?);
            Ok(tx)
        })
    }

    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'a, Result<Rows, SqlError>> {
        Box::pin(self.run(DB::query, sql, params, read_only, acquire))
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
        read_only: bool,
        acquire: Duration,
    ) -> BoxFuture<'a, Result<u64, SqlError>> {
        Box::pin(self.run(DB::execute, sql, params, read_only, acquire))
    }
}

/// An open transaction on one database.
struct Tx<DB: Dialect> {
    /// Its connection, cancelled on the server if dropped mid-statement.
    conn: Armed<DB, sqlx::Transaction<'static, DB>>,
    /// The bounds of a query's result.
    limits: ResultLimits,
}

impl<DB: Driver> Transaction for Tx<DB> {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Rows, SqlError>> {
        Box::pin(self.conn.run(DB::query, sql, params, self.limits))
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<u64, SqlError>> {
        Box::pin(self.conn.run(DB::execute, sql, params, self.limits))
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), SqlError>> {
        Box::pin(async move { Ok(self.conn.into_inner().commit().await?) })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), SqlError>> {
        Box::pin(async move { Ok(self.conn.into_inner().rollback().await?) })
    }
}
