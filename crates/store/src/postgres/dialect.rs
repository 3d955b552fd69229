//! What the shared statements of [`crate::sql`] need from PostgreSQL where its dialect differs
//! from SQLite's. Everything else is shared; each item here says why it cannot be.

use sqlx::{PgPool, Postgres, Transaction};

/// The backend the shared statements run on in this instance.
pub(crate) type Db = Postgres;

/// Whether the migrations table exists. PostgreSQL resolves a table name with `to_regclass`
/// (NULL when missing); SQLite has no such function and lists its tables in `sqlite_master`.
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str =
    "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";

/// The ledger claim (shared text, `crate::sql::claim_next!`) with PostgreSQL's row lock on the
/// picked job: claimers run concurrently, and `FOR UPDATE SKIP LOCKED` makes a second claimer
/// skip a job the first has just picked instead of both taking it. SQLite has no row locks (and
/// no such clause).
pub(crate) const CLAIM_NEXT: &str = crate::sql::claim_next!("FOR UPDATE SKIP LOCKED");

/// Begin a transaction that will write. PostgreSQL's default `BEGIN` suffices: row locks (and
/// the claim's `SKIP LOCKED`) order concurrent writers. SQLite needs `BEGIN IMMEDIATE` instead.
pub(crate) async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}
