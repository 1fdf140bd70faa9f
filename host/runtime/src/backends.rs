//! The backends of the capabilities, connected once at start-up and shared by all instances.

use std::sync::Arc;

use karman_directive::{App, Authentication};

use crate::capabilities::cache::{CacheBackend, CacheError, redis::RedisCache};
use crate::capabilities::http::Outbound;
use crate::capabilities::sql::{SqlBackend, SqlError};
use crate::health::{BackendHealth, BackendState, Readiness, retry_until_connected};

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
    /// Whether each backend is connected (for `/health`).
    pub health: Arc<BackendHealth>,
    /// Whether the database has connected (the `sql` capability fails fast until then).
    pub sql_ready: Readiness,
}

impl Default for Backends {
    /// An in-memory cache, no database, and no outbound credentials.
    fn default() -> Self {
        Self {
            cache: CacheBackend::in_memory(),
            sql: None,
            outbound: Arc::new(Outbound::new(Authentication::default())),
            health: Arc::default(),
            sql_ready: Readiness::ready(),
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
        let health = Arc::new(BackendHealth::default());
        let cache = CacheBackend::for_connections(&app.connections).await?;
        if matches!(cache, CacheBackend::Redis(_)) {
            health.set("cache", BackendState::Ready);
        }
        let sql = match &app.connections.database {
            Some(database) => {
                let backend = SqlBackend::connect(database).await?;
                health.set("sql", BackendState::Ready);
                Some(backend)
            }
            None => None,
        };
        Ok(Self {
            cache,
            sql,
            outbound: Arc::new(Outbound::new(app.authentication.clone())),
            health,
            sql_ready: Readiness::ready(),
        })
    }

    /// Like [`Self::connect`], but a backend that cannot be reached does not fail: it is
    /// retried in the background and reported as connecting in [`Self::health`] until it
    /// answers (its calls fail with `unavailable` meanwhile). A malformed address still fails.
    pub async fn connect_in_background(app: &App) -> Result<Self, ConnectError> {
        let health = Arc::new(BackendHealth::default());
        let cache = match &app.connections.redis {
            None => CacheBackend::in_memory(),
            Some(settings) => {
                let redis = RedisCache::unconnected(settings)
                    .map_err(|e| CacheError::Invalid(format!("{}: {e}", settings.location)))?;
                let location = settings.location.clone();
                let connecting = redis.clone();
                Self::connect_later(&health, "cache", Readiness::pending(), move || {
                    let (redis, location) = (connecting.clone(), location.clone());
                    async move {
                        redis
                            .establish()
                            .await
                            .map_err(|e| format!("{location}: {e}"))
                    }
                })
                .await;
                CacheBackend::Redis(redis)
            }
        };
        let sql_ready = Readiness::pending();
        let sql = match &app.connections.database {
            None => None,
            Some(database) => {
                let backend = SqlBackend::connect_lazy(database)?;
                let connecting = backend.clone();
                let location = database.location.clone();
                let url = database.redacted_url();
                Self::connect_later(&health, "sql", sql_ready.clone(), move || {
                    let (backend, location, url) =
                        (connecting.clone(), location.clone(), url.clone());
                    async move {
                        backend.ping().await.map_err(|e| {
                            format!("{location}: cannot connect to the database {url}: {e}")
                        })
                    }
                })
                .await;
                Some(backend)
            }
        };
        Ok(Self {
            cache,
            sql,
            outbound: Arc::new(Outbound::new(app.authentication.clone())),
            health,
            sql_ready,
        })
    }

    /// The backends of `app`, reloaded in place of `previous` (the app these backends were
    /// connected for): when the connections have the same settings, the same backends (Redis,
    /// the database pools, their health), with `app`'s outbound credentials; otherwise
    /// connected anew as [`Self::connect`] (or [`Self::connect_in_background`]) does, except
    /// that an in-memory cache is kept, with its entries, when neither app uses Redis.
    pub async fn reconnect(
        &self,
        previous: &App,
        app: &App,
        in_background: bool,
    ) -> Result<Self, ConnectError> {
        let outbound = Arc::new(Outbound::new(app.authentication.clone()));
        if previous.connections.same_settings(&app.connections) {
            return Ok(Self {
                outbound,
                ..self.clone()
            });
        }
        let mut fresh = if in_background {
            Self::connect_in_background(app).await?
        } else {
            Self::connect(app).await?
        };
        if previous.connections.redis.is_none() && app.connections.redis.is_none() {
            fresh.cache = self.cache.clone();
        }
        Ok(fresh)
    }

    /// Tries once now; on failure, keeps trying in a background task.
    async fn connect_later<F, Fut>(
        health: &Arc<BackendHealth>,
        backend: &'static str,
        readiness: Readiness,
        mut attempt: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        match attempt().await {
            Ok(()) => {
                readiness.mark_ready();
                health.set(backend, BackendState::Ready);
            }
            Err(error) => {
                tracing::warn!(backend, %error, "not connected at start-up: retrying in the background");
                health.set(backend, BackendState::Connecting { error });
                tokio::spawn(retry_until_connected(
                    health.clone(),
                    backend,
                    readiness,
                    attempt,
                ));
            }
        }
    }

    /// What each backend is, for logs and `karman check`.
    pub fn describe(&self) -> String {
        let sql = self.sql.as_ref().map_or("none", SqlBackend::describe);
        format!("cache {}, sql {sql}", self.cache.describe())
    }
}
