//! What a Day-1 score returns: per-variable numbers, the aggregate and its flags, and a flat map
//! of `day1_<metric>_<key>` values for storage (field names documented in docs/scoring.md).
//!
//! Non-finite numbers are reported as `null` (`None`), never as ±∞.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::units::UnitFix;

/// `Some(x)` for a finite number, `None` otherwise.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Whether a variable counts towards the Day-1 score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableStatus {
    /// Passed the sanity checks: its skill and ACC enter the averages.
    Scored,
    /// Failed a sanity check: excluded from the averages (not scored as zero; spec §10 item 9).
    SanityFailed,
    /// Could not be scored — missing from the forecast, no level within tolerance, no time step
    /// within tolerance, or a failure confined to this variable — and is skipped: the response
    /// still gets a Day-1 score from the other variables (spec §12-4). The reason is in
    /// `sanity_failures`.
    Skipped,
}

/// The Day-1 numbers of one variable (one key such as `2t` or `z500`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day1VariableResult {
    /// Short variable name (`2t`, `z`, ...).
    pub variable: String,
    /// Pressure level in hPa for atmospheric variables.
    pub level_hpa: Option<f64>,
    /// Key used for thresholds and field names (`2t`, `z500`).
    pub key: String,
    /// Whether it entered the averages.
    pub status: VariableStatus,
    /// Human-readable reasons for a failed sanity check (empty when scored).
    pub sanity_failures: Vec<String>,
    /// Unit conversion applied to the forecast, if any.
    pub unit_fix: Option<UnitFix>,
    /// Bias-corrected MSE skill against the GFS reference, before the clone penalty.
    pub skill: Option<f64>,
    /// Stored skill `S − p` (enters the average as `max(0, ·)`).
    pub skill_penalised: Option<f64>,
    /// Anomaly correlation against climatology (raw forecast).
    pub acc: Option<f64>,
    /// Weighted MSE of the bias-corrected forecast against the truth.
    pub forecast_mse: Option<f64>,
    /// Weighted MSE of the reference against the truth.
    pub reference_mse: Option<f64>,
    /// Unweighted mean of forecast − truth removed for the skill.
    pub bias_correction: Option<f64>,
    /// Clone distance `⟨(F−R)²⟩_w`.
    pub clone_distance: Option<f64>,
    /// Clone penalty (0 when the variable has no threshold).
    pub clone_penalty: f64,
    /// True when this variable triggers the strict clamp (`p > 0` or `d < 0.5·Δ`).
    pub clone_flag: bool,
    /// Weighted pattern correlation of forecast and reference.
    pub pattern_correlation: Option<f64>,
    /// Weighted RMSE of the raw forecast against the truth.
    pub rmse: Option<f64>,
    /// Weighted MAE of the raw forecast against the truth.
    pub mae: Option<f64>,
    /// Weighted mean error (forecast − truth) of the raw forecast.
    pub bias: Option<f64>,
}

impl Day1VariableResult {
    /// The result of a variable skipped for `reason` (spec §12-4): no metric, not averaged.
    pub fn skipped(spec: &super::config::VariableSpec, reason: String) -> Self {
        Self {
            variable: spec.name.clone(),
            level_hpa: spec.level_hpa,
            key: spec.key(),
            status: VariableStatus::Skipped,
            sanity_failures: vec![reason],
            unit_fix: None,
            skill: None,
            skill_penalised: None,
            acc: None,
            forecast_mse: None,
            reference_mse: None,
            bias_correction: None,
            clone_distance: None,
            clone_penalty: 0.0,
            clone_flag: false,
            pattern_correlation: None,
            rmse: None,
            mae: None,
            bias: None,
        }
    }
}

/// The Day-1 result for one miner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day1Report {
    /// `α·mean(max(0, S_p)) + β·mean((ACC+1)/2)`, after the strict clone clamp.
    pub score: f64,
    /// `score ≥ pass_threshold` (the binary Day-1 term of the blend).
    pub passed: bool,
    /// The strict clone clamp lowered (or capped) the score.
    pub clamped: bool,
    /// At least one variable failed a sanity check.
    pub qc_failed: bool,
    /// `mean(max(0, S_p))` over scored variables with a finite skill (0 if none).
    pub skill_term: f64,
    /// `mean((ACC+1)/2)` over scored variables with a finite ACC (0 if none).
    pub acc_term: f64,
    /// Lead time in hours, when known.
    pub lead_hours: Option<f64>,
    /// Valid time scored, when known.
    pub valid_time: Option<DateTime<Utc>>,
    /// Per-variable results in configuration order.
    pub variables: Vec<Day1VariableResult>,
    /// Flat `day1_<metric>_<key>` values (finite ones only), e.g. `day1_rmse_2t`.
    pub metrics: BTreeMap<String, f64>,
}

/// Build the flat metric map from the per-variable results.
pub fn flat_metrics(variables: &[Day1VariableResult]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for v in variables
        .iter()
        .filter(|v| v.status != VariableStatus::Skipped)
    {
        let entries = [
            ("rmse", v.rmse),
            ("mae", v.mae),
            ("bias", v.bias),
            ("skill", v.skill_penalised),
            ("skill_raw", v.skill),
            ("acc", v.acc),
            ("clone_distance", v.clone_distance),
            ("clone_penalty", Some(v.clone_penalty)),
            ("pattern_corr", v.pattern_correlation),
        ];
        for (name, value) in entries {
            if let Some(x) = value {
                out.insert(format!("day1_{name}_{}", v.key), x);
            }
        }
    }
    out
}
