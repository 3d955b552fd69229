//! Read-only queries of the operator view (`status`, `runs`, `run`, `miner`, `weights` and the
//! status page): newest-first listings with a limit, and counts grouped by state. Nothing here
//! writes; every statement reads through indexes the lifecycle already uses (run id, miner UID,
//! GFS init time).

use sqlx::Pool;

use super::{for_each_backend, Res};
use crate::records::chain::WeightRecord;
use crate::records::ledger::Job;
use crate::records::weather::{ForecastStats, MinerResponse, Run};

for_each_backend! {
    pub(crate) async fn recent_runs(pool: &Pool<Db>, limit: i64) -> Res<Vec<Run>> {
        sqlx::query_as(
            "SELECT * FROM weather_forecast_runs ORDER BY gfs_init_time_utc DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    /// `(run_id, response status, count)` of the `limit` newest runs.
    pub(crate) async fn response_counts_of_recent_runs(
        pool: &Pool<Db>,
        limit: i64,
    ) -> Res<Vec<(i64, String, i64)>> {
        sqlx::query_as(
            "SELECT r.run_id, r.status, COUNT(*) FROM weather_miner_responses r
             JOIN (SELECT id FROM weather_forecast_runs
                   ORDER BY gfs_init_time_utc DESC, id DESC LIMIT $1) x ON x.id = r.run_id
             GROUP BY r.run_id, r.status
             ORDER BY r.run_id, r.status",
        )
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    /// `(status, count)` of the whole ledger.
    pub(crate) async fn ledger_counts(pool: &Pool<Db>) -> Res<Vec<(String, i64)>> {
        sqlx::query_as("SELECT status, COUNT(*) FROM work_ledger GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await
    }

    /// The waiting (`pending`/`retry_scheduled`) job enqueued first.
    pub(crate) async fn oldest_waiting_job(pool: &Pool<Db>) -> Res<Option<Job>> {
        sqlx::query_as(
            "SELECT * FROM work_ledger WHERE status IN ('pending', 'retry_scheduled')
             ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(pool)
        .await
    }

    pub(crate) async fn miner_stats_history(
        pool: &Pool<Db>,
        uid: u8,
        limit: i64,
    ) -> Res<Vec<ForecastStats>> {
        sqlx::query_as(
            "SELECT s.* FROM weather_forecast_stats s
             JOIN weather_forecast_runs r ON r.id = s.run_id
             WHERE s.miner_uid = $1
             ORDER BY r.gfs_init_time_utc DESC, r.id DESC LIMIT $2",
        )
        .bind(i32::from(uid))
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    pub(crate) async fn miner_response_history(
        pool: &Pool<Db>,
        uid: u8,
        limit: i64,
    ) -> Res<Vec<MinerResponse>> {
        sqlx::query_as(
            "SELECT m.* FROM weather_miner_responses m
             JOIN weather_forecast_runs r ON r.id = m.run_id
             WHERE m.miner_uid = $1
             ORDER BY r.gfs_init_time_utc DESC, r.id DESC LIMIT $2",
        )
        .bind(i32::from(uid))
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    pub(crate) async fn recent_weights(pool: &Pool<Db>, limit: i64) -> Res<Vec<WeightRecord>> {
        sqlx::query_as("SELECT * FROM weight_history ORDER BY created_at DESC, id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await
    }
}
