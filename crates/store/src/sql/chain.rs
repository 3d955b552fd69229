//! Tables tied to the chain: the metagraph mirror (`node_table`), the per-run score vectors
//! (`score_table`), the weight-setting history (`weight_history`), plus retention, which deletes
//! old runs with everything that hangs off them.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::Pool;

use super::{for_each_backend, Res};
use crate::records::chain::{NodeRecord, ScoreRow, WeightRecord};
use crate::records::status::ScoreRowStatus;

for_each_backend! {
    // ---------------------------------------------------------------- node_table

    pub(crate) async fn upsert_node(pool: &Pool<Db>, n: &NodeRecord) -> Res<()> {
        sqlx::query(
            "INSERT INTO node_table (uid, hotkey, coldkey, ip, port, stake, incentive, trust, vtrust,
                                     validator_permit, last_updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (uid) DO UPDATE SET
                 hotkey = EXCLUDED.hotkey, coldkey = EXCLUDED.coldkey, ip = EXCLUDED.ip,
                 port = EXCLUDED.port, stake = EXCLUDED.stake, incentive = EXCLUDED.incentive,
                 trust = EXCLUDED.trust, vtrust = EXCLUDED.vtrust,
                 validator_permit = EXCLUDED.validator_permit, last_updated = EXCLUDED.last_updated",
        )
        .bind(i32::from(n.uid))
        .bind(&n.hotkey)
        .bind(&n.coldkey)
        .bind(&n.ip)
        .bind(i32::from(n.port))
        .bind(n.stake)
        .bind(n.incentive)
        .bind(n.trust)
        .bind(n.vtrust)
        .bind(n.validator_permit)
        .bind(n.last_updated)
        .execute(pool)
        .await
        .map(|_| ())
    }

    pub(crate) async fn list_nodes(pool: &Pool<Db>) -> Res<Vec<NodeRecord>> {
        sqlx::query_as("SELECT * FROM node_table ORDER BY uid")
            .fetch_all(pool)
            .await
    }

    pub(crate) async fn delete_node(pool: &Pool<Db>, uid: u8) -> Res<bool> {
        let r = sqlx::query("DELETE FROM node_table WHERE uid = $1")
            .bind(i32::from(uid))
            .execute(pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    // ---------------------------------------------------------------- score_table

    pub(crate) async fn upsert_score_row(pool: &Pool<Db>, r: &ScoreRow) -> Res<()> {
        sqlx::query(
            "INSERT INTO score_table (task_name, task_id, run_id, scores, created_at, status)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (task_name, task_id) DO UPDATE SET
                 run_id = EXCLUDED.run_id, scores = EXCLUDED.scores,
                 created_at = EXCLUDED.created_at, status = EXCLUDED.status",
        )
        .bind(&r.task_name)
        .bind(&r.task_id)
        .bind(r.run_id)
        .bind(Json(&r.scores))
        .bind(r.created_at)
        .bind(r.status.as_str())
        .execute(pool)
        .await
        .map(|_| ())
    }

    pub(crate) async fn score_rows_since(
        pool: &Pool<Db>,
        task_name: &str,
        since: DateTime<Utc>,
    ) -> Res<Vec<ScoreRow>> {
        sqlx::query_as(
            "SELECT * FROM score_table WHERE task_name = $1 AND created_at >= $2
             ORDER BY created_at, task_id",
        )
        .bind(task_name)
        .bind(since)
        .fetch_all(pool)
        .await
    }

    /// Status filter helper so callers can pass the enum.
    pub(crate) async fn set_score_row_status(
        pool: &Pool<Db>,
        task_name: &str,
        task_id: &str,
        status: ScoreRowStatus,
    ) -> Res<bool> {
        let r =
            sqlx::query("UPDATE score_table SET status = $3 WHERE task_name = $1 AND task_id = $2")
                .bind(task_name)
                .bind(task_id)
                .bind(status.as_str())
                .execute(pool)
                .await?;
        Ok(r.rows_affected() > 0)
    }

    // ---------------------------------------------------------------- weight history

    pub(crate) async fn record_weights(pool: &Pool<Db>, w: &WeightRecord) -> Res<bool> {
        let r = sqlx::query(
            "INSERT INTO weight_history (attempt_key, created_at, block, weights, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (attempt_key) DO NOTHING",
        )
        .bind(&w.attempt_key)
        .bind(w.created_at)
        .bind(w.block)
        .bind(Json(&w.weights))
        .bind(w.outcome.as_str())
        .bind(&w.detail)
        .execute(pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub(crate) async fn weight_history_since(
        pool: &Pool<Db>,
        since: DateTime<Utc>,
    ) -> Res<Vec<WeightRecord>> {
        sqlx::query_as(
            "SELECT * FROM weight_history WHERE created_at >= $1 ORDER BY created_at, id",
        )
        .bind(since)
        .fetch_all(pool)
        .await
    }

    // ---------------------------------------------------------------- retention

    /// Delete runs started before `cutoff` (cascading to their rows) and finished run-less jobs
    /// last touched before it. Returns (runs, jobs).
    pub(crate) async fn delete_older_than(
        pool: &Pool<Db>,
        cutoff: DateTime<Utc>,
    ) -> Res<(u64, u64)> {
        let mut tx = begin_write(pool).await?;
        let runs = sqlx::query("DELETE FROM weather_forecast_runs WHERE run_initiation_time < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let jobs = sqlx::query(
            "DELETE FROM work_ledger WHERE run_id IS NULL AND updated_at < $1
               AND status IN ('succeeded', 'failed', 'quarantined')",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((runs, jobs))
    }
}
