//! The MySQL / MariaDB backend: binding `value`s, and reading rows back as `value`s.

use sqlx::mysql::{MySql, MySqlPoolOptions, MySqlRow};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue};
use sqlx::{AssertSqlSafe, Connection, Executor, Row, TypeInfo, ValueRef};

use super::{ACQUIRE_TIMEOUT, DecodeRow, SqlError, to_rows};
use crate::bindings::sql::{Rows, Value};

pub(super) async fn connect(
    connection: &karman_directive::DatabaseConnection,
) -> Result<sqlx::MySqlPool, sqlx::Error> {
    // One plain connection first: a pool reports only that it timed out, this says why.
    let options: sqlx::mysql::MySqlConnectOptions = connection.url.parse()?;
    let probe = tokio::time::timeout(
        ACQUIRE_TIMEOUT,
        sqlx::mysql::MySqlConnection::connect_with(&options),
    )
    .await
    .map_err(|_| sqlx::Error::PoolTimedOut)??;
    probe.close().await?;
    pool_options(connection).connect_with(options).await
}

/// A pool that connects when first used (for a background connect).
pub(super) fn connect_lazy(
    connection: &karman_directive::DatabaseConnection,
) -> Result<sqlx::MySqlPool, sqlx::Error> {
    let options: sqlx::mysql::MySqlConnectOptions = connection.url.parse()?;
    Ok(pool_options(connection).connect_lazy_with(options))
}

fn pool_options(connection: &karman_directive::DatabaseConnection) -> MySqlPoolOptions {
    MySqlPoolOptions::new()
        .max_connections(connection.max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

fn statement(
    sql: &str,
    params: &[Value],
) -> sqlx::query::Query<'static, MySql, sqlx::mysql::MySqlArguments> {
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

pub(super) async fn query<'e, E: Executor<'e, Database = MySql>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<Rows, SqlError> {
    let rows = statement(sql, params).fetch_all(executor).await?;
    to_rows(&rows)
}

pub(super) async fn execute<'e, E: Executor<'e, Database = MySql>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<u64, SqlError> {
    Ok(statement(sql, params)
        .execute(executor)
        .await?
        .rows_affected())
}

impl DecodeRow for MySqlRow {
    fn value(&self, index: usize) -> Result<Value, sqlx::Error> {
        decode(self, index)
    }
}

fn decode(row: &MySqlRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "BOOLEAN" => Value::Boolean(row.try_get(index)?),
        "TINYINT" => Value::Int(row.try_get::<i8, _>(index)?.into()),
        "SMALLINT" => Value::Int(row.try_get::<i16, _>(index)?.into()),
        "INT" | "MEDIUMINT" => Value::Int(row.try_get::<i32, _>(index)?.into()),
        "BIGINT" => Value::Int(row.try_get(index)?),
        "TINYINT UNSIGNED" => Value::Int(row.try_get::<u8, _>(index)?.into()),
        "SMALLINT UNSIGNED" => Value::Int(row.try_get::<u16, _>(index)?.into()),
        "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => Value::Int(row.try_get::<u32, _>(index)?.into()),
        "BIGINT UNSIGNED" => {
            let value: u64 = row.try_get(index)?;
            i64::try_from(value).map_or_else(|_| Value::Text(value.to_string()), Value::Int)
        }
        "FLOAT" => Value::Float(row.try_get::<f32, _>(index)?.into()),
        "DOUBLE" => Value::Float(row.try_get(index)?),
        "DECIMAL" => Value::Text(row.try_get::<Decimal, _>(index)?.to_string()),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => Value::Blob(row.try_get(index)?),
        "TIMESTAMP" => Value::Text(row.try_get::<DateTime<Utc>, _>(index)?.to_rfc3339()),
        "DATETIME" => Value::Text(
            row.try_get::<NaiveDateTime, _>(index)?
                .format("%Y-%m-%dT%H:%M:%S%.f")
                .to_string(),
        ),
        "DATE" => Value::Text(row.try_get::<NaiveDate, _>(index)?.to_string()),
        "TIME" => Value::Text(row.try_get::<NaiveTime, _>(index)?.to_string()),
        "JSON" => Value::Text(row.try_get::<JsonValue, _>(index)?.to_string()),
        "YEAR" => Value::Int(row.try_get::<u16, _>(index)?.into()),
        _ => match row.try_get::<String, _>(index) {
            Ok(text) => Value::Text(text),
            Err(_) => {
                return Err(sqlx::Error::Decode(
                    format!(
                        "columns of type {type_name} are not supported; cast the column to text"
                    )
                    .into(),
                ));
            }
        },
    })
}
