//! SQLite (embedded): a file created if absent, or a shared in-memory database. A read-only
//! grant reads through a second pool whose connections are opened read-only
//! (`SQLITE_OPEN_READONLY`, which no statement can undo) and `query_only` besides. A statement
//! is cancelled by a progress handler that looks at a flag.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteQueryResult, SqliteRow,
};

use super::classify::{Reason, Rules};
use super::dialect::{BoxFuture, Dialect, ReadOnly, ReadValue, ReaderOptions};
use super::lexer::Lexicon;
use crate::bindings::sql::Value;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Virtual-machine steps between two looks at a statement's cancel flag.
const PROGRESS_STEPS: i32 = 1000;

/// SQLite's raw SQL rules: no transaction control, and nothing that reaches a file but the
/// database's own (`ATTACH`, `VACUUM INTO`, `load_extension`, any `PRAGMA`, writes to the schema).
pub(super) const RULES: Rules = Rules {
    lexicon: Lexicon {
        hash_comments: false,
        dash_comment_needs_space: false,
        nested_comments: false,
        dollar_quotes: false,
        escape_strings: false,
        bracket_identifiers: true,
        backtick_identifiers: true,
        double_quote_strings: false,
        backslash_is_ambiguous: false,
        executable_comments: false,
    },
    leading: &[
        (&["BEGIN"], Reason::Transaction),
        (&["COMMIT"], Reason::Transaction),
        (&["END"], Reason::Transaction),
        (&["ROLLBACK"], Reason::Transaction),
        (&["SAVEPOINT"], Reason::Transaction),
        (&["RELEASE"], Reason::Transaction),
    ],
    anywhere: &[
        ("ATTACH", Reason::HostFiles),
        ("DETACH", Reason::HostFiles),
        ("VACUUM", Reason::HostFiles),
        ("PRAGMA", Reason::HostFiles),
        ("LOAD_EXTENSION", Reason::HostFiles),
    ],
    catalog: &[
        "SQLITE_MASTER",
        "SQLITE_SCHEMA",
        "SQLITE_TEMP_MASTER",
        "SQLITE_TEMP_SCHEMA",
    ],
};

impl Dialect for Sqlite {
    const LABEL: &'static str = "sqlite";

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

    const READ_ONLY: ReadOnly<ReaderOptions<Self>> = ReadOnly::Pool(|writer| {
        writer
            .clone()
            .read_only(true)
            .create_if_missing(false)
            .pragma("query_only", "ON")
    });

    const RULES: &'static Rules = &RULES;

    /// The flag the connection's progress handler looks at.
    type Cancel = Arc<AtomicBool>;

    fn arm<'c>(
        conn: &'c mut SqliteConnection,
        _: &Arc<SqliteConnectOptions>,
    ) -> BoxFuture<'c, Result<Self::Cancel, sqlx::Error>> {
        Box::pin(async move {
            let cancelled = Arc::new(AtomicBool::new(false));
            let flag = cancelled.clone();
            conn.lock_handle()
                .await?
                .set_progress_handler(PROGRESS_STEPS, move || !flag.load(Ordering::Relaxed));
            Ok(cancelled)
        })
    }

    /// Raises the flag (the statement fails with `SQLITE_INTERRUPT`), then, once the
    /// connection is free, removes the handler.
    fn cancel(cancelled: Self::Cancel, conn: &mut SqliteConnection) -> BoxFuture<'_, ()> {
        cancelled.store(true, Ordering::Relaxed);
        Box::pin(async move {
            if let Ok(mut handle) = conn.lock_handle().await {
                handle.remove_progress_handler();
            }
        })
    }

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
