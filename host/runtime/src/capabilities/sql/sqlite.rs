//! The SQLite backend (embedded): a file created if absent, or a shared in-memory database;
//! a writer pool and a `query_only` reader pool.

use std::str::FromStr;

use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Executor, Row, TypeInfo, ValueRef};

use super::{ACQUIRE_TIMEOUT, DecodeRow, SqlBackend, SqlError, to_rows};
use crate::bindings::sql::{Rows, Value};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn connect(
    connection: &karman_directive::DatabaseConnection,
) -> Result<SqlBackend, sqlx::Error> {
    let options = connect_options(connection)?;
    let writer = pool_options(connection)
        .connect_with(options.clone())
        .await?;
    let reader = pool_options(connection)
        .connect_with(options.pragma("query_only", "ON"))
        .await?;
    Ok(SqlBackend::Sqlite { writer, reader })
}

/// Pools that connect when first used (for a background connect).
pub(super) fn connect_lazy(
    connection: &karman_directive::DatabaseConnection,
) -> Result<SqlBackend, sqlx::Error> {
    let options = connect_options(connection)?;
    Ok(SqlBackend::Sqlite {
        writer: pool_options(connection).connect_lazy_with(options.clone()),
        reader: pool_options(connection).connect_lazy_with(options.pragma("query_only", "ON")),
    })
}

fn connect_options(
    connection: &karman_directive::DatabaseConnection,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    // `sqlite::memory:` would give every pooled connection a database of its own.
    let url = if connection.url == "sqlite::memory:" {
        "sqlite:file:karman?mode=memory&cache=shared".to_string()
    } else {
        connection.url.clone()
    };
    let options = SqliteConnectOptions::from_str(&url)?
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    Ok(if url.contains("mode=memory") {
        options
    } else {
        options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
    })
}

fn pool_options(connection: &karman_directive::DatabaseConnection) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connection.max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

fn statement(
    sql: &str,
    params: &[Value],
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_string()));
    for param in params {
        query = match param {
            Value::Null => query.bind(None::<String>),
            Value::Boolean(value) => query.bind(*value),
            Value::Int(value) => query.bind(*value),
            Value::Float(value) => query.bind(*value),
            Value::Text(value) => query.bind(value.clone()),
            Value::Blob(value) => query.bind(value.clone()),
        };
    }
    query
}

pub(super) async fn query<'e, E: Executor<'e, Database = Sqlite>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<Rows, SqlError> {
    let rows = statement(sql, params).fetch_all(executor).await?;
    to_rows(&rows)
}

pub(super) async fn execute<'e, E: Executor<'e, Database = Sqlite>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<u64, SqlError> {
    Ok(statement(sql, params)
        .execute(executor)
        .await?
        .rows_affected())
}

impl DecodeRow for SqliteRow {
    fn value(&self, index: usize) -> Result<Value, sqlx::Error> {
        decode(self, index)
    }
}

/// SQLite values carry their own storage class, whatever the column's declared type.
fn decode(row: &SqliteRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "INTEGER" | "INT8" | "BOOLEAN" => Value::Int(row.try_get(index)?),
        "REAL" => Value::Float(row.try_get(index)?),
        "BLOB" => Value::Blob(row.try_get(index)?),
        _ => Value::Text(row.try_get(index)?),
    })
}
