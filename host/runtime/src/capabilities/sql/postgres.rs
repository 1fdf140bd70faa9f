//! PostgreSQL: a NULL parameter of no type (the server infers it), and the types read back as
//! `value`s. A read-only grant runs its statements in `BEGIN READ ONLY` transactions. A statement
//! is cancelled with `pg_cancel_backend` from a connection of its own.

use std::sync::Arc;

use sqlx::Connection;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgConnection, PgQueryResult, PgRow, PgTypeInfo, Postgres,
};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue, Uuid};

use super::classify::{Reason, Rules};
use super::dialect::{BoxFuture, Dialect, ReadOnly, ReadValue, ReaderOptions};
use super::lexer::Lexicon;
use super::running::{CANCEL_TIMEOUT, cancel_failed, drain};
use crate::bindings::sql::Value;

/// PostgreSQL's raw SQL rules: no transaction control or session state, no server files or
/// programs (`COPY`, `LOAD`, `pg_read_file`, large-object import and export), no `DO` blocks.
pub(super) const RULES: Rules = Rules {
    lexicon: Lexicon {
        hash_comments: false,
        dash_comment_needs_space: false,
        nested_comments: true,
        dollar_quotes: true,
        escape_strings: true,
        bracket_identifiers: false,
        backtick_identifiers: false,
        double_quote_strings: false,
        backslash_is_ambiguous: true,
        executable_comments: false,
    },
    leading: &[
        (&["BEGIN"], Reason::Transaction),
        (&["START"], Reason::Transaction),
        (&["COMMIT"], Reason::Transaction),
        (&["END"], Reason::Transaction),
        (&["ROLLBACK"], Reason::Transaction),
        (&["ABORT"], Reason::Transaction),
        (&["SAVEPOINT"], Reason::Transaction),
        (&["RELEASE"], Reason::Transaction),
        (&["PREPARE", "TRANSACTION"], Reason::Transaction),
        (&["SET"], Reason::Session),
        (&["RESET"], Reason::Session),
        (&["DISCARD"], Reason::Session),
        (&["PREPARE"], Reason::Session),
        (&["EXECUTE"], Reason::Session),
        (&["DEALLOCATE"], Reason::Session),
        (&["LISTEN"], Reason::Session),
        (&["UNLISTEN"], Reason::Session),
        (&["DECLARE"], Reason::Session),
        (&["DO"], Reason::Code),
        (&["COPY"], Reason::HostFiles),
        (&["LOAD"], Reason::HostFiles),
        (&["ALTER", "SYSTEM"], Reason::Administration),
        (&["CHECKPOINT"], Reason::Administration),
    ],
    anywhere: &[
        ("SET_CONFIG", Reason::Session),
        ("PG_READ_FILE", Reason::HostFiles),
        ("PG_READ_BINARY_FILE", Reason::HostFiles),
        ("PG_LS_DIR", Reason::HostFiles),
        ("PG_STAT_FILE", Reason::HostFiles),
        ("LO_IMPORT", Reason::HostFiles),
        ("LO_EXPORT", Reason::HostFiles),
        ("PG_TERMINATE_BACKEND", Reason::Administration),
        ("PG_CANCEL_BACKEND", Reason::Administration),
        ("PG_RELOAD_CONF", Reason::Administration),
    ],
    catalog: &[],
};

impl Dialect for Postgres {
    const LABEL: &'static str = "postgres";

    type Null = UntypedNull;

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> = ReadOnly::Begin("BEGIN READ ONLY");

    const RULES: &'static Rules = &RULES;

    /// The backend's pid, and how to connect to cancel it.
    type Cancel = (i32, Arc<PgConnectOptions>);

    fn arm<'c>(
        conn: &'c mut PgConnection,
        options: &Arc<PgConnectOptions>,
    ) -> BoxFuture<'c, Result<Self::Cancel, sqlx::Error>> {
        let options = options.clone();
        Box::pin(async move {
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(conn)
                .await?;
            Ok((pid, options))
        })
    }

    /// `pg_cancel_backend(pid)` from a connection of its own; then reads the cancelled
    /// statement's error, so the connection goes back to the pool ready.
    fn cancel((pid, options): Self::Cancel, conn: &mut PgConnection) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let cancel = async {
                let mut other = PgConnection::connect_with(&options).await?;
                sqlx::query("SELECT pg_cancel_backend($1)")
                    .bind(pid)
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
