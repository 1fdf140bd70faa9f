//! [`SqlBackend`]: the app's database, its kind chosen once from the connection.

use std::sync::Arc;

use karman_directive::{DatabaseConnection, DatabaseKind};
use sqlx::{MySql, Postgres, Sqlite};

use super::error::SqlError;
use super::pools::{Backend, Pools};

/// The app's database (SQLite, PostgreSQL or MySQL): its pools, shared by all instances.
#[derive(Clone, Debug)]
pub struct SqlBackend(pub(super) Arc<dyn Backend>);

impl SqlBackend {
    /// Connects to the database (creating a SQLite file if absent); a database that cannot be
    /// reached is an error naming it and its place in the Directive.
    pub async fn connect(connection: &DatabaseConnection) -> Result<Self, SqlError> {
        let result = async {
            let backend = Self::pools(connection)?;
            backend.0.connect().await?;
            Ok(backend)
        };
        result.await.map_err(|e: sqlx::Error| {
            SqlError::Unavailable(format!(
                "{}: cannot connect to the database {}: {e}",
                connection.location,
                connection.redacted_url()
            ))
        })
    }

    /// Pools that connect when first used, for a background connect: only a malformed URL
    /// fails here. Until the database answers, calls fail with `unavailable`.
    pub fn connect_lazy(connection: &DatabaseConnection) -> Result<Self, SqlError> {
        Self::pools(connection).map_err(|e| {
            SqlError::Invalid(format!(
                "{}: the database URL {} is not valid: {e}",
                connection.location,
                connection.redacted_url()
            ))
        })
    }

    /// The pools of the connection's kind of database, not connected yet.
    fn pools(connection: &DatabaseConnection) -> Result<Self, sqlx::Error> {
        let pools: Arc<dyn Backend> = match connection.kind {
            DatabaseKind::Sqlite => Arc::new(Pools::<Sqlite>::new(connection)?),
            DatabaseKind::Postgres => Arc::new(Pools::<Postgres>::new(connection)?),
            DatabaseKind::MySql => Arc::new(Pools::<MySql>::new(connection)?),
        };
        Ok(Self(pools))
    }

    /// Opens (and returns to the pool) one connection: whether the database answers.
    pub async fn ping(&self) -> Result<(), SqlError> {
        self.0.ping().await
    }

    /// What the backend is, for logs and `karman check`.
    pub fn describe(&self) -> &'static str {
        self.0.describe()
    }
}
