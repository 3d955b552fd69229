//! Weather-lifecycle operations of [`Store`]: runs, miner responses, scores, component scores
//! and per-miner stats.

use chrono::{DateTime, Utc};

use super::{check_finite, found, on_backend, Store};
use crate::error::StoreResult;
use crate::records::status::{ResponseMilestone, ResponseStatus, RunStatus};
use crate::records::weather::{
    ComponentScore, ForecastStats, MinerResponse, MinerScore, NewResponse, NewRun, ResponseState,
    Run, Verification,
};

impl Store {
    /// Create the run for a GFS cycle, or return the existing one (status `created` when new).
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn create_run(&self, run: &NewRun) -> StoreResult<Run> {
        on_backend!(self, "create_run", |q, p| q::create_run(p, run))
    }

    /// The run with this id, if any.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn get_run(&self, id: i64) -> StoreResult<Option<Run>> {
        on_backend!(self, "get_run", |q, p| q::get_run(p, id))
    }

    /// Runs started at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_runs_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        on_backend!(self, "list_runs_since", |q, p| q::list_runs_since(p, since))
    }

    /// Set a run's status and error message; `completion_time` is stored when given.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown run.
    pub async fn update_run_status(
        &self,
        id: i64,
        status: RunStatus,
        error_message: Option<&str>,
        completion_time: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "update_run_status", |q, p| q::update_run_status(
            p,
            id,
            status,
            error_message,
            completion_time
        ))?;
        found(updated, || format!("weather_forecast_runs id {id}"))
    }

    /// Record that final (ERA5) scoring of a run was attempted at `at`.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown run.
    pub async fn mark_final_scoring_attempted(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "mark_final_scoring_attempted", |q, p| {
            q::mark_final_scoring_attempted(p, id, at)
        })?;
        found(updated, || format!("weather_forecast_runs id {id}"))
    }

    /// Insert a miner's response, or update the one for the same run and miner (fields given as
    /// `None` keep their stored value). Returns the stored row.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] (a foreign-key violation when the run or the UID's node row
    /// does not exist).
    pub async fn upsert_response(&self, response: &NewResponse) -> StoreResult<MinerResponse> {
        on_backend!(self, "upsert_response", |q, p| q::upsert_response(
            p, response
        ))
    }

    /// The response with this id, if any.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn get_response(&self, id: i64) -> StoreResult<Option<MinerResponse>> {
        on_backend!(self, "get_response", |q, p| q::get_response(p, id))
    }

    /// Every response of a run, by UID.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_responses(&self, run_id: i64) -> StoreResult<Vec<MinerResponse>> {
        on_backend!(self, "list_responses", |q, p| q::list_responses(p, run_id))
    }

    /// The response of `uid` in a run, if any: one row, where [`Self::list_responses`] would
    /// read (and parse the frozen manifest of) every miner's.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn response_of(&self, run_id: i64, uid: u8) -> StoreResult<Option<MinerResponse>> {
        on_backend!(self, "response_of", |q, p| q::response_of(p, run_id, uid))
    }

    /// Every response of a run, by UID, without its manifest and verification details: what a
    /// step that looks at the whole run (its open miners, a job id taken twice) needs, at a
    /// small fixed cost per miner (a full [`MinerResponse`] carries its frozen manifest, tens of
    /// kilobytes of JSON, so reading a 256-miner run's whole rows per miner step is quadratic).
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_response_states(&self, run_id: i64) -> StoreResult<Vec<ResponseState>> {
        on_backend!(
            self,
            "list_response_states",
            |q, p| q::list_response_states(p, run_id)
        )
    }

    /// Set a response's status and error message.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown response.
    pub async fn update_response_status(
        &self,
        id: i64,
        status: ResponseStatus,
        error_message: Option<&str>,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "update_response_status", |q, p| {
            q::update_response_status(p, id, status, error_message)
        })?;
        found(updated, || format!("weather_miner_responses id {id}"))
    }

    /// Store the outcome of manifest verification.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown response.
    pub async fn record_verification(&self, id: i64, v: &Verification) -> StoreResult<()> {
        let updated = on_backend!(self, "record_verification", |q, p| q::record_verification(
            p, id, v
        ))?;
        found(updated, || format!("weather_miner_responses id {id}"))
    }

    /// Set a response's retry counter and next retry time (absolute values, so a repeated call
    /// does not count twice).
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown response.
    pub async fn set_response_retry(
        &self,
        id: i64,
        retry_count: i32,
        next_retry_time: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "set_response_retry", |q, p| q::set_response_retry(
            p,
            id,
            retry_count,
            next_retry_time
        ))?;
        found(updated, || format!("weather_miner_responses id {id}"))
    }

    /// Stamp a timing milestone of a response.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] for an unknown response.
    pub async fn mark_response_milestone(
        &self,
        id: i64,
        milestone: ResponseMilestone,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let updated = on_backend!(self, "mark_response_milestone", |q, p| {
            q::mark_response_milestone(p, id, milestone, at)
        })?;
        found(updated, || format!("weather_miner_responses id {id}"))
    }

    /// Upsert score rows in one transaction: a row whose unique key exists is updated, never
    /// duplicated; all rows are written or none.
    ///
    /// # Errors
    /// [`crate::StoreError::InvalidInput`] for a non-finite score (nothing written);
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn upsert_miner_scores(&self, scores: &[MinerScore]) -> StoreResult<()> {
        for s in scores {
            check_finite("MinerScore.score", s.score)?;
        }
        if scores.is_empty() {
            return Ok(());
        }
        on_backend!(self, "upsert_miner_scores", |q, p| q::upsert_miner_scores(
            p, scores
        ))
    }

    /// Score rows of one response, in key order.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_miner_scores(&self, response_id: i64) -> StoreResult<Vec<MinerScore>> {
        on_backend!(self, "list_miner_scores", |q, p| q::list_miner_scores(
            p,
            response_id
        ))
    }

    /// Number of score rows of a run.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn count_miner_scores(&self, run_id: i64) -> StoreResult<i64> {
        on_backend!(self, "count_miner_scores", |q, p| q::count_miner_scores(
            p, run_id
        ))
    }

    /// Upsert component (diagnostic) scores in one transaction.
    ///
    /// # Errors
    /// [`crate::StoreError::InvalidInput`] for a non-finite metric (nothing written);
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn upsert_component_scores(&self, rows: &[ComponentScore]) -> StoreResult<()> {
        for c in rows {
            for (field, v) in [
                ("ComponentScore.rmse", c.rmse),
                ("ComponentScore.mse", c.mse),
                ("ComponentScore.acc", c.acc),
                ("ComponentScore.skill_score", c.skill_score),
                ("ComponentScore.skill_score_gfs", c.skill_score_gfs),
                (
                    "ComponentScore.skill_score_climatology",
                    c.skill_score_climatology,
                ),
                ("ComponentScore.bias", c.bias),
                ("ComponentScore.mae", c.mae),
                ("ComponentScore.clone_penalty", c.clone_penalty),
                ("ComponentScore.variable_weight", c.variable_weight),
            ] {
                check_finite(field, v)?;
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        on_backend!(self, "upsert_component_scores", |q, p| {
            q::upsert_component_scores(p, rows)
        })
    }

    /// Component scores of one response, in key order.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_component_scores(
        &self,
        response_id: i64,
    ) -> StoreResult<Vec<ComponentScore>> {
        on_backend!(self, "list_component_scores", |q, p| {
            q::list_component_scores(p, response_id)
        })
    }

    /// Upsert a miner's stats for a run; `None` fields keep their stored value. Returns the row
    /// as stored.
    ///
    /// # Errors
    /// [`crate::StoreError::InvalidInput`] for a non-finite number;
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn upsert_forecast_stats(&self, stats: &ForecastStats) -> StoreResult<ForecastStats> {
        for (field, v) in stats.numbers() {
            check_finite(field, v)?;
        }
        on_backend!(self, "upsert_forecast_stats", |q, p| q::upsert_stats(
            p, stats
        ))
    }

    /// Stats of every miner of a run, by UID.
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn list_forecast_stats(&self, run_id: i64) -> StoreResult<Vec<ForecastStats>> {
        on_backend!(self, "list_forecast_stats", |q, p| q::list_stats(p, run_id))
    }

    /// The forecast stats of `uid` in a run, if any (one row).
    ///
    /// # Errors
    /// [`crate::StoreError::Query`] when the database fails.
    pub async fn forecast_stats_of(
        &self,
        run_id: i64,
        uid: u8,
    ) -> StoreResult<Option<ForecastStats>> {
        on_backend!(self, "forecast_stats_of", |q, p| q::stats_of(
            p, run_id, uid
        ))
    }
}
