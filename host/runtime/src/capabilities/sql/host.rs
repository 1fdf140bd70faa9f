//! Implements `karman:runnable/sql` (and its `transaction` resource) on [`SqlView`].
//!
//! A call checks the grant (the named query, or raw SQL), then runs on the database or in the
//! transaction. A `transaction` handle the guest does not own traps.

use wasmtime::component::{HasData, Resource, ResourceTable};

use super::access::{SqlCtx, SqlTransaction};
use crate::bindings::sql::{BatchError, Host, HostTransaction, Rows, Statement, Value};
use crate::bindings::types::CapError;
use tracing::Instrument as _;

use crate::capabilities::{CapFailure, call_span};

/// The sql capability as the generated bindings see it: the step's context and the store's
/// resource table (which holds the guest's transactions).
pub(crate) struct SqlView<'a> {
    /// The step's sql capability.
    pub(crate) ctx: &'a mut SqlCtx,
    /// The store's resource table.
    pub(crate) table: &'a mut ResourceTable,
}

/// Marks [`SqlView`] as the data of the sql bindings.
pub(crate) struct Sql;

impl HasData for Sql {
    type Data<'a> = SqlView<'a>;
}

impl Host for SqlView<'_> {
    async fn query(&mut self, name: String, params: Vec<Value>) -> Result<Rows, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let access = self.ctx.access()?;
            let sql = access.named(&name, &params)?;
            Ok(access
                .backend()?
                .query(sql, &params, access.read_only, self.ctx.acquire_within())
                .await?)
        }
        .instrument(call_span("sql.query"))
        .await;
        self.ctx.counted(result)
    }

    async fn execute(&mut self, name: String, params: Vec<Value>) -> Result<u64, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let access = self.ctx.access()?;
            let sql = access.named(&name, &params)?;
            Ok(access
                .backend()?
                .execute(sql, &params, access.read_only, self.ctx.acquire_within())
                .await?)
        }
        .instrument(call_span("sql.execute"))
        .await;
        self.ctx.counted(result)
    }

    async fn query_raw(&mut self, sql: String, params: Vec<Value>) -> Result<Rows, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let access = self.ctx.access()?;
            let sql = access.raw(&sql)?;
            Ok(access
                .backend()?
                .query(sql, &params, access.read_only, self.ctx.acquire_within())
                .await?)
        }
        .instrument(call_span("sql.query_raw"))
        .await;
        self.ctx.counted(result)
    }

    async fn execute_raw(&mut self, sql: String, params: Vec<Value>) -> Result<u64, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let access = self.ctx.access()?;
            let sql = access.raw(&sql)?;
            Ok(access
                .backend()?
                .execute(sql, &params, access.read_only, self.ctx.acquire_within())
                .await?)
        }
        .instrument(call_span("sql.execute_raw"))
        .await;
        self.ctx.counted(result)
    }

    async fn begin(&mut self) -> Result<Resource<SqlTransaction>, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let access = self.ctx.access()?.clone();
            self.ctx.check_room(self.table)?;
            let tx = access
                .backend()?
                .begin(access.read_only, self.ctx.acquire_within())
                .await?;
            let transaction = self.table.push(SqlTransaction {
                tx: Some(tx),
                access,
            })?;
            self.ctx.began(&transaction);
            Ok(transaction)
        }
        .instrument(call_span("sql.begin"))
        .await;
        self.ctx.counted(result)
    }

    async fn batch(
        &mut self,
        statements: Vec<Statement>,
    ) -> wasmtime::Result<Result<Vec<u64>, BatchError>> {
        let result = batch(self.ctx, &statements)
            .instrument(call_span("sql.batch"))
            .await;
        Ok(self.ctx.counted_batch(result))
    }
}

/// Runs a batch in one transaction, once every statement is checked against the grant.
async fn batch(ctx: &SqlCtx, statements: &[Statement]) -> Result<Vec<u64>, BatchError> {
    let access = ctx.access().map_err(|e| at(0, e))?;
    let checked = statements
        .iter()
        .enumerate()
        .map(|(index, s)| access.named(&s.query, &s.params).map_err(|e| at(index, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let backend = access.backend().map_err(|e| at(0, e))?;
    let mut tx = backend
        .begin(access.read_only, ctx.acquire_within())
        .await
        .map_err(|e| at(0, e))?;
    let mut affected = Vec::with_capacity(statements.len());
    for (index, (statement, sql)) in statements.iter().zip(checked).enumerate() {
        let rows = tx
            .execute(sql, &statement.params)
            .await
            .map_err(|e| at(index, e))?;
        if let Some(minimum) = statement.min_rows_affected
            && rows < minimum
        {
            let error = CapError::Invalid(format!(
                "sql: statement {index} (`{}`) affected {rows} rows, fewer than {minimum}; the batch was rolled back",
                statement.query
            ));
            return Err(at(index, error));
        }
        affected.push(rows);
    }
    let last = statements.len().saturating_sub(1);
    tx.commit().await.map_err(|e| at(last, e))?;
    Ok(affected)
}

/// A batch's failure at statement `index`.
fn at(index: usize, error: impl Into<CapError>) -> BatchError {
    BatchError {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        error: error.into(),
    }
}

impl HostTransaction for SqlView<'_> {
    async fn query(
        &mut self,
        this: Resource<SqlTransaction>,
        name: String,
        params: Vec<Value>,
    ) -> Result<Rows, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let (access, tx) = self.table.get_mut(&this)?.open()?;
            Ok(tx.query(access.named(&name, &params)?, &params).await?)
        }
        .instrument(call_span("sql.transaction.query"))
        .await;
        self.ctx.counted(result)
    }

    async fn execute(
        &mut self,
        this: Resource<SqlTransaction>,
        name: String,
        params: Vec<Value>,
    ) -> Result<u64, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let (access, tx) = self.table.get_mut(&this)?.open()?;
            Ok(tx.execute(access.named(&name, &params)?, &params).await?)
        }
        .instrument(call_span("sql.transaction.execute"))
        .await;
        self.ctx.counted(result)
    }

    async fn query_raw(
        &mut self,
        this: Resource<SqlTransaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Rows, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let (access, tx) = self.table.get_mut(&this)?.open()?;
            Ok(tx.query(access.raw(&sql)?, &params).await?)
        }
        .instrument(call_span("sql.transaction.query_raw"))
        .await;
        self.ctx.counted(result)
    }

    async fn execute_raw(
        &mut self,
        this: Resource<SqlTransaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, CapFailure> {
        let result: Result<_, CapFailure> = async {
            let (access, tx) = self.table.get_mut(&this)?.open()?;
            Ok(tx.execute(access.raw(&sql)?, &params).await?)
        }
        .instrument(call_span("sql.transaction.execute_raw"))
        .await;
        self.ctx.counted(result)
    }

    async fn commit(&mut self, this: Resource<SqlTransaction>) -> Result<(), CapFailure> {
        let result: Result<_, CapFailure> =
            async { Ok(self.table.get_mut(&this)?.finish()?.commit().await?) }
                .instrument(call_span("sql.transaction.commit"))
                .await;
        self.ctx.counted(result)
    }

    async fn rollback(&mut self, this: Resource<SqlTransaction>) -> Result<(), CapFailure> {
        let result: Result<_, CapFailure> =
            async { Ok(self.table.get_mut(&this)?.finish()?.rollback().await?) }
                .instrument(call_span("sql.transaction.rollback"))
                .await;
        self.ctx.counted(result)
    }

    async fn drop(&mut self, this: Resource<SqlTransaction>) -> wasmtime::Result<()> {
        // An unfinished transaction rolls back when its connection goes back to the pool.
        self.ctx.dropped(this.rep());
        self.table.delete(this)?;
        Ok(())
    }
}
