//! One validator per database: [`Store::lock_instance`] takes a lock that lives as long as the
//! returned [`InstanceLock`] — a PostgreSQL session-level advisory lock on a dedicated
//! connection, or an exclusive file lock on `<database file>.instance.lock` for SQLite. Two
//! validators on one database would run every ledger step twice and could submit weights twice.
//! The lock goes with its holder however it ends (the session closes, the file descriptor is
//! closed by the kernel). It also goes when the PostgreSQL server restarts or cuts the session:
//! the holder calls [`InstanceLock::keep`] now and then to take it again (or to learn that
//! another validator took it first).

use std::fs::File;

use sqlx::{Connection, PgConnection};

use super::{Pool, Store};
use crate::error::{StoreError, StoreResult};

/// The advisory-lock key of a validator's database ("gaia" in ASCII).
const ADVISORY_KEY: i64 = 0x6761_6961;

/// Proof that this process is the database's only validator; release by dropping.
#[derive(Debug)]
pub enum InstanceLock {
    /// The session holding `pg_advisory_lock`.
    Postgres(PgConnection),
    /// The locked lock file (none for an in-memory database).
    Sqlite(Option<File>),
}

/// What [`InstanceLock::keep`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKept {
    /// The lock's session is alive and holds it.
    Held,
    /// The session had been cut (a server restart, a dropped connection) and the lock is taken
    /// again on a new one.
    Retaken,
}

impl InstanceLock {
    /// Check that this process still holds the database's lock, taking it again on a new
    /// session when the old one was cut. Fails with [`StoreError::InstanceLocked`] when another
    /// validator took it in between (this one must stop), and with a query error while the
    /// server cannot be reached (try again later). A SQLite lock file cannot be lost.
    pub async fn keep(&mut self, store: &Store) -> StoreResult<LockKept> {
        let Self::Postgres(conn) = self else {
            return Ok(LockKept::Held);
        };
        let held: Result<bool, sqlx::Error> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND pid = pg_backend_pid() AND objid = ($1::bigint & 4294967295)::oid)",
        )
        .bind(ADVISORY_KEY)
        .fetch_one(&mut *conn)
        .await;
        if let Ok(true) = held {
            return Ok(LockKept::Held);
        }
        *self = store.lock_instance().await?;
        Ok(LockKept::Retaken)
    }

    /// Release the lock now (a PostgreSQL session is closed cleanly; dropping also releases it,
    /// once the server notices the closed connection).
    pub async fn release(self) {
        match self {
            Self::Postgres(conn) => {
                let _ = conn.close().await;
            }
            Self::Sqlite(file) => drop(file),
        }
    }
}

impl Store {
    /// Take the database's instance lock, or fail with [`StoreError::InstanceLocked`] naming
    /// what is known of the holder.
    pub async fn lock_instance(&self) -> StoreResult<InstanceLock> {
        let url = self.redacted_url.clone();
        let query = |cause| StoreError::Query {
            operation: "lock_instance",
            url: url.clone(),
            cause,
        };
        match &*self.pool {
            Pool::Postgres(pool) => {
                let options = pool.connect_options().as_ref().clone();
                let mut conn = PgConnection::connect_with(&options).await.map_err(query)?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(query)?;
                if got {
                    return Ok(InstanceLock::Postgres(conn));
                }
                let holder: Option<(i32, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT a.pid, a.client_addr::text, a.application_name
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted
                       AND l.objid = ($1::bigint & 4294967295)::oid
                     LIMIT 1",
                )
                .bind(ADVISORY_KEY)
                .fetch_optional(&mut conn)
                .await
                .unwrap_or(None);
                let holder = holder.map_or("holder unknown".into(), |(pid, addr, app)| {
                    format!(
                        "server process {pid} for {} from {}",
                        app.unwrap_or_default(),
                        addr.unwrap_or_else(|| "a local socket".into())
                    )
                });
                Err(StoreError::InstanceLocked { url, holder })
            }
            Pool::Sqlite(pool) => {
                let options = pool.connect_options();
                let Some(db) = crate::sqlite::file_path(&options) else {
                    return Ok(InstanceLock::Sqlite(None));
                };
                let mut name = db.as_os_str().to_owned();
                name.push(".instance.lock");
                let io = |e: std::io::Error| query(sqlx::Error::Io(e));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&name)
                    .map_err(io)?;
                match file.try_lock() {
                    Ok(()) => Ok(InstanceLock::Sqlite(Some(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InstanceLocked {
                        url,
                        holder: format!("{} is locked", std::path::Path::new(&name).display()),
                    }),
                    Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
                }
            }
        }
    }
}
