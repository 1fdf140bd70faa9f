//! Implements `karman:runnable/sql` (and its `transaction` resource) on [`SqlView`].

use wasmtime::component::{HasData, Resource, ResourceTable};

use super::{SqlAccess, SqlCtx, SqlError, SqlTransaction, Tx};
use crate::bindings::sql::{BatchError, Host, HostTransaction, Rows, Statement, Value};
use crate::bindings::types::CapError;

/// The sql capability as the generated bindings see it: the step's context and the store's
/// resource table (which holds the guest's transactions).
pub(crate) struct SqlView<'a> {
    pub(crate) ctx: &'a SqlCtx,
    pub(crate) table: &'a mut ResourceTable,
}

/// Marks [`SqlView`] as the data of the sql bindings.
pub(crate) struct Sql;

impl HasData for Sql {
    type Data<'a> = SqlView<'a>;
}

type Trappable<T> = wasmtime::Result<Result<T, CapError>>;

impl SqlView<'_> {
    fn access(&self) -> Result<SqlAccess, CapError> {
        self.ctx.access().cloned()
    }
}

impl Host for SqlView<'_> {
    async fn query(&mut self, name: String, params: Vec<Value>) -> Trappable<Rows> {
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(e)),
        };
        Ok(async {
            let sql = access.named(&name, &params)?;
            Ok(access
                .backend()?
                .query(sql, &params, access.read_only)
                .await?)
        }
        .await)
    }

    async fn execute(&mut self, name: String, params: Vec<Value>) -> Trappable<u64> {
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(e)),
        };
        Ok(async {
            let sql = access.named(&name, &params)?;
            Ok(access
                .backend()?
                .execute(sql, &params, access.read_only)
                .await?)
        }
        .await)
    }

    async fn query_raw(&mut self, sql: String, params: Vec<Value>) -> Trappable<Rows> {
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(e)),
        };
        Ok(async {
            access.raw()?;
            Ok(access
                .backend()?
                .query(&sql, &params, access.read_only)
                .await?)
        }
        .await)
    }

    async fn execute_raw(&mut self, sql: String, params: Vec<Value>) -> Trappable<u64> {
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(e)),
        };
        Ok(async {
            access.raw()?;
            Ok(access
                .backend()?
                .execute(&sql, &params, access.read_only)
                .await?)
        }
        .await)
    }

    async fn begin(&mut self) -> Trappable<Resource<SqlTransaction>> {
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(e)),
        };
        let tx = match access.backend()?.begin(access.read_only).await {
            Ok(tx) => tx,
            Err(e) => return Ok(Err(e.into())),
        };
        let resource = self.table.push(SqlTransaction {
            tx: Some(tx),
            access,
        })?;
        Ok(Ok(resource))
    }

    async fn batch(
        &mut self,
        statements: Vec<Statement>,
    ) -> wasmtime::Result<Result<Vec<u64>, BatchError>> {
        let at = |index: usize, error: CapError| BatchError {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            error,
        };
        let access = match self.access() {
            Ok(access) => access,
            Err(e) => return Ok(Err(at(0, e))),
        };
        // Check every statement before touching the database.
        let mut checked = Vec::with_capacity(statements.len());
        for (index, statement) in statements.iter().enumerate() {
            match access.named(&statement.query, &statement.params) {
                Ok(sql) => checked.push(sql.to_string()),
                Err(e) => return Ok(Err(at(index, e))),
            }
        }
        let mut tx = match access.backend()?.begin(access.read_only).await {
            Ok(tx) => tx,
            Err(e) => return Ok(Err(at(0, e.into()))),
        };
        let mut affected = Vec::with_capacity(statements.len());
        for (index, (statement, sql)) in statements.iter().zip(&checked).enumerate() {
            let rows = match tx.execute(sql, &statement.params).await {
                Ok(rows) => rows,
                Err(e) => return Ok(Err(at(index, e.into()))),
            };
            if let Some(minimum) = statement.min_rows_affected
                && rows < minimum
            {
                let error = CapError::Invalid(format!(
                    "sql: statement {index} (`{}`) affected {rows} rows, fewer than {minimum}; the batch was rolled back",
                    statement.query
                ));
                return Ok(Err(at(index, error)));
            }
            affected.push(rows);
        }
        if let Err(e) = tx.commit().await {
            return Ok(Err(at(statements.len().saturating_sub(1), e.into())));
        }
        Ok(Ok(affected))
    }
}

/// The open transaction behind a resource, or `invalid` once it is finished.
fn open(transaction: &mut SqlTransaction) -> Result<(&SqlAccess, &mut Tx), CapError> {
    match &mut transaction.tx {
        Some(tx) => Ok((&transaction.access, tx)),
        None => Err(CapError::Invalid(
            "sql: the transaction is already committed or rolled back".into(),
        )),
    }
}

impl HostTransaction for SqlView<'_> {
    async fn query(
        &mut self,
        this: Resource<SqlTransaction>,
        name: String,
        params: Vec<Value>,
    ) -> Trappable<Rows> {
        let transaction = self.table.get_mut(&this)?;
        Ok(async {
            let (access, tx) = open(transaction)?;
            let sql = access.named(&name, &params)?.to_string();
            Ok(tx.query(&sql, &params).await?)
        }
        .await)
    }

    async fn execute(
        &mut self,
        this: Resource<SqlTransaction>,
        name: String,
        params: Vec<Value>,
    ) -> Trappable<u64> {
        let transaction = self.table.get_mut(&this)?;
        Ok(async {
            let (access, tx) = open(transaction)?;
            let sql = access.named(&name, &params)?.to_string();
            Ok(tx.execute(&sql, &params).await?)
        }
        .await)
    }

    async fn query_raw(
        &mut self,
        this: Resource<SqlTransaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Trappable<Rows> {
        let transaction = self.table.get_mut(&this)?;
        Ok(async {
            let (access, tx) = open(transaction)?;
            access.raw()?;
            Ok(tx.query(&sql, &params).await?)
        }
        .await)
    }

    async fn execute_raw(
        &mut self,
        this: Resource<SqlTransaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Trappable<u64> {
        let transaction = self.table.get_mut(&this)?;
        Ok(async {
            let (access, tx) = open(transaction)?;
            access.raw()?;
            Ok(tx.execute(&sql, &params).await?)
        }
        .await)
    }

    async fn commit(&mut self, this: Resource<SqlTransaction>) -> Trappable<()> {
        let transaction = self.table.get_mut(&this)?;
        Ok(match transaction.tx.take() {
            Some(tx) => tx.commit().await.map_err(CapError::from),
            None => Err(CapError::Invalid(
                "sql: the transaction is already committed or rolled back".into(),
            )),
        })
    }

    async fn rollback(&mut self, this: Resource<SqlTransaction>) -> Trappable<()> {
        let transaction = self.table.get_mut(&this)?;
        Ok(match transaction.tx.take() {
            Some(tx) => tx.rollback().await.map_err(CapError::from),
            None => Err(CapError::Invalid(
                "sql: the transaction is already committed or rolled back".into(),
            )),
        })
    }

    async fn drop(&mut self, this: Resource<SqlTransaction>) -> wasmtime::Result<()> {
        // An unfinished transaction rolls back when its connection goes back to the pool.
        self.table.delete(this)?;
        Ok(())
    }
}

impl From<SqlError> for BatchError {
    fn from(error: SqlError) -> Self {
        BatchError {
            index: 0,
            error: error.into(),
        }
    }
}
