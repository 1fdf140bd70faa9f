//! What a component may do with the database, resolved once from its grant, and the host side
//! of the transactions it opens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use karman_directive::{Query, SqlGrant};
use tokio::time::Instant;
use wasmtime::component::{Resource, ResourceTable};

use super::backend::SqlBackend;
use super::pools::{ACQUIRE_TIMEOUT, Backend, Transaction};
use crate::bindings::sql::{BatchError, Value};
use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;
use crate::health::Readiness;
use crate::metrics::CallCounter;

/// A component's granted access: the backend, its named queries, raw and write rights.
#[derive(Clone, Debug)]
pub(crate) struct SqlAccess {
    /// The app's database.
    backend: SqlBackend,
    /// Whether the database has connected.
    ready: Readiness,
    /// The declared queries the grant lists, by name.
    queries: Arc<HashMap<String, Query>>,
    /// Whether raw SQL is granted.
    raw: bool,
    /// Whether the grant is read-only (`write: false`).
    pub(super) read_only: bool,
}

impl SqlAccess {
    /// The access a grant gives, resolved once at load.
    pub(crate) fn new(
        backend: SqlBackend,
        ready: Readiness,
        grant: &SqlGrant,
        declared: &[Query],
    ) -> Self {
        let queries = declared
            .iter()
            .filter(|q| grant.queries.contains(&q.name))
            .map(|q| (q.name.clone(), q.clone()))
            .collect();
        Self {
            backend,
            ready,
            queries: Arc::new(queries),
            raw: grant.raw,
            read_only: !grant.write,
        }
    }

    /// The database, once connected (a background connect may still be trying).
    /// The database as a metric label.
    pub(super) fn label(&self) -> &'static str {
        self.backend.0.label()
    }

    pub(super) fn backend(&self) -> Result<&dyn Backend, CapError> {
        if self.ready.is_ready() {
            Ok(&*self.backend.0)
        } else {
            Err(CapError::Unavailable(
                "sql: the database is not connected yet".into(),
            ))
        }
    }

    /// The SQL of a granted named query, once its parameters are counted.
    pub(super) fn named(&self, name: &str, params: &[Value]) -> Result<&str, CapError> {
        let query = self.queries.get(name).ok_or_else(|| {
            CapError::Denied(format!(
                "sql: this component is not granted the query `{name}`"
            ))
        })?;
        if params.len() != query.params {
            return Err(CapError::Invalid(format!(
                "sql: query `{name}` takes {} parameters, not {}",
                query.params,
                params.len()
            )));
        }
        Ok(&query.sql)
    }

    /// Raw SQL, if the grant allows it and the dialect's checks pass (one statement, no
    /// transaction control, session state or host files; only reads under `write: false`).
    pub(super) fn raw<'q>(&self, sql: &'q str) -> Result<&'q str, CapError> {
        if !self.raw {
            return Err(CapError::Denied(
                "sql: this component is not granted raw SQL".into(),
            ));
        }
        self.backend()?.check_raw(sql, self.read_only)?;
        Ok(sql)
    }
}

/// Transactions one instance may hold open at once.
pub const MAX_OPEN_TRANSACTIONS: usize = 4;

/// The sql capability of an instance.
pub(crate) struct SqlCtx {
    /// What the component's grant allows; `None` without a `sql` grant.
    pub(crate) access: Option<SqlAccess>,
    /// When the step running on the instance times out, if it is a step.
    pub(crate) deadline: Option<Instant>,
    /// The guest's `transaction` resources (their table entries), until dropped.
    transactions: Vec<u32>,
    /// Where its calls are counted.
    calls: CallCounter,
}

impl SqlCtx {
    /// The capability of an instance under `access`, with no transaction.
    pub(crate) fn new(access: Option<SqlAccess>, calls: CallCounter) -> Self {
        Self {
            access,
            deadline: None,
            transactions: Vec::new(),
            calls,
        }
    }

    /// Counts a call that returned `result`, under the database (`none` without a grant).
    pub(super) fn counted<T>(&self, result: Result<T, CapFailure>) -> Result<T, CapFailure> {
        self.calls.count_result(self.label(), &result);
        result
    }

    /// Counts a batch that returned `result`.
    pub(super) fn counted_batch<T>(&self, result: Result<T, BatchError>) -> Result<T, BatchError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(failure) => crate::metrics::outcome(&failure.error),
        };
        self.calls.count(self.label(), outcome);
        result
    }

    fn label(&self) -> &'static str {
        self.access.as_ref().map_or("none", SqlAccess::label)
    }

    /// How long a call may wait for a pooled connection: [`ACQUIRE_TIMEOUT`], and within a step
    /// at most three quarters of the time the step has left, so that a database that is down
    /// fails the call with `unavailable` (503) while the component can still answer, rather
    /// than the step timing out (504).
    pub(super) fn acquire_within(&self) -> Duration {
        match self.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                ACQUIRE_TIMEOUT.min(left * 3 / 4)
            }
            None => ACQUIRE_TIMEOUT,
        }
    }

    /// Whether the instance may begin one more transaction: it holds fewer than
    /// [`MAX_OPEN_TRANSACTIONS`] open ones (`invalid` otherwise).
    pub(super) fn check_room(&self, table: &ResourceTable) -> Result<(), CapError> {
        let open = self
            .transactions
            .iter()
            .filter(|rep| {
                table
                    .get(&Resource::<SqlTransaction>::new_own(**rep))
                    .is_ok_and(|t| t.tx.is_some())
            })
            .count();
        if open >= MAX_OPEN_TRANSACTIONS {
            return Err(CapError::Invalid(format!(
                "sql: this instance already holds {MAX_OPEN_TRANSACTIONS} open transactions; commit or roll one back first"
            )));
        }
        Ok(())
    }

    /// Records the table entry of a transaction the guest began.
    pub(super) fn began(&mut self, transaction: &Resource<SqlTransaction>) {
        self.transactions.push(transaction.rep());
    }

    /// Forgets the table entry of a transaction the guest dropped.
    pub(super) fn dropped(&mut self, rep: u32) {
        self.transactions.retain(|r| *r != rep);
    }

    /// Ends a run: rolls back the transactions the guest left open (their connections go back
    /// to the pool), touching no other resource, so a warm instance starts its next request
    /// with none. Their handles stay valid, as finished transactions (any use is `invalid`),
    /// until the guest drops them: a handle is never reused for another transaction.
    pub(crate) fn end_run(&mut self, table: &mut ResourceTable) {
        for rep in &self.transactions {
            if let Ok(transaction) = table.get_mut(&Resource::<SqlTransaction>::new_own(*rep)) {
                transaction.tx = None;
            }
        }
    }

    /// The component's access, or `denied` without a grant.
    pub(super) fn access(&self) -> Result<&SqlAccess, CapError> {
        self.access.as_ref().ok_or_else(|| {
            CapError::Denied("sql: this component is not granted the sql capability".into())
        })
    }
}

/// The host side of a guest's `transaction` resource.
pub struct SqlTransaction {
    /// `None` once committed or rolled back.
    pub(super) tx: Option<Box<dyn Transaction>>,
    /// The access of the component that began it.
    pub(super) access: SqlAccess,
}

impl SqlTransaction {
    /// The open transaction and the access it runs under; `invalid` once finished.
    pub(super) fn open(&mut self) -> Result<(&SqlAccess, &mut dyn Transaction), CapError> {
        match &mut self.tx {
            Some(tx) => Ok((&self.access, &mut **tx)),
            None => Err(Self::finished()),
        }
    }

    /// Takes the open transaction, to commit or roll it back; `invalid` once finished.
    pub(super) fn finish(&mut self) -> Result<Box<dyn Transaction>, CapError> {
        self.tx.take().ok_or_else(Self::finished)
    }

    /// The error of any use of a finished transaction.
    pub(super) fn finished() -> CapError {
        CapError::Invalid("sql: the transaction is already committed or rolled back".into())
    }
}
