//! [`Armed`]: a connection whose running statement is cancelled on the server when the call
//! running it is dropped (a step's timeout or trap drops the host call mid-statement), or when
//! its result outgrows the caps.
//!
//! Before each statement the dialect arms a cancel ([`Dialect::arm`]: PostgreSQL's backend
//! pid, MySQL's connection id, a SQLite progress-handler flag). Dropped while armed, the guard
//! keeps the connection, cancels the statement from a task ([`Dialect::cancel`]:
//! `pg_cancel_backend`, `KILL QUERY`, the flag), and only then lets the connection go back to
//! its pool, so the cancel can reach no other statement and the connection returns healthy.

use std::ops::DerefMut;
use std::sync::Arc;
use std::time::Duration;

use super::dialect::{BoxFuture, Dialect, Options};
use super::error::SqlError;
use crate::bindings::sql::Value;

/// The bounds of one query's result, checked as its rows arrive.
#[derive(Clone, Copy, Debug)]
pub(super) struct ResultLimits {
    /// Rows at most (`maxRows`).
    pub(super) max_rows: u64,
    /// Bytes of values (and column names) at most (`maxResultBytes`).
    pub(super) max_bytes: u64,
}

/// A statement run on a connection (a query, or an execute), and what it gives back.
pub(super) type Run<DB, T> = for<'c> fn(
    &'c mut <DB as sqlx::Database>::Connection,
    &'c str,
    &'c [Value],
    ResultLimits,
) -> BoxFuture<'c, Result<T, SqlError>>;

/// Time a server-side cancel (a connection of its own, one statement) may take.
pub(super) const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// Logs a server-side cancel that failed: the connection then waits for its statement to end.
pub(super) fn cancel_failed(error: impl std::fmt::Display) {
    tracing::warn!(%error, "sql: could not cancel an interrupted statement on the server");
}

/// Reads what a cancelled statement left on `conn` (its error, then the end of the reply): a
/// ping answers once the connection is ready again.
pub(super) async fn drain<C: sqlx::Connection>(conn: &mut C) {
    for _ in 0..2 {
        if conn.ping().await.is_ok() {
            return;
        }
    }
}

/// A connection (pooled, or a transaction's) and the cancel of the statement it runs, if any.
pub(super) struct Armed<DB: Dialect, C: DerefMut<Target = DB::Connection> + Send + 'static> {
    /// `None` once taken back with [`Armed::into_inner`].
    conn: Option<C>,
    /// Set while a statement runs.
    cancel: Option<DB::Cancel>,
    /// The options a cancelling connection is opened with.
    options: Arc<Options<DB>>,
}

impl<DB: Dialect, C: DerefMut<Target = DB::Connection> + Send + 'static> Armed<DB, C> {
    /// A connection with no statement running.
    pub(super) fn new(conn: C, options: Arc<Options<DB>>) -> Self {
        Self {
            conn: Some(conn),
            cancel: None,
            options,
        }
    }

    /// The connection, to run statements that need no cancel (`BEGIN`, `COMMIT`).
    pub(super) fn conn(&mut self) -> &mut DB::Connection {
        self.conn
            .as_mut()
            .expect("an armed connection is present until taken")
    }

    /// Runs a statement on the connection, armed: dropped before it ends, the statement is
    /// cancelled on the server; a result over the caps cancels it at once.
    pub(super) async fn run<T>(
        &mut self,
        run: Run<DB, T>,
        sql: &str,
        params: &[Value],
        limits: ResultLimits,
    ) -> Result<T, SqlError> {
        let options = self.options.clone();
        let cancel = DB::arm(self.conn(), &options).await?;
        self.cancel = Some(cancel);
        let outcome = run(self.conn(), sql, params, limits).await;
        let cancel = self.cancel.take();
        if let (Err(SqlError::TooLarge(_)), Some(cancel)) = (&outcome, cancel) {
            DB::cancel(cancel, self.conn()).await;
        }
        outcome
    }

    /// The connection back, with no statement running.
    pub(super) fn into_inner(mut self) -> C {
        self.conn
            .take()
            .expect("an armed connection is present until taken")
    }
}

impl<DB: Dialect, C: DerefMut<Target = DB::Connection> + Send + 'static> Drop for Armed<DB, C> {
    fn drop(&mut self) {
        let (Some(cancel), Some(mut conn)) = (self.cancel.take(), self.conn.take()) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    DB::cancel(cancel, &mut conn).await;
                    drop(conn);
                });
            }
            Err(_) => tracing::warn!("sql: no runtime to cancel an interrupted statement on"),
        }
    }
}
