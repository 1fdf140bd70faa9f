//! SQLite (embedded): a file created if absent, or a shared in-memory database. A read-only
//! grant reads through a second pool whose connections are `query_only`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqliteQueryResult, SqliteRow};

use super::dialect::{Dialect, ReadOnly, ReadValue, ReaderOptions};
use crate::bindings::sql::Value;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Dialect for Sqlite {
    type Null = Option<String>;

    fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
        // `sqlite::memory:` would give every pooled connection a database of its own.
        let url = match url {
            "sqlite::memory:" => "sqlite:file:karman?mode=memory&cache=shared",
            url => url,
        };
        let options = SqliteConnectOptions::from_str(url)?
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

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> =
        ReadOnly::Pool(|writer| writer.clone().pragma("query_only", "ON"));

    /// SQLite values carry their own storage class, whatever the column's declared type.
    fn decode(row: &SqliteRow, index: usize, type_name: &str) -> Result<Value, sqlx::Error> {
        match type_name {
            "INTEGER" | "INT8" | "BOOLEAN" => row.read::<i64>(index),
            "REAL" => row.read::<f64>(index),
            "BLOB" => row.read::<Vec<u8>>(index),
            _ => row.text(index, type_name),
        }
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}
