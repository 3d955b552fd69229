//! What the shared statements of [`crate::sql`] need from SQLite where its dialect differs from
//! PostgreSQL's. Everything else is shared; each item here says why it cannot be.

use sqlx::{Sqlite, SqlitePool, Transaction};

/// The backend the shared statements run on in this instance.
pub(crate) type Db = Sqlite;

/// Whether the migrations table exists. SQLite lists its tables in `sqlite_master`; it has no
/// `to_regclass` (PostgreSQL's way) and no `information_schema`.
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str =
    "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";

/// The ledger claim (shared text, `crate::sql::claim_next!`) without a row lock: SQLite has no
/// row locks and no `FOR UPDATE`. None is needed: the claim runs in a [`begin_write`]
/// transaction, which holds the database's single write lock, so two claimers cannot pick the
/// same job.
pub(crate) const CLAIM_NEXT: &str = crate::sql::claim_next!("");

/// Begin a transaction that will write, as `BEGIN IMMEDIATE`: it takes the write lock up front,
/// so concurrent writers (e.g. claimers) queue on the busy timeout instead of failing with
/// SQLITE_BUSY when a deferred transaction tries to upgrade its read lock. PostgreSQL's plain
/// `BEGIN` has no such upgrade.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
