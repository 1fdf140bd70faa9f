//! The backends of the capabilities, connected once at start-up and shared by all instances.

use karman_directive::App;

use crate::capabilities::cache::{CacheBackend, CacheError};
use crate::capabilities::sql::{SqlBackend, SqlError};

/// Connected backends: the cache (in memory unless `connections.redis`), and the SQL database
/// when the app uses `sql`.
#[derive(Clone, Debug)]
pub struct Backends {
    /// Behind the `cache` capability.
    pub cache: CacheBackend,
    /// Behind the `sql` capability; `None` when the app does not use it.
    pub sql: Option<SqlBackend>,
}

impl Default for Backends {
    /// An in-memory cache and no database.
    fn default() -> Self {
        Self {
            cache: CacheBackend::in_memory(),
            sql: None,
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
        Ok(Self { cache, sql })
    }

    /// What each backend is, for logs and `karman check`.
    pub fn describe(&self) -> String {
        let sql = self.sql.as_ref().map_or("none", SqlBackend::describe);
        format!("cache {}, sql {sql}", self.cache.describe())
    }
}
