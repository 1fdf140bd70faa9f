//! The PostgreSQL backend: binding `value`s, and reading rows back as `value`s.

use sqlx::postgres::{PgArgumentBuffer, PgPoolOptions, PgRow, PgTypeInfo, Postgres};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue, Uuid};
use sqlx::{AssertSqlSafe, Connection, Executor, Row, TypeInfo, ValueRef};

use super::{ACQUIRE_TIMEOUT, DecodeRow, SqlError, to_rows};
use crate::bindings::sql::{Rows, Value};

pub(super) async fn connect(
    connection: &karman_directive::DatabaseConnection,
) -> Result<sqlx::PgPool, sqlx::Error> {
    // One plain connection first: a pool reports only that it timed out, this says why.
    let options: sqlx::postgres::PgConnectOptions = connection.url.parse()?;
    let probe = tokio::time::timeout(
        ACQUIRE_TIMEOUT,
        sqlx::postgres::PgConnection::connect_with(&options),
    )
    .await
    .map_err(|_| sqlx::Error::PoolTimedOut)??;
    probe.close().await?;
    pool_options(connection).connect_with(options).await
}

/// A pool that connects when first used (for a background connect).
pub(super) fn connect_lazy(
    connection: &karman_directive::DatabaseConnection,
) -> Result<sqlx::PgPool, sqlx::Error> {
    let options: sqlx::postgres::PgConnectOptions = connection.url.parse()?;
    Ok(pool_options(connection).connect_lazy_with(options))
}

fn pool_options(connection: &karman_directive::DatabaseConnection) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(connection.max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// A NULL whose type the server infers from the statement (type OID 0, "unspecified"), so it
/// fits a column of any type.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

fn statement(
    sql: &str,
    params: &[Value],
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_string()));
    for param in params {
        query = match param {
            Value::Null => query.bind(UntypedNull),
            Value::Boolean(value) => query.bind(*value),
            Value::Int(value) => query.bind(*value),
            Value::Float(value) => query.bind(*value),
            Value::Text(value) => query.bind(value.clone()),
            Value::Blob(value) => query.bind(value.clone()),
        };
    }
    query
}

pub(super) async fn query<'e, E: Executor<'e, Database = Postgres>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<Rows, SqlError> {
    let rows = statement(sql, params).fetch_all(executor).await?;
    to_rows(&rows)
}

pub(super) async fn execute<'e, E: Executor<'e, Database = Postgres>>(
    executor: E,
    sql: &str,
    params: &[Value],
) -> Result<u64, SqlError> {
    Ok(statement(sql, params)
        .execute(executor)
        .await?
        .rows_affected())
}

impl DecodeRow for PgRow {
    fn value(&self, index: usize) -> Result<Value, sqlx::Error> {
        decode(self, index)
    }
}

fn decode(row: &PgRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "BOOL" => Value::Boolean(row.try_get(index)?),
        "INT2" => Value::Int(row.try_get::<i16, _>(index)?.into()),
        "INT4" => Value::Int(row.try_get::<i32, _>(index)?.into()),
        "INT8" => Value::Int(row.try_get(index)?),
        "FLOAT4" => Value::Float(row.try_get::<f32, _>(index)?.into()),
        "FLOAT8" => Value::Float(row.try_get(index)?),
        "NUMERIC" => Value::Text(row.try_get::<Decimal, _>(index)?.to_string()),
        "BYTEA" => Value::Blob(row.try_get(index)?),
        "TIMESTAMPTZ" => Value::Text(row.try_get::<DateTime<Utc>, _>(index)?.to_rfc3339()),
        "TIMESTAMP" => Value::Text(
            row.try_get::<NaiveDateTime, _>(index)?
                .format("%Y-%m-%dT%H:%M:%S%.f")
                .to_string(),
        ),
        "DATE" => Value::Text(row.try_get::<NaiveDate, _>(index)?.to_string()),
        "TIME" => Value::Text(row.try_get::<NaiveTime, _>(index)?.to_string()),
        "JSON" | "JSONB" => Value::Text(row.try_get::<JsonValue, _>(index)?.to_string()),
        "UUID" => Value::Text(row.try_get::<Uuid, _>(index)?.to_string()),
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
