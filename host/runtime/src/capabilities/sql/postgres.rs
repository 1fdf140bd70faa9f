//! PostgreSQL: a NULL parameter of no type (the server infers it), and the types read back as
//! `value`s. A read-only grant runs its statements in `BEGIN READ ONLY` transactions.

use sqlx::postgres::{PgArgumentBuffer, PgQueryResult, PgRow, PgTypeInfo, Postgres};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue, Uuid};

use super::dialect::{Dialect, ReadOnly, ReadValue, ReaderOptions};
use crate::bindings::sql::Value;

impl Dialect for Postgres {
    type Null = UntypedNull;

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> = ReadOnly::Begin("BEGIN READ ONLY");

    fn decode(row: &PgRow, index: usize, type_name: &str) -> Result<Value, sqlx::Error> {
        match type_name {
            "BOOL" => row.read::<bool>(index),
            "INT2" => row.read::<i16>(index),
            "INT4" => row.read::<i32>(index),
            "INT8" => row.read::<i64>(index),
            "FLOAT4" => row.read::<f32>(index),
            "FLOAT8" => row.read::<f64>(index),
            "NUMERIC" => row.read::<Decimal>(index),
            "BYTEA" => row.read::<Vec<u8>>(index),
            "TIMESTAMPTZ" => row.read::<DateTime<Utc>>(index),
            "TIMESTAMP" => row.read::<NaiveDateTime>(index),
            "DATE" => row.read::<NaiveDate>(index),
            "TIME" => row.read::<NaiveTime>(index),
            "JSON" | "JSONB" => row.read::<JsonValue>(index),
            "UUID" => row.read::<Uuid>(index),
            _ => row.text(index, type_name),
        }
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A NULL whose type the server infers from the statement (type OID 0, "unspecified"), so it
/// fits a column of any type.
#[derive(Default)]
pub(super) struct UntypedNull;

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
