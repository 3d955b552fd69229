//! The SQLite backend: pool set-up (WAL, foreign keys, busy timeout) and embedded migrations. Its
//! SQL is shared with PostgreSQL ([`crate::sql`]) except where the dialects differ ([`dialect`]).
//!
//! The file is created on first start, together with its directory.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use crate::config::StoreConfig;

pub(crate) mod dialect;

/// Migrations of the SQLite schema (`crates/store/migrations/sqlite`).
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Parse the URL into connect options (creating the file if missing).
pub(crate) fn options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10)))
}

/// The database file's path named by `options` (None for in-memory databases).
pub(crate) fn file_path(options: &SqliteConnectOptions) -> Option<&Path> {
    let p = options.get_filename();
    let s = p.to_string_lossy();
    (!s.is_empty() && s != ":memory:").then_some(p)
}

/// Whether the database file at `path` and its directory (where SQLite also writes the `-wal`
/// and `-shm` files) can be written; `Err` names what refuses. The file is opened for appending
/// (nothing is written), the directory is probed with a file created and removed at once.
pub(crate) fn check_writable(path: &Path) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| (path.to_path_buf(), e))?;
    }
    let probe = dir.join(format!(".gaia-write-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err((dir.to_path_buf(), e)),
    }
}

/// Open a pool with the configured sizes; fails if the first connection fails.
pub(crate) async fn connect(
    options: SqliteConnectOptions,
    config: &StoreConfig,
) -> Result<SqlitePool, sqlx::Error> {
    // One direct connection first, so a failure reports its real cause (not "pool timed out").
    SqliteConnection::connect_with(&options)
        .await?
        .close()
        .await?;
    SqlitePoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .min_connections(config.min_connections.min(config.max_connections.max(1)))
        .acquire_timeout(config.acquire_timeout)
        .after_release(|conn, _| Box::pin(crate::store::pool::reusable(conn)))
        .connect_with(options)
        .await
}
