//! What a component may do with the database, resolved once from its grant, and the host side
//! of the transactions it opens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use karman_directive::{Query, SqlGrant};
use tokio::time::Instant;

use super::backend::SqlBackend;
use super::pools::{ACQUIRE_TIMEOUT, Backend, Transaction};
use crate::bindings::sql::Value;
use crate::bindings::types::CapError;
use crate::health::Readiness;

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

    /// Raw SQL, if the grant allows it.
    pub(super) fn raw<'q>(&self, sql: &'q str) -> Result<&'q str, CapError> {
        if self.raw {
            Ok(sql)
        } else {
            Err(CapError::Denied(
                "sql: this component is not granted raw SQL".into(),
            ))
        }
    }
}

/// The sql capability of an instance.
pub(crate) struct SqlCtx {
    /// What the component's grant allows; `None` without a `sql` grant.
    pub(crate) access: Option<SqlAccess>,
    /// When the step running on the instance times out, if it is a step.
    pub(crate) deadline: Option<Instant>,
}

impl SqlCtx {
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
