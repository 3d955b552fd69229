//! Every SQL statement of the PostgreSQL backend. Nothing else in the crate holds SQL for it.
//!
//! Functions return raw `sqlx` results; [`crate::Store`] adds retries, error context and input
//! checks. Writes are idempotent on natural keys so a retried call never duplicates a row.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};

use crate::records::chain::{NodeRecord, ScoreRow, WeightRecord};
use crate::records::ledger::{classify_unapplied, Enqueued, Finish, Job, NewJob, ReapReport};
use crate::records::status::{
    JobStatus, ResponseMilestone, ResponseStatus, RunStatus, ScoreRowStatus,
};
use crate::records::weather::{
    ComponentScore, ForecastStats, MinerResponse, MinerScore, NewResponse, NewRun, Run,
    Verification,
};

type Res<T> = Result<T, sqlx::Error>;

// ---------------------------------------------------------------- migrations

/// Applied migration versions, oldest first (empty when the migrations table does not exist).
pub(crate) async fn applied_versions(pool: &PgPool) -> Res<Vec<i64>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
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
pub(crate) async fn ping(pool: &PgPool) -> Res<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

// ---------------------------------------------------------------- node_table

pub(crate) async fn upsert_node(pool: &PgPool, n: &NodeRecord) -> Res<()> {
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

pub(crate) async fn list_nodes(pool: &PgPool) -> Res<Vec<NodeRecord>> {
    sqlx::query_as("SELECT * FROM node_table ORDER BY uid")
        .fetch_all(pool)
        .await
}

pub(crate) async fn delete_node(pool: &PgPool, uid: u8) -> Res<bool> {
    let r = sqlx::query("DELETE FROM node_table WHERE uid = $1")
        .bind(i32::from(uid))
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

// ---------------------------------------------------------------- runs

pub(crate) async fn create_run(pool: &PgPool, r: &NewRun) -> Res<Run> {
    sqlx::query_as(
        "INSERT INTO weather_forecast_runs
             (run_initiation_time, target_forecast_time_utc, gfs_init_time_utc,
              gfs_input_metadata, status)
         VALUES ($1, $2, $3, $4, 'created')
         ON CONFLICT (gfs_init_time_utc) DO UPDATE SET gfs_init_time_utc = EXCLUDED.gfs_init_time_utc
         RETURNING *",
    )
    .bind(r.run_initiation_time)
    .bind(r.target_forecast_time_utc)
    .bind(r.gfs_init_time_utc)
    .bind(r.gfs_input_metadata.as_ref().map(Json))
    .fetch_one(pool)
    .await
}

pub(crate) async fn get_run(pool: &PgPool, id: i64) -> Res<Option<Run>> {
    sqlx::query_as("SELECT * FROM weather_forecast_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn list_runs_since(pool: &PgPool, since: DateTime<Utc>) -> Res<Vec<Run>> {
    sqlx::query_as(
        "SELECT * FROM weather_forecast_runs WHERE run_initiation_time >= $1
         ORDER BY run_initiation_time, id",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

pub(crate) async fn update_run_status(
    pool: &PgPool,
    id: i64,
    status: RunStatus,
    error_message: Option<&str>,
    completion_time: Option<DateTime<Utc>>,
) -> Res<bool> {
    let r = sqlx::query(
        "UPDATE weather_forecast_runs
         SET status = $2, error_message = $3, completion_time = COALESCE($4, completion_time)
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(error_message)
    .bind(completion_time)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn mark_final_scoring_attempted(
    pool: &PgPool,
    id: i64,
    at: DateTime<Utc>,
) -> Res<bool> {
    let r = sqlx::query(
        "UPDATE weather_forecast_runs SET final_scoring_attempted_time = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Delete runs started before `cutoff` (cascading to their rows) and finished run-less jobs
/// last touched before it. Returns (runs, jobs).
pub(crate) async fn delete_older_than(pool: &PgPool, cutoff: DateTime<Utc>) -> Res<(u64, u64)> {
    let mut tx = pool.begin().await?;
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

// ---------------------------------------------------------------- responses

pub(crate) async fn upsert_response(pool: &PgPool, r: &NewResponse) -> Res<MinerResponse> {
    sqlx::query_as(
        "INSERT INTO weather_miner_responses
             (run_id, miner_uid, miner_hotkey, job_id, zarr_url, verification_hash_claimed,
              status, response_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (run_id, miner_uid) DO UPDATE SET
             miner_hotkey = EXCLUDED.miner_hotkey,
             job_id = COALESCE(EXCLUDED.job_id, weather_miner_responses.job_id),
             zarr_url = COALESCE(EXCLUDED.zarr_url, weather_miner_responses.zarr_url),
             verification_hash_claimed = COALESCE(EXCLUDED.verification_hash_claimed,
                                                  weather_miner_responses.verification_hash_claimed),
             status = EXCLUDED.status,
             response_time = EXCLUDED.response_time
         RETURNING *",
    )
    .bind(r.run_id)
    .bind(i32::from(r.miner_uid))
    .bind(&r.miner_hotkey)
    .bind(&r.job_id)
    .bind(&r.zarr_url)
    .bind(&r.verification_hash_claimed)
    .bind(r.status.as_str())
    .bind(r.response_time)
    .fetch_one(pool)
    .await
}

pub(crate) async fn get_response(pool: &PgPool, id: i64) -> Res<Option<MinerResponse>> {
    sqlx::query_as("SELECT * FROM weather_miner_responses WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn list_responses(pool: &PgPool, run_id: i64) -> Res<Vec<MinerResponse>> {
    sqlx::query_as("SELECT * FROM weather_miner_responses WHERE run_id = $1 ORDER BY miner_uid")
        .bind(run_id)
        .fetch_all(pool)
        .await
}

pub(crate) async fn update_response_status(
    pool: &PgPool,
    id: i64,
    status: ResponseStatus,
    error_message: Option<&str>,
) -> Res<bool> {
    let r = sqlx::query(
        "UPDATE weather_miner_responses SET status = $2, error_message = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(error_message)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn record_verification(pool: &PgPool, id: i64, v: &Verification) -> Res<bool> {
    let r = sqlx::query(
        "UPDATE weather_miner_responses
         SET verification_hash_computed = $2, verification_passed = $3,
             frozen_manifest = $4, manifest_frozen_at = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(&v.hash_computed)
    .bind(v.passed)
    .bind(v.frozen_manifest.as_ref().map(Json))
    .bind(v.manifest_frozen_at)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn set_response_retry(
    pool: &PgPool,
    id: i64,
    retry_count: i32,
    next_retry_time: Option<DateTime<Utc>>,
) -> Res<bool> {
    let r = sqlx::query(
        "UPDATE weather_miner_responses SET retry_count = $2, next_retry_time = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(retry_count)
    .bind(next_retry_time)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn mark_response_milestone(
    pool: &PgPool,
    id: i64,
    milestone: ResponseMilestone,
    at: DateTime<Utc>,
) -> Res<bool> {
    let sql = match milestone {
        ResponseMilestone::JobAccepted => {
            "UPDATE weather_miner_responses SET job_accepted_at = $2 WHERE id = $1"
        }
        ResponseMilestone::InferenceStarted => {
            "UPDATE weather_miner_responses SET inference_started_at = $2 WHERE id = $1"
        }
        ResponseMilestone::InferenceCompleted => {
            "UPDATE weather_miner_responses SET inference_completed_at = $2 WHERE id = $1"
        }
        ResponseMilestone::Day1ScoringCompleted => {
            "UPDATE weather_miner_responses SET day1_scoring_completed_at = $2 WHERE id = $1"
        }
        ResponseMilestone::Era5ScoringCompleted => {
            "UPDATE weather_miner_responses SET era5_scoring_completed_at = $2 WHERE id = $1"
        }
    };
    let r = sqlx::query(sql).bind(id).bind(at).execute(pool).await?;
    Ok(r.rows_affected() > 0)
}

// ---------------------------------------------------------------- scores

async fn upsert_miner_score(tx: &mut Transaction<'_, Postgres>, s: &MinerScore) -> Res<()> {
    sqlx::query(
        "INSERT INTO weather_miner_scores
             (response_id, run_id, miner_uid, miner_hotkey, score_type, lead_hours,
              variable_level, valid_time_utc, score, metrics, calculation_time, error_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (response_id, score_type, lead_hours, variable_level, valid_time_utc)
         DO UPDATE SET
             run_id = EXCLUDED.run_id, miner_uid = EXCLUDED.miner_uid,
             miner_hotkey = EXCLUDED.miner_hotkey, score = EXCLUDED.score,
             metrics = EXCLUDED.metrics, calculation_time = EXCLUDED.calculation_time,
             error_message = EXCLUDED.error_message",
    )
    .bind(s.response_id)
    .bind(s.run_id)
    .bind(i32::from(s.miner_uid))
    .bind(&s.miner_hotkey)
    .bind(&s.score_type)
    .bind(s.lead_hours)
    .bind(&s.variable_level)
    .bind(s.valid_time_utc)
    .bind(s.score)
    .bind(s.metrics.as_ref().map(Json))
    .bind(s.calculation_time)
    .bind(&s.error_message)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub(crate) async fn upsert_miner_scores(pool: &PgPool, scores: &[MinerScore]) -> Res<()> {
    let mut tx = pool.begin().await?;
    for s in scores {
        upsert_miner_score(&mut tx, s).await?;
    }
    tx.commit().await
}

pub(crate) async fn list_miner_scores(pool: &PgPool, response_id: i64) -> Res<Vec<MinerScore>> {
    sqlx::query_as(
        "SELECT * FROM weather_miner_scores WHERE response_id = $1
         ORDER BY score_type, lead_hours, variable_level, valid_time_utc",
    )
    .bind(response_id)
    .fetch_all(pool)
    .await
}

pub(crate) async fn count_miner_scores(pool: &PgPool, run_id: i64) -> Res<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM weather_miner_scores WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(pool)
        .await
}

async fn upsert_component(tx: &mut Transaction<'_, Postgres>, c: &ComponentScore) -> Res<()> {
    sqlx::query(
        "INSERT INTO weather_forecast_component_scores
             (response_id, run_id, miner_uid, score_type, lead_hours, variable_name,
              pressure_level, valid_time_utc, rmse, mse, acc, skill_score, skill_score_gfs,
              skill_score_climatology, bias, mae, clone_penalty, variable_weight, qc_flags,
              calculated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20)
         ON CONFLICT (response_id, score_type, lead_hours, variable_name, pressure_level)
         DO UPDATE SET
             run_id = EXCLUDED.run_id, miner_uid = EXCLUDED.miner_uid,
             valid_time_utc = EXCLUDED.valid_time_utc, rmse = EXCLUDED.rmse, mse = EXCLUDED.mse,
             acc = EXCLUDED.acc, skill_score = EXCLUDED.skill_score,
             skill_score_gfs = EXCLUDED.skill_score_gfs,
             skill_score_climatology = EXCLUDED.skill_score_climatology, bias = EXCLUDED.bias,
             mae = EXCLUDED.mae, clone_penalty = EXCLUDED.clone_penalty,
             variable_weight = EXCLUDED.variable_weight, qc_flags = EXCLUDED.qc_flags,
             calculated_at = EXCLUDED.calculated_at",
    )
    .bind(c.response_id)
    .bind(c.run_id)
    .bind(i32::from(c.miner_uid))
    .bind(c.score_type.as_str())
    .bind(c.lead_hours)
    .bind(&c.variable_name)
    .bind(c.pressure_level)
    .bind(c.valid_time_utc)
    .bind(c.rmse)
    .bind(c.mse)
    .bind(c.acc)
    .bind(c.skill_score)
    .bind(c.skill_score_gfs)
    .bind(c.skill_score_climatology)
    .bind(c.bias)
    .bind(c.mae)
    .bind(c.clone_penalty)
    .bind(c.variable_weight)
    .bind(c.qc_flags.as_ref().map(Json))
    .bind(c.calculated_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub(crate) async fn upsert_component_scores(pool: &PgPool, rows: &[ComponentScore]) -> Res<()> {
    let mut tx = pool.begin().await?;
    for c in rows {
        upsert_component(&mut tx, c).await?;
    }
    tx.commit().await
}

pub(crate) async fn list_component_scores(
    pool: &PgPool,
    response_id: i64,
) -> Res<Vec<ComponentScore>> {
    sqlx::query_as(
        "SELECT * FROM weather_forecast_component_scores WHERE response_id = $1
         ORDER BY score_type, lead_hours, variable_name, pressure_level",
    )
    .bind(response_id)
    .fetch_all(pool)
    .await
}

// ---------------------------------------------------------------- stats

pub(crate) async fn upsert_stats(pool: &PgPool, s: &ForecastStats) -> Res<ForecastStats> {
    sqlx::query_as(
        "INSERT INTO weather_forecast_stats
             (run_id, miner_uid, miner_hotkey, forecast_status, current_forecast_stage,
              forecast_score_initial, era5_score_24h, era5_score_48h, era5_score_72h,
              era5_score_96h, era5_score_120h, era5_score_144h, era5_score_168h,
              era5_score_192h, era5_score_216h, era5_score_240h, era5_combined_score,
              era5_completeness, overall_forecast_score, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20)
         ON CONFLICT (miner_uid, run_id) DO UPDATE SET
             miner_hotkey = EXCLUDED.miner_hotkey,
             forecast_status = EXCLUDED.forecast_status,
             current_forecast_stage = COALESCE(EXCLUDED.current_forecast_stage, weather_forecast_stats.current_forecast_stage),
             forecast_score_initial = COALESCE(EXCLUDED.forecast_score_initial, weather_forecast_stats.forecast_score_initial),
             era5_score_24h = COALESCE(EXCLUDED.era5_score_24h, weather_forecast_stats.era5_score_24h),
             era5_score_48h = COALESCE(EXCLUDED.era5_score_48h, weather_forecast_stats.era5_score_48h),
             era5_score_72h = COALESCE(EXCLUDED.era5_score_72h, weather_forecast_stats.era5_score_72h),
             era5_score_96h = COALESCE(EXCLUDED.era5_score_96h, weather_forecast_stats.era5_score_96h),
             era5_score_120h = COALESCE(EXCLUDED.era5_score_120h, weather_forecast_stats.era5_score_120h),
             era5_score_144h = COALESCE(EXCLUDED.era5_score_144h, weather_forecast_stats.era5_score_144h),
             era5_score_168h = COALESCE(EXCLUDED.era5_score_168h, weather_forecast_stats.era5_score_168h),
             era5_score_192h = COALESCE(EXCLUDED.era5_score_192h, weather_forecast_stats.era5_score_192h),
             era5_score_216h = COALESCE(EXCLUDED.era5_score_216h, weather_forecast_stats.era5_score_216h),
             era5_score_240h = COALESCE(EXCLUDED.era5_score_240h, weather_forecast_stats.era5_score_240h),
             era5_combined_score = COALESCE(EXCLUDED.era5_combined_score, weather_forecast_stats.era5_combined_score),
             era5_completeness = COALESCE(EXCLUDED.era5_completeness, weather_forecast_stats.era5_completeness),
             overall_forecast_score = COALESCE(EXCLUDED.overall_forecast_score, weather_forecast_stats.overall_forecast_score),
             updated_at = EXCLUDED.updated_at
         RETURNING *",
    )
    .bind(s.run_id)
    .bind(i32::from(s.miner_uid))
    .bind(&s.miner_hotkey)
    .bind(s.forecast_status.as_str())
    .bind(&s.current_forecast_stage)
    .bind(s.forecast_score_initial)
    .bind(s.era5_score_24h)
    .bind(s.era5_score_48h)
    .bind(s.era5_score_72h)
    .bind(s.era5_score_96h)
    .bind(s.era5_score_120h)
    .bind(s.era5_score_144h)
    .bind(s.era5_score_168h)
    .bind(s.era5_score_192h)
    .bind(s.era5_score_216h)
    .bind(s.era5_score_240h)
    .bind(s.era5_combined_score)
    .bind(s.era5_completeness)
    .bind(s.overall_forecast_score)
    .bind(s.updated_at)
    .fetch_one(pool)
    .await
}

pub(crate) async fn list_stats(pool: &PgPool, run_id: i64) -> Res<Vec<ForecastStats>> {
    sqlx::query_as("SELECT * FROM weather_forecast_stats WHERE run_id = $1 ORDER BY miner_uid")
        .bind(run_id)
        .fetch_all(pool)
        .await
}

// ---------------------------------------------------------------- score_table

pub(crate) async fn upsert_score_row(pool: &PgPool, r: &ScoreRow) -> Res<()> {
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
    pool: &PgPool,
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
    pool: &PgPool,
    task_name: &str,
    task_id: &str,
    status: ScoreRowStatus,
) -> Res<bool> {
    let r = sqlx::query("UPDATE score_table SET status = $3 WHERE task_name = $1 AND task_id = $2")
        .bind(task_name)
        .bind(task_id)
        .bind(status.as_str())
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

// ---------------------------------------------------------------- weight history

pub(crate) async fn record_weights(pool: &PgPool, w: &WeightRecord) -> Res<bool> {
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
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Res<Vec<WeightRecord>> {
    sqlx::query_as("SELECT * FROM weight_history WHERE created_at >= $1 ORDER BY created_at, id")
        .bind(since)
        .fetch_all(pool)
        .await
}

// ---------------------------------------------------------------- work ledger

pub(crate) async fn enqueue_job(pool: &PgPool, j: &NewJob, now: DateTime<Utc>) -> Res<Enqueued> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO work_ledger (job_key, job_type, priority, payload, status, attempts,
                                  max_attempts, scheduled_at, run_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7, $8, $8)
         ON CONFLICT (job_key) DO NOTHING
         RETURNING id",
    )
    .bind(&j.job_key)
    .bind(&j.job_type)
    .bind(j.priority)
    .bind(Json(&j.payload))
    .bind(j.max_attempts)
    .bind(j.scheduled_at)
    .bind(j.run_id)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(job_id) = inserted {
        return Ok(Enqueued {
            job_id,
            created: true,
        });
    }
    let job_id = sqlx::query_scalar("SELECT id FROM work_ledger WHERE job_key = $1")
        .bind(&j.job_key)
        .fetch_one(pool)
        .await?;
    Ok(Enqueued {
        job_id,
        created: false,
    })
}

pub(crate) async fn get_job(pool: &PgPool, id: i64) -> Res<Option<Job>> {
    sqlx::query_as("SELECT * FROM work_ledger WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn find_job_by_key(pool: &PgPool, key: &str) -> Res<Option<Job>> {
    sqlx::query_as("SELECT * FROM work_ledger WHERE job_key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn list_jobs_for_run(pool: &PgPool, run_id: i64) -> Res<Vec<Job>> {
    sqlx::query_as("SELECT * FROM work_ledger WHERE run_id = $1 ORDER BY id")
        .bind(run_id)
        .fetch_all(pool)
        .await
}

pub(crate) async fn count_jobs(pool: &PgPool, status: JobStatus) -> Res<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM work_ledger WHERE status = $1")
        .bind(status.as_str())
        .fetch_one(pool)
        .await
}

const QUARANTINE_EXPIRED: &str = "UPDATE work_ledger
     SET status = 'quarantined', lease_expires_at = NULL, updated_at = $1,
         last_error = 'lease expired after the last allowed attempt'
     WHERE status = 'in_progress' AND lease_expires_at <= $1 AND attempts >= max_attempts";

pub(crate) async fn claim_job(
    pool: &PgPool,
    claimer: &str,
    type_prefix: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Res<Option<Job>> {
    let mut tx = pool.begin().await?;
    sqlx::query(QUARANTINE_EXPIRED)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // A claimer holds at most one live lease: a retried claim gets the same job back.
    let held: Option<Job> = sqlx::query_as(
        "SELECT * FROM work_ledger
         WHERE claimed_by = $1 AND status = 'in_progress' AND lease_expires_at > $2
         ORDER BY id LIMIT 1",
    )
    .bind(claimer)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if held.is_some() {
        tx.commit().await?;
        return Ok(held);
    }
    let job: Option<Job> = sqlx::query_as(
        "WITH next AS (
             SELECT id FROM work_ledger
             WHERE attempts < max_attempts
               AND substr(job_type, 1, length($4)) = $4
               AND ((status IN ('pending', 'retry_scheduled') AND scheduled_at <= $2
                     AND (next_retry_at IS NULL OR next_retry_at <= $2))
                    OR (status = 'in_progress' AND lease_expires_at <= $2))
             ORDER BY priority, scheduled_at, id
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
         UPDATE work_ledger w
         SET status = 'in_progress', attempts = w.attempts + 1, claimed_by = $1,
             lease_expires_at = $3, next_retry_at = NULL, updated_at = $2
         FROM next WHERE w.id = next.id
         RETURNING w.*",
    )
    .bind(claimer)
    .bind(now)
    .bind(lease_until)
    .bind(type_prefix)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

async fn finish_state(pool: &PgPool, id: i64) -> Res<Option<(String, Option<String>)>> {
    sqlx::query_as("SELECT status, claimed_by FROM work_ledger WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn complete_job(
    pool: &PgPool,
    id: i64,
    claimer: &str,
    result: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> Res<Finish> {
    let done = sqlx::query(
        "UPDATE work_ledger
         SET status = 'succeeded', result = $3, lease_expires_at = NULL, updated_at = $4
         WHERE id = $1 AND claimed_by = $2 AND status = 'in_progress'",
    )
    .bind(id)
    .bind(claimer)
    .bind(result.map(Json))
    .bind(now)
    .execute(pool)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(Finish::Applied(JobStatus::Succeeded));
    }
    let current = finish_state(pool, id).await?;
    Ok(classify_unapplied(
        current,
        claimer,
        &[JobStatus::Succeeded],
    ))
}

pub(crate) async fn fail_job(
    pool: &PgPool,
    id: i64,
    claimer: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Res<Finish> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE work_ledger
         SET status = CASE WHEN $4 AND attempts < max_attempts THEN 'retry_scheduled'
                           ELSE 'failed' END,
             next_retry_at = CASE WHEN $4 AND attempts < max_attempts THEN $5 ELSE NULL END,
             last_error = $3, lease_expires_at = NULL, updated_at = $6
         WHERE id = $1 AND claimed_by = $2 AND status = 'in_progress'
         RETURNING status",
    )
    .bind(id)
    .bind(claimer)
    .bind(error)
    .bind(retry_at.is_some())
    .bind(retry_at)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(s) = status {
        let parsed = s.parse::<JobStatus>().unwrap_or(JobStatus::Failed);
        return Ok(Finish::Applied(parsed));
    }
    let current = finish_state(pool, id).await?;
    Ok(classify_unapplied(
        current,
        claimer,
        &[JobStatus::Failed, JobStatus::RetryScheduled],
    ))
}

pub(crate) async fn reap_expired_leases(pool: &PgPool, now: DateTime<Utc>) -> Res<ReapReport> {
    let mut tx = pool.begin().await?;
    let quarantined = sqlx::query(QUARANTINE_EXPIRED)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let requeued = sqlx::query(
        "UPDATE work_ledger
         SET status = 'retry_scheduled', next_retry_at = $1, lease_expires_at = NULL, claimed_by = NULL,
             updated_at = $1, last_error = 'lease expired'
         WHERE status = 'in_progress' AND lease_expires_at <= $1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(ReapReport {
        requeued,
        quarantined,
    })
}
