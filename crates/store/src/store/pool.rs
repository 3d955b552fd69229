//! Which connections go back into a pool. A transaction that ended in an error can leave its
//! connection inside a transaction as far as sqlx knows: when SQLite hits a full disk or an I/O
//! error it rolls the transaction back by itself, sqlx's own ROLLBACK then fails, and sqlx's
//! transaction depth stays above zero, so every later `BEGIN` on that connection failed
//! ("attempted to call begin_with at non-zero transaction depth") until the process restarted.
//! Such a connection is closed on release instead; the pool opens a fresh one when needed.

use sqlx::Connection;

/// Whether `conn` may serve the next caller: it must be outside any transaction. Every
/// transaction of the store commits on success, so a connection comes back inside one only after
/// an error — the stuck case above, or a rollback still queued (SQLite runs it on its worker
/// thread): either way closing it costs one reconnect on an error path, and the hot path adds no
/// round trip (sqlx pings every released connection anyway).
pub(crate) async fn reusable<C: Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        tracing::warn!("a database connection was returned inside a transaction; closing it");
        return Ok(false);
    }
    Ok(true)
}
