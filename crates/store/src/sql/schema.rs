//! Migration state and the health-check round trip.
//!
//! Only the test for the migrations table differs per backend (the dialect's
//! `MIGRATIONS_TABLE_EXISTS`); reading the applied versions is the same statement in both.

use sqlx::Pool;

use super::{for_each_backend, Res};

for_each_backend! {
    /// Applied migration versions, oldest first (empty when the migrations table does not
    /// exist).
    pub(crate) async fn applied_versions(pool: &Pool<Db>) -> Res<Vec<i64>> {
        let exists: bool = sqlx::query_scalar(MIGRATIONS_TABLE_EXISTS)
            .fetch_one(pool)
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await
    }

    /// A trivial round trip, to check the connection.
    pub(crate) async fn ping(pool: &Pool<Db>) -> Res<()> {
        sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
    }
}
