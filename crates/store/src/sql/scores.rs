//! Scores: per-response score rows (`weather_miner_scores`), diagnostic component scores
//! (`weather_forecast_component_scores`) and per-miner stats of a run (`weather_forecast_stats`).
//!
//! Every write is an upsert on the table's natural key; batches are written in one transaction.

use sqlx::types::Json;
use sqlx::{Pool, Transaction};

use super::{for_each_backend, one_row, Res};
use crate::records::weather::{ComponentScore, ForecastStats, MinerScore};

for_each_backend! {
    // ---------------------------------------------------------------- scores

    async fn upsert_miner_score(tx: &mut Transaction<'_, Db>, s: &MinerScore) -> Res<()> {
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

    pub(crate) async fn upsert_miner_scores(pool: &Pool<Db>, scores: &[MinerScore]) -> Res<()> {
        let mut tx = begin_write(pool).await?;
        for s in scores {
            upsert_miner_score(&mut tx, s).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn list_miner_scores(
        pool: &Pool<Db>,
        response_id: i64,
    ) -> Res<Vec<MinerScore>> {
        sqlx::query_as(
            "SELECT * FROM weather_miner_scores WHERE response_id = $1
             ORDER BY score_type, lead_hours, variable_level, valid_time_utc",
        )
        .bind(response_id)
        .fetch_all(pool)
        .await
    }

    pub(crate) async fn count_miner_scores(pool: &Pool<Db>, run_id: i64) -> Res<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM weather_miner_scores WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await
    }

    async fn upsert_component(tx: &mut Transaction<'_, Db>, c: &ComponentScore) -> Res<()> {
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

    pub(crate) async fn upsert_component_scores(
        pool: &Pool<Db>,
        rows: &[ComponentScore],
    ) -> Res<()> {
        let mut tx = begin_write(pool).await?;
        for c in rows {
            upsert_component(&mut tx, c).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn list_component_scores(
        pool: &Pool<Db>,
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

    pub(crate) async fn upsert_stats(pool: &Pool<Db>, s: &ForecastStats) -> Res<ForecastStats> {
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
        .fetch_all(pool)
        .await
        .and_then(one_row)
    }

    pub(crate) async fn stats_of(
        pool: &Pool<Db>,
        run_id: i64,
        uid: u8,
    ) -> Res<Option<ForecastStats>> {
        sqlx::query_as("SELECT * FROM weather_forecast_stats WHERE run_id = $1 AND miner_uid = $2")
            .bind(run_id)
            .bind(i32::from(uid))
            .fetch_optional(pool)
            .await
    }

    pub(crate) async fn list_stats(pool: &Pool<Db>, run_id: i64) -> Res<Vec<ForecastStats>> {
        sqlx::query_as("SELECT * FROM weather_forecast_stats WHERE run_id = $1 ORDER BY miner_uid")
            .bind(run_id)
            .fetch_all(pool)
            .await
    }
}
