//! Isolated databases for tests: one fresh PostgreSQL database per test, and a temporary SQLite
//! file.
//!
//! nextest runs every test in its own process, so nothing can be shared in memory. When
//! `TEST_DATABASE_URL` is set (`scripts/test-all` starts one cluster for the whole run and
//! exports it), each test creates its own database on that server and drops it afterwards.
//! Otherwise the test starts its own [`PgCluster`], so `cargo nextest run -p gaia-store` works on
//! a fresh machine with nothing started by hand (slower: one `initdb` per test).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::pg_cluster::{PgCluster, PgClusterError};

/// Environment variable naming a PostgreSQL server (superuser URL) the tests may create
/// databases on.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A fresh, empty PostgreSQL database, dropped (or its cluster removed) on drop.
#[derive(Debug)]
pub struct TestPostgres {
    url: String,
    admin_url: String,
    database: String,
    // Declared last: the cluster outlives the database drop.
    cluster: Option<Arc<PgCluster>>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{database}{query}")
}

impl TestPostgres {
    /// Create a new database on `TEST_DATABASE_URL`, or on a cluster of its own.
    ///
    /// # Errors
    /// [`PgClusterError`] when the cluster cannot start or the database cannot be created.
    pub async fn create() -> Result<Self, PgClusterError> {
        match std::env::var(TEST_DATABASE_URL)
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => Self::create_on(admin_url, None).await,
            None => {
                let cluster = tokio::task::spawn_blocking(PgCluster::start)
                    .await
                    .map_err(|e| PgClusterError::Start(format!("start task: {e}")))??;
                let admin = cluster.url();
                Self::create_on(admin, Some(Arc::new(cluster))).await
            }
        }
    }

    /// Always start a private cluster (for tests that restart the server).
    ///
    /// # Errors
    /// [`PgClusterError`] when the cluster cannot start or the database cannot be created.
    pub async fn create_private() -> Result<Self, PgClusterError> {
        let cluster = tokio::task::spawn_blocking(PgCluster::start)
            .await
            .map_err(|e| PgClusterError::Start(format!("start task: {e}")))??;
        let admin = cluster.url();
        Self::create_on(admin, Some(Arc::new(cluster))).await
    }

    /// [`Self::create_on`] without a cluster, for the test kit's own error tests.
    #[cfg(test)]
    pub(crate) async fn create_on_for_tests(admin_url: String) -> Result<Self, PgClusterError> {
        Self::create_on(admin_url, None).await
    }

    async fn create_on(
        admin_url: String,
        cluster: Option<Arc<PgCluster>>,
    ) -> Result<Self, PgClusterError> {
        let database = format!(
            "gaia_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("x")
        );
        let err = |source| PgClusterError::Database {
            database: database.clone(),
            url: admin_url.clone(),
            source,
        };
        let mut conn = PgConnection::connect(&admin_url).await.map_err(err)?;
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{database}\"")))
            .await
            .map_err(err)?;
        let _ = conn.close().await;
        Ok(Self {
            url: with_database(&admin_url, &database),
            admin_url,
            database,
            cluster,
        })
    }

    /// URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private cluster, when this database has one (e.g. to restart it).
    pub fn cluster(&self) -> Option<Arc<PgCluster>> {
        self.cluster.clone()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.cluster.is_some() {
            return; // the whole cluster goes away
        }
        let admin = self.admin_url.clone();
        let db = self.database.clone();
        // Drop may run inside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                        )))
                        .await;
                    let _ = conn.close().await;
                }
            });
            Ok::<(), std::io::Error>(())
        })
        .join();
    }
}

/// A temporary directory holding a SQLite database file that does not exist yet.
#[derive(Debug)]
pub struct TestSqlite {
    dir: TempDir,
}

impl TestSqlite {
    /// A fresh temporary directory.
    ///
    /// # Errors
    /// The OS error when the directory cannot be created.
    pub fn create() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new().prefix("gaia-sqlite-").tempdir()?,
        })
    }

    /// `sqlite://<dir>/gaia.db`.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    /// Path of the database file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("gaia.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_in_url() {
        assert_eq!(
            with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
