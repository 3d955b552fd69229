//! [`Store`]: the one interface the IO-Engine uses, whichever backend the URL selects.
//!
//! This file owns opening the store and its migrations; the operations are grouped by table in
//! the sibling files (`weather`, `ledger`, `chain`). Every operation runs through the retry loop
//! of [`crate::retry`] and maps driver errors to [`StoreError`] with the redacted URL.

use sqlx::{PgPool, SqlitePool};

use crate::config::{RetryPolicy, StoreConfig};
use crate::error::{StoreError, StoreResult};
use crate::retry::with_retry;
use crate::url::{Backend, DatabaseUrl};
use crate::{postgres, sqlite};

mod chain;
mod instance;
mod ledger;
mod operator;
pub(crate) mod pool;
mod weather;

pub use instance::{InstanceLock, LockKept};
pub use operator::MAX_LISTING;

pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The validator's database: a pool on PostgreSQL or SQLite plus the retry policy.
///
/// Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<Pool>,
    redacted_url: String,
    backend: Backend,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.redacted_url)
            .field("backend", &self.backend)
            .finish()
    }
}

/// Migration state of a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The backend inspected.
    pub backend: Backend,
    /// Versions applied, oldest first.
    pub applied: Vec<i64>,
    /// Versions this build knows but the database lacks.
    pub pending: Vec<i64>,
    /// Newest version this build knows.
    pub latest_known: i64,
}

impl MigrationStatus {
    /// The newest applied version (`None` on an empty database).
    pub fn current(&self) -> Option<i64> {
        self.applied.last().copied()
    }

    /// True when every known migration is applied.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Run one query function on whichever backend the store has, with retries and error mapping.
/// `$q` names the backend's statements (`crate::sql::postgres` or `crate::sql::sqlite`) and
/// `$pool` its pool inside `$call`.
macro_rules! on_backend {
    ($self:expr, $op:literal, |$q:ident, $pool:ident| $call:expr) => {{
        let store: &$crate::store::Store = $self;
        let result = match &*store.pool {
            $crate::store::Pool::Postgres($pool) => {
                use $crate::sql::postgres as $q;
                $crate::retry::with_retry(&store.retry, $op, &store.redacted_url, || $call).await
            }
            $crate::store::Pool::Sqlite($pool) => {
                use $crate::sql::sqlite as $q;
                $crate::retry::with_retry(&store.retry, $op, &store.redacted_url, || $call).await
            }
        };
        result.map_err(|cause| $crate::error::StoreError::Query {
            operation: $op,
            url: store.redacted_url.clone(),
            cause,
        })
    }};
}
pub(crate) use on_backend;

impl Store {
    /// Open a pool on `config.url` without touching the schema.
    ///
    /// A refused or dropped first connection is retried per `config.retry`. For SQLite the file
    /// and its directory are created when missing.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`], [`StoreError::CreateDir`] or [`StoreError::Connect`], each
    /// naming the URL with its password redacted.
    pub async fn connect(config: &StoreConfig) -> StoreResult<Store> {
        let url = DatabaseUrl::parse(&config.url)?;
        let redacted_url = url.redacted();
        let backend = url.backend();
        let connect_err = |cause| StoreError::Connect {
            backend,
            url: redacted_url.clone(),
            cause,
        };
        let pool = match backend {
            Backend::Postgres => {
                let pool = with_retry(&config.retry, "connect", &redacted_url, || {
                    postgres::connect(url.expose(), config)
                })
                .await
                .map_err(connect_err)?;
                Pool::Postgres(pool)
            }
            Backend::Sqlite => {
                let options = sqlite::options(url.expose()).map_err(connect_err)?;
                if let Some(dir) = sqlite::file_path(&options).and_then(|p| p.parent()) {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|cause| StoreError::CreateDir {
                            path: dir.to_path_buf(),
                            url: redacted_url.clone(),
                            cause,
                        })?;
                    }
                }
                if let Some(path) = sqlite::file_path(&options) {
                    sqlite::check_writable(path).map_err(|(path, cause)| {
                        StoreError::NotWritable {
                            path,
                            url: redacted_url.clone(),
                            cause,
                        }
                    })?;
                }
                let pool = with_retry(&config.retry, "connect", &redacted_url, || {
                    sqlite::connect(options.clone(), config)
                })
                .await
                .map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
        };
        tracing::info!(url = %redacted_url, %backend, "database connected");
        Ok(Store {
            pool: std::sync::Arc::new(pool),
            redacted_url,
            backend,
            retry: config.retry,
        })
    }

    /// Open the store and bring its schema up to date: what the validator does at start-up.
    ///
    /// # Errors
    /// As [`Store::connect`] and [`Store::migrate`].
    pub async fn open(config: &StoreConfig) -> StoreResult<Store> {
        let store = Self::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connections in the pool: `(open, idle)`.
    pub fn pool_stats(&self) -> (u32, u32) {
        match &*self.pool {
            Pool::Postgres(p) => (p.size(), u32::try_from(p.num_idle()).unwrap_or(u32::MAX)),
            Pool::Sqlite(p) => (p.size(), u32::try_from(p.num_idle()).unwrap_or(u32::MAX)),
        }
    }

    /// The same database (the pool is shared) with another retry policy: e.g. a status page
    /// that must answer within seconds while the database is down, instead of retrying for the
    /// validator's full budget.
    pub fn with_retry(&self, retry: RetryPolicy) -> Store {
        Store {
            retry,
            ..self.clone()
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password redacted (safe to log).
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    fn migrate_err(&self, cause: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Migrate {
            url: self.redacted_url.clone(),
            cause,
        }
    }

    /// Apply every pending migration (a no-op when up to date) and return the resulting status.
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails or the database holds a migration this
    /// build does not know (a newer validator migrated it).
    pub async fn migrate(&self) -> StoreResult<MigrationStatus> {
        let before = self.migration_status().await?;
        match &*self.pool {
            Pool::Postgres(p) => postgres::MIGRATOR.run(p).await,
            Pool::Sqlite(p) => sqlite::MIGRATOR.run(p).await,
        }
        .map_err(|e| self.migrate_err(e))?;
        let after = self.migration_status().await?;
        let newly: Vec<i64> = after
            .applied
            .iter()
            .filter(|v| !before.applied.contains(v))
            .copied()
            .collect();
        tracing::info!(url = %self.redacted_url, version = ?after.current(), applied_now = ?newly, "database schema up to date");
        Ok(after)
    }

    /// Which migrations are applied and which are pending; changes nothing.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database cannot be read.
    pub async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let applied = on_backend!(self, "migration_status", |q, p| q::applied_versions(p))?;
        let migrator = match &*self.pool {
            Pool::Postgres(_) => &postgres::MIGRATOR,
            Pool::Sqlite(_) => &sqlite::MIGRATOR,
        };
        let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        Ok(MigrationStatus {
            backend: self.backend,
            pending: known
                .iter()
                .filter(|v| !applied.contains(v))
                .copied()
                .collect(),
            latest_known: known.iter().copied().max().unwrap_or(0),
            applied,
        })
    }

    /// One round trip to the database (for health checks).
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database stays unreachable for the retry budget.
    pub async fn ping(&self) -> StoreResult<()> {
        on_backend!(self, "ping", |q, p| q::ping(p))
    }

    /// Close every pooled connection and wait for them to finish.
    pub async fn close(&self) {
        match &*self.pool {
            Pool::Postgres(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

/// Check that an optional number is finite (NaN is stored differently by the two backends, so
/// it is refused instead).
pub(crate) fn check_finite(field: &'static str, value: Option<f64>) -> StoreResult<()> {
    match value {
        Some(v) if !v.is_finite() => Err(StoreError::InvalidInput {
            field,
            reason: format!("{v} is not a finite number"),
        }),
        _ => Ok(()),
    }
}

/// Turn "no row was updated" into [`StoreError::NotFound`].
pub(crate) fn found(updated: bool, what: impl FnOnce() -> String) -> StoreResult<()> {
    if updated {
        Ok(())
    } else {
        Err(StoreError::NotFound { what: what() })
    }
}
