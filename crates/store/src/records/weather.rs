//! Records of the weather lifecycle: runs, miner responses, score rows, component scores and
//! per-miner stats.
//!
//! The same struct is written and read where the table has a natural unique key (scores, stats):
//! writing it again with the same key updates the row. Times are UTC; both backends keep them to
//! the microsecond at least.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::status::{ComponentKind, ForecastStatus, ResponseStatus, RunStatus};
use crate::error::StoreError;

/// A run to create; the GFS init time is its natural key (creating it twice returns the first).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// When the validator started the run.
    pub run_initiation_time: DateTime<Utc>,
    /// Forecast start (the GFS init time for the standard run).
    pub target_forecast_time_utc: DateTime<Utc>,
    /// GFS cycle the run is based on; unique.
    pub gfs_init_time_utc: DateTime<Utc>,
    /// Free-form description of the GFS inputs.
    pub gfs_input_metadata: Option<Value>,
}

/// A row of `weather_forecast_runs`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Run {
    /// Primary key.
    pub id: i64,
    /// When the validator started the run.
    pub run_initiation_time: DateTime<Utc>,
    /// Forecast start.
    pub target_forecast_time_utc: DateTime<Utc>,
    /// GFS cycle; unique.
    pub gfs_init_time_utc: DateTime<Utc>,
    /// GFS input description.
    #[sqlx(json(nullable))]
    pub gfs_input_metadata: Option<Value>,
    /// Lifecycle state.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    /// When the run reached a terminal state.
    pub completion_time: Option<DateTime<Utc>>,
    /// Last time final scoring was attempted.
    pub final_scoring_attempted_time: Option<DateTime<Utc>>,
    /// Why the run failed, if it did.
    pub error_message: Option<String>,
}

/// A miner's response to a run; `(run_id, miner_uid)` is its natural key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResponse {
    /// The run.
    pub run_id: i64,
    /// The miner's UID (must exist in `node_table`).
    pub miner_uid: u8,
    /// The miner's hotkey at the time.
    pub miner_hotkey: String,
    /// The miner's job id.
    pub job_id: Option<String>,
    /// Where the miner serves its Zarr forecast.
    pub zarr_url: Option<String>,
    /// Verification hash the miner claims (SHA-256 of its manifest).
    pub verification_hash_claimed: Option<String>,
    /// Current state.
    pub status: ResponseStatus,
    /// When the response was received.
    pub response_time: DateTime<Utc>,
}

/// A row of `weather_miner_responses`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MinerResponse {
    /// Primary key.
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    #[sqlx(try_from = "i32")]
    pub miner_uid: u8,
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// The miner's job id.
    pub job_id: Option<String>,
    /// Zarr URL.
    pub zarr_url: Option<String>,
    /// Claimed verification hash.
    pub verification_hash_claimed: Option<String>,
    /// Hash the validator computed.
    pub verification_hash_computed: Option<String>,
    /// Whether verification passed (`None` = not verified yet).
    pub verification_passed: Option<bool>,
    /// The frozen manifest.
    #[sqlx(json(nullable))]
    pub frozen_manifest: Option<Value>,
    /// When the manifest was frozen.
    pub manifest_frozen_at: Option<DateTime<Utc>>,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub status: ResponseStatus,
    /// Last error.
    pub error_message: Option<String>,
    /// How many retries were scheduled.
    pub retry_count: i32,
    /// When to try again.
    pub next_retry_time: Option<DateTime<Utc>>,
    /// When the response was received.
    pub response_time: DateTime<Utc>,
    /// Milestone: job accepted.
    pub job_accepted_at: Option<DateTime<Utc>>,
    /// Milestone: inference started.
    pub inference_started_at: Option<DateTime<Utc>>,
    /// Milestone: inference completed.
    pub inference_completed_at: Option<DateTime<Utc>>,
    /// Milestone: Day-1 score stored.
    pub day1_scoring_completed_at: Option<DateTime<Utc>>,
    /// Milestone: ERA5 scores stored.
    pub era5_scoring_completed_at: Option<DateTime<Utc>>,
}

/// A response's identity and state: the columns of `weather_miner_responses` a step that
/// looks at a whole run needs, without the frozen manifest.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ResponseState {
    /// Primary key.
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    #[sqlx(try_from = "i32")]
    pub miner_uid: u8,
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// The miner's job id.
    pub job_id: Option<String>,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub status: ResponseStatus,
}

impl From<&MinerResponse> for ResponseState {
    fn from(r: &MinerResponse) -> Self {
        Self {
            id: r.id,
            run_id: r.run_id,
            miner_uid: r.miner_uid,
            miner_hotkey: r.miner_hotkey.clone(),
            job_id: r.job_id.clone(),
            status: r.status,
        }
    }
}

/// Outcome of verifying a response's manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// Hash the validator computed.
    pub hash_computed: Option<String>,
    /// Whether it passed.
    pub passed: bool,
    /// The manifest as frozen.
    pub frozen_manifest: Option<Value>,
    /// When it was frozen.
    pub manifest_frozen_at: Option<DateTime<Utc>>,
}

/// A row of `weather_miner_scores`; unique by
/// `(response_id, score_type, lead_hours, variable_level, valid_time_utc)`.
///
/// Key fields are never NULL: use `lead_hours = 0` and `variable_level = ""` for "not applicable"
/// (NULLs would make the unique key ineffective in both backends).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MinerScore {
    /// The response scored.
    pub response_id: i64,
    /// Its run.
    pub run_id: i64,
    /// The miner's UID.
    #[sqlx(try_from = "i32")]
    pub miner_uid: u8,
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// e.g. `day1_qc_score`, `era5_rmse_z500_24h`, `era5_final_composite_score`.
    pub score_type: String,
    /// Lead time in hours (0 = not applicable).
    pub lead_hours: i32,
    /// e.g. `z500`, `2t` (`""` = not applicable).
    pub variable_level: String,
    /// Valid time of the scored field.
    pub valid_time_utc: DateTime<Utc>,
    /// The score; finite when present.
    pub score: Option<f64>,
    /// Extra metrics.
    #[sqlx(json(nullable))]
    pub metrics: Option<Value>,
    /// When it was computed.
    pub calculation_time: DateTime<Utc>,
    /// Why scoring failed, if it did.
    pub error_message: Option<String>,
}

/// A row of `weather_forecast_component_scores`; unique by
/// `(response_id, score_type, lead_hours, variable_name, pressure_level)` (`pressure_level = 0`
/// for surface variables).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ComponentScore {
    /// The response scored.
    pub response_id: i64,
    /// Its run.
    pub run_id: i64,
    /// The miner's UID.
    #[sqlx(try_from = "i32")]
    pub miner_uid: u8,
    /// Day-1 or ERA5.
    #[sqlx(try_from = "String")]
    pub score_type: ComponentKind,
    /// Lead time in hours.
    pub lead_hours: i32,
    /// Variable name (e.g. `z`, `2t`).
    pub variable_name: String,
    /// Pressure level in hPa, 0 for surface variables.
    pub pressure_level: i32,
    /// Valid time.
    pub valid_time_utc: DateTime<Utc>,
    /// Root-mean-square error.
    pub rmse: Option<f64>,
    /// Mean squared error.
    pub mse: Option<f64>,
    /// Anomaly correlation coefficient.
    pub acc: Option<f64>,
    /// Skill score used in the blend.
    pub skill_score: Option<f64>,
    /// Skill against the GFS reference.
    pub skill_score_gfs: Option<f64>,
    /// Skill against climatology.
    pub skill_score_climatology: Option<f64>,
    /// Mean bias.
    pub bias: Option<f64>,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Clone penalty applied.
    pub clone_penalty: Option<f64>,
    /// Weight of the variable in the aggregate.
    pub variable_weight: Option<f64>,
    /// Quality-control flags.
    #[sqlx(json(nullable))]
    pub qc_flags: Option<Value>,
    /// When it was computed.
    pub calculated_at: DateTime<Utc>,
}

/// The ERA5 lead times with their own stats column, in hours.
pub const ERA5_LEADS: [i32; 10] = [24, 48, 72, 96, 120, 144, 168, 192, 216, 240];

/// A row of `weather_forecast_stats` (unique by run and miner).
///
/// Writing it upserts: `None` fields leave the stored value unchanged, so the Day-1 pass and the
/// ERA5 pass can each write only what they know.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ForecastStats {
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    #[sqlx(try_from = "i32")]
    pub miner_uid: u8,
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// Pipeline state for this miner.
    #[sqlx(try_from = "String")]
    pub forecast_status: ForecastStatus,
    /// Free-text stage.
    pub current_forecast_stage: Option<String>,
    /// Day-1 score.
    pub forecast_score_initial: Option<f64>,
    /// ERA5 score at 24 h.
    pub era5_score_24h: Option<f64>,
    /// ERA5 score at 48 h.
    pub era5_score_48h: Option<f64>,
    /// ERA5 score at 72 h.
    pub era5_score_72h: Option<f64>,
    /// ERA5 score at 96 h.
    pub era5_score_96h: Option<f64>,
    /// ERA5 score at 120 h.
    pub era5_score_120h: Option<f64>,
    /// ERA5 score at 144 h.
    pub era5_score_144h: Option<f64>,
    /// ERA5 score at 168 h.
    pub era5_score_168h: Option<f64>,
    /// ERA5 score at 192 h.
    pub era5_score_192h: Option<f64>,
    /// ERA5 score at 216 h.
    pub era5_score_216h: Option<f64>,
    /// ERA5 score at 240 h.
    pub era5_score_240h: Option<f64>,
    /// Mean of the ERA5 lead scores.
    pub era5_combined_score: Option<f64>,
    /// Fraction of leads scored.
    pub era5_completeness: Option<f64>,
    /// `0.95·ERA5 + 0.05·[Day1 ≥ 0.1]`.
    pub overall_forecast_score: Option<f64>,
    /// Last write.
    pub updated_at: DateTime<Utc>,
}

impl ForecastStats {
    /// An empty stats row (everything `None`) for a run and miner.
    pub fn new(
        run_id: i64,
        miner_uid: u8,
        miner_hotkey: impl Into<String>,
        status: ForecastStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            run_id,
            miner_uid,
            miner_hotkey: miner_hotkey.into(),
            forecast_status: status,
            current_forecast_stage: None,
            forecast_score_initial: None,
            era5_score_24h: None,
            era5_score_48h: None,
            era5_score_72h: None,
            era5_score_96h: None,
            era5_score_120h: None,
            era5_score_144h: None,
            era5_score_168h: None,
            era5_score_192h: None,
            era5_score_216h: None,
            era5_score_240h: None,
            era5_combined_score: None,
            era5_completeness: None,
            overall_forecast_score: None,
            updated_at: now,
        }
    }

    /// The ERA5 lead scores in lead order (24 h … 240 h).
    pub fn era5_by_lead(&self) -> [Option<f64>; 10] {
        [
            self.era5_score_24h,
            self.era5_score_48h,
            self.era5_score_72h,
            self.era5_score_96h,
            self.era5_score_120h,
            self.era5_score_144h,
            self.era5_score_168h,
            self.era5_score_192h,
            self.era5_score_216h,
            self.era5_score_240h,
        ]
    }

    /// Set the ERA5 score of one lead.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `lead_hours` is not one of [`ERA5_LEADS`].
    pub fn set_era5(&mut self, lead_hours: i32, score: f64) -> Result<(), StoreError> {
        let slot = match lead_hours {
            24 => &mut self.era5_score_24h,
            48 => &mut self.era5_score_48h,
            72 => &mut self.era5_score_72h,
            96 => &mut self.era5_score_96h,
            120 => &mut self.era5_score_120h,
            144 => &mut self.era5_score_144h,
            168 => &mut self.era5_score_168h,
            192 => &mut self.era5_score_192h,
            216 => &mut self.era5_score_216h,
            240 => &mut self.era5_score_240h,
            other => {
                return Err(StoreError::InvalidInput {
                    field: "ForecastStats.era5 lead_hours",
                    reason: format!("{other} h is not one of 24, 48, …, 240"),
                })
            }
        };
        *slot = Some(score);
        Ok(())
    }

    /// Every numeric field with its name, for validation.
    pub(crate) fn numbers(&self) -> Vec<(&'static str, Option<f64>)> {
        let mut v = vec![
            (
                "ForecastStats.forecast_score_initial",
                self.forecast_score_initial,
            ),
            (
                "ForecastStats.era5_combined_score",
                self.era5_combined_score,
            ),
            ("ForecastStats.era5_completeness", self.era5_completeness),
            (
                "ForecastStats.overall_forecast_score",
                self.overall_forecast_score,
            ),
        ];
        v.extend(
            self.era5_by_lead()
                .into_iter()
                .map(|s| ("ForecastStats.era5_score_*", s)),
        );
        v
    }
}
