//! MySQL and MariaDB: the types read back as `value`s. A read-only grant runs its statements in
//! `START TRANSACTION READ ONLY` transactions.

use sqlx::mysql::{MySql, MySqlQueryResult, MySqlRow};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue};

use super::dialect::{Dialect, ReadOnly, ReadValue, ReaderOptions};
use crate::bindings::sql::Value;

impl Dialect for MySql {
    type Null = Option<String>;

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> = ReadOnly::Begin("START TRANSACTION READ ONLY");

    fn decode(row: &MySqlRow, index: usize, type_name: &str) -> Result<Value, sqlx::Error> {
        match type_name {
            "BOOLEAN" => row.read::<bool>(index),
            "TINYINT" => row.read::<i8>(index),
            "SMALLINT" => row.read::<i16>(index),
            "INT" | "MEDIUMINT" => row.read::<i32>(index),
            "BIGINT" => row.read::<i64>(index),
            "TINYINT UNSIGNED" => row.read::<u8>(index),
            "SMALLINT UNSIGNED" | "YEAR" => row.read::<u16>(index),
            "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => row.read::<u32>(index),
            "BIGINT UNSIGNED" => row.read::<u64>(index),
            "FLOAT" => row.read::<f32>(index),
            "DOUBLE" => row.read::<f64>(index),
            "DECIMAL" => row.read::<Decimal>(index),
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
            | "GEOMETRY" => row.read::<Vec<u8>>(index),
            "TIMESTAMP" => row.read::<DateTime<Utc>>(index),
            "DATETIME" => row.read::<NaiveDateTime>(index),
            "DATE" => row.read::<NaiveDate>(index),
            "TIME" => row.read::<NaiveTime>(index),
            "JSON" => row.read::<JsonValue>(index),
            _ => row.text(index, type_name),
        }
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }
}
