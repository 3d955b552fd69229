//! Runs (`weather_forecast_runs`) and miner responses (`weather_miner_responses`): create or
//! get a run per GFS cycle, upsert a response per run and miner, and the status, verification,
//! retry and milestone updates of both.
//!
//! Run deletion is retention's (`chain.rs`).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::Pool;

use super::{for_each_backend, one_row, Res};
use crate::records::status::{ResponseMilestone, ResponseStatus, RunStatus};
use crate::records::weather::{
    MinerResponse, NewResponse, NewRun, ResponseState, Run, Verification,
};

for_each_backend! {
    // ---------------------------------------------------------------- runs

    pub(crate) async fn create_run(pool: &Pool<Db>, r: &NewRun) -> Res<Run> {
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
        .fetch_all(pool)
        .await
        .and_then(one_row)
    }

    pub(crate) async fn get_run(pool: &Pool<Db>, id: i64) -> Res<Option<Run>> {
        sqlx::query_as("SELECT * FROM weather_forecast_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    }

    pub(crate) async fn list_runs_since(pool: &Pool<Db>, since: DateTime<Utc>) -> Res<Vec<Run>> {
        sqlx::query_as(
            "SELECT * FROM weather_forecast_runs WHERE run_initiation_time >= $1
             ORDER BY run_initiation_time, id",
        )
        .bind(since)
        .fetch_all(pool)
        .await
    }

    pub(crate) async fn update_run_status(
        pool: &Pool<Db>,
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
        pool: &Pool<Db>,
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

    // ---------------------------------------------------------------- responses

    pub(crate) async fn upsert_response(pool: &Pool<Db>, r: &NewResponse) -> Res<MinerResponse> {
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
        .fetch_all(pool)
        .await
        .and_then(one_row)
    }

    pub(crate) async fn get_response(pool: &Pool<Db>, id: i64) -> Res<Option<MinerResponse>> {
        sqlx::query_as("SELECT * FROM weather_miner_responses WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    }

    pub(crate) async fn list_responses(pool: &Pool<Db>, run_id: i64) -> Res<Vec<MinerResponse>> {
        sqlx::query_as("SELECT * FROM weather_miner_responses WHERE run_id = $1 ORDER BY miner_uid")
            .bind(run_id)
            .fetch_all(pool)
            .await
    }

    pub(crate) async fn response_of(
        pool: &Pool<Db>,
        run_id: i64,
        uid: u8,
    ) -> Res<Option<MinerResponse>> {
        sqlx::query_as("SELECT * FROM weather_miner_responses WHERE run_id = $1 AND miner_uid = $2")
            .bind(run_id)
            .bind(i32::from(uid))
            .fetch_optional(pool)
            .await
    }

    pub(crate) async fn list_response_states(
        pool: &Pool<Db>,
        run_id: i64,
    ) -> Res<Vec<ResponseState>> {
        sqlx::query_as(
            "SELECT id, run_id, miner_uid, miner_hotkey, job_id, status
             FROM weather_miner_responses WHERE run_id = $1 ORDER BY miner_uid",
        )
        .bind(run_id)
        .fetch_all(pool)
        .await
    }

    pub(crate) async fn update_response_status(
        pool: &Pool<Db>,
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

    pub(crate) async fn record_verification(
        pool: &Pool<Db>,
        id: i64,
        v: &Verification,
    ) -> Res<bool> {
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
        pool: &Pool<Db>,
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
        pool: &Pool<Db>,
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
}
