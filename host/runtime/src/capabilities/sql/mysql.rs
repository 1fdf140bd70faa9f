//! MySQL and MariaDB: the types read back as `value`s. A read-only grant runs its statements in
//! `START TRANSACTION READ ONLY` transactions. A statement is cancelled with `KILL QUERY` from a
//! connection of its own.

use std::sync::Arc;

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlConnection, MySqlQueryResult, MySqlRow};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue};
use sqlx::{AssertSqlSafe, Connection};

use super::classify::{Reason, Rules};
use super::dialect::{BoxFuture, Dialect, ReadOnly, ReadValue, ReaderOptions};
use super::lexer::Lexicon;
use super::running::{CANCEL_TIMEOUT, cancel_failed, drain};
use crate::bindings::sql::Value;

/// MySQL's raw SQL rules: no transaction control (`XA`, `LOCK TABLES` included) or session
/// state, no server files (`LOAD DATA`, `INTO OUTFILE`, `LOAD_FILE`), no server administration.
pub(super) const RULES: Rules = Rules {
    lexicon: Lexicon {
        hash_comments: true,
        dash_comment_needs_space: true,
        nested_comments: false,
        dollar_quotes: false,
        escape_strings: false,
        bracket_identifiers: false,
        backtick_identifiers: true,
        double_quote_strings: true,
        backslash_is_ambiguous: true,
        executable_comments: true,
    },
    leading: &[
        (&["BEGIN"], Reason::Transaction),
        (&["START"], Reason::Transaction),
        (&["COMMIT"], Reason::Transaction),
        (&["ROLLBACK"], Reason::Transaction),
        (&["SAVEPOINT"], Reason::Transaction),
        (&["RELEASE"], Reason::Transaction),
        (&["XA"], Reason::Transaction),
        (&["LOCK"], Reason::Transaction),
        (&["UNLOCK"], Reason::Transaction),
        (&["SET"], Reason::Session),
        (&["RESET"], Reason::Session),
        (&["USE"], Reason::Session),
        (&["PREPARE"], Reason::Session),
        (&["EXECUTE"], Reason::Session),
        (&["DEALLOCATE"], Reason::Session),
        (&["HANDLER"], Reason::Session),
        (&["LOAD"], Reason::HostFiles),
        (&["INSTALL"], Reason::HostFiles),
        (&["UNINSTALL"], Reason::HostFiles),
        (&["KILL"], Reason::Administration),
        (&["SHUTDOWN"], Reason::Administration),
        (&["FLUSH"], Reason::Administration),
    ],
    anywhere: &[
        ("OUTFILE", Reason::HostFiles),
        ("DUMPFILE", Reason::HostFiles),
        ("LOAD_FILE", Reason::HostFiles),
    ],
    catalog: &[],
};

impl Dialect for MySql {
    const LABEL: &'static str = "mysql";

    type Null = Option<String>;

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> = ReadOnly::Begin("START TRANSACTION READ ONLY");

    const RULES: &'static Rules = &RULES;

    /// The connection's id, and how to connect to cancel its query.
    type Cancel = (u64, Arc<MySqlConnectOptions>);

    fn arm<'c>(
        conn: &'c mut MySqlConnection,
        options: &Arc<MySqlConnectOptions>,
    ) -> BoxFuture<'c, Result<Self::Cancel, sqlx::Error>> {
        let options = options.clone();
        Box::pin(async move {
            let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                .fetch_one(conn)
                .await?;
            Ok((id, options))
        })
    }

    /// `KILL QUERY <id>` from a connection of its own; then reads the killed statement's end,
    /// so the connection goes back to the pool ready.
    fn cancel((id, options): Self::Cancel, conn: &mut MySqlConnection) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let cancel = async {
                let mut other = MySqlConnection::connect_with(&options).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("KILL QUERY {id}")))
                    .execute(&mut other)
                    .await?;
                other.close().await
            };
            match tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
                Ok(Ok(())) => drain(conn).await,
                Ok(Err(error)) => cancel_failed(error),
                Err(_) => cancel_failed("timed out"),
            }
        })
    }

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
