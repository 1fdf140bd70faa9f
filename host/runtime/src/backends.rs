//! The backends of the capabilities, connected once at start-up and shared by all instances.

use std::sync::Arc;

use karman_directive::{App, Authentication};

use crate::capabilities::cache::{CacheBackend, CacheError};
use crate::capabilities::http::Outbound;
use crate::capabilities::sql::{SqlBackend, SqlError};

/// Connected backends: the cache (in memory unless `connections.redis`), the SQL database
/// when the app uses `sql`, and the outbound HTTP clients with the app's credentials.
#[derive(Clone, Debug)]
pub struct Backends {
    /// Behind the `cache` capability.
    pub cache: CacheBackend,
    /// Behind the `sql` capability; `None` when the app does not use it.
    pub sql: Option<SqlBackend>,
    /// Behind the `http` and `graphql` capabilities.
    pub outbound: Arc<Outbound>,
}

impl Default for Backends {
    /// An in-memory cache, no database, and no outbound credentials.
    fn default() -> Self {
        Self {
            cache: CacheBackend::in_memory(),
            sql: None,
            outbound: Arc::new(Outbound::new(Authentication::default())),
        }
    }
}

/// A backend that cannot be connected at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The cache backend (Redis).
    #[error("{0}")]
    Cache(#[from] CacheError),
    /// The SQL database.
    #[error("{0}")]
    Sql(#[from] SqlError),
}

impl Backends {
    /// Connects what the app's connections call for. Errors name the connection and its place
    /// in the Directive, never its credentials.
    pub async fn connect(app: &App) -> Result<Self, ConnectError> {
        let cache = CacheBackend::for_connections(&app.connections).await?;
        let sql = match &app.connections.database {
            Some(database) => Some(SqlBackend::connect(database).await?),
            None => None,
        };
        let outbound = Arc::new(Outbound::new(app.authentication.clone()));
        Ok(Self {
            cache,
            sql,
            outbound,
        })
    }

    /// What each backend is, for logs and `karman check`.
    pub fn describe(&self) -> String {
        let sql = self.sql.as_ref().map_or("none", SqlBackend::describe);
        format!("cache {}, sql {sql}", self.cache.describe())
    }
}
