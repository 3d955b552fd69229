//! The ERA5 per-(miner, lead, variable) result handed to the aggregation of spec §4.4.
//!
//! Shape (JSON): `{ lead_hours, valid_time, variables: [ { variable, levels: [ { level_hpa,
//! weight, mse, rmse, acc, skill, mae, bias } ], rmse, mse, acc, skill, mae, bias,
//! mean_bias_unweighted, coverage, edge_salvaged_points, climatology_filled_points, units,
//! error } ] }`. Non-finite numbers are `null`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::era5::{LeadMetrics, VariableMetrics};

/// Metrics of one pressure level (or of the single surface level, `level_hpa = null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Era5LevelResult {
    /// Pressure level in hPa; `None` for a surface variable.
    pub level_hpa: Option<f64>,
    /// Normalised thickness weight ω_k (1 for a surface variable).
    pub weight: f64,
    /// Weighted MSE ⟨(F−T)²⟩_w.
    pub mse: Option<f64>,
    /// sqrt of `mse`.
    pub rmse: Option<f64>,
    /// Anomaly correlation against climatology.
    pub acc: Option<f64>,
    /// Bias-corrected MSE skill against climatology.
    pub skill: Option<f64>,
    /// Weighted MAE.
    pub mae: Option<f64>,
    /// Weighted mean error (forecast − truth).
    pub bias: Option<f64>,
}

/// ERA5 result of one variable at one lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Era5VariableResult {
    /// Short variable name (`2t`, `t`, ...).
    pub variable: String,
    /// Per-level metrics in the order of the levels scored.
    pub levels: Vec<Era5LevelResult>,
    /// Stored RMSE `sqrt(Σ ω_k MSE_k)` (`era5_rmse_{var}_{h}h`).
    pub rmse: Option<f64>,
    /// `Σ ω_k MSE_k`.
    pub mse: Option<f64>,
    /// `Σ ω_k ACC_k` (`era5_acc_{var}_{h}h`); `None` when a level's ACC is NaN (see `error`).
    pub acc: Option<f64>,
    /// `Σ ω_k S_k` with NaN levels counted as 0 (`era5_skill_clim_{var}_{h}h`); `None`, like
    /// `acc`, when a level's ACC is NaN (spec §12-17).
    pub skill: Option<f64>,
    /// `Σ ω_k MAE_k` (diagnostic).
    pub mae: Option<f64>,
    /// `Σ ω_k bias_k` (diagnostic).
    pub bias: Option<f64>,
    /// Unweighted mean of forecast − truth over all points and levels.
    pub mean_bias_unweighted: Option<f64>,
    /// Share of truth-finite points where the forecast was finite, before the climatology fill.
    pub coverage: f64,
    /// Border points filled by edge salvage.
    pub edge_salvaged_points: usize,
    /// Points filled from climatology.
    pub climatology_filled_points: usize,
    /// The forecast's `units` attribute, if it had one.
    pub units: Option<String>,
    /// A variable-level error (`era5_error_{var}_{h}h`), e.g. a NaN level ACC.
    pub error: Option<String>,
}

impl Era5VariableResult {
    /// The three numbers the per-lead normalisation of spec §4.4 consumes.
    pub fn to_variable_metrics(&self) -> VariableMetrics {
        VariableMetrics {
            variable: self.variable.clone(),
            skill: self.skill,
            acc: self.acc,
            rmse: self.rmse,
        }
    }
}

/// ERA5 result of one (miner, lead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Era5LeadReport {
    /// Lead time in hours.
    pub lead_hours: u32,
    /// Valid time scored (= GFS init + lead).
    pub valid_time: DateTime<Utc>,
    /// One entry per variable, in configuration order.
    pub variables: Vec<Era5VariableResult>,
    /// What reading the miner's store fetched over HTTP (zero for a local store).
    #[serde(default)]
    pub transfer: crate::zarr::TransferStats,
}

impl Era5LeadReport {
    /// The input of `aggregate::era5::score_lead` for this lead.
    pub fn to_lead_metrics(&self) -> LeadMetrics {
        LeadMetrics {
            lead_hours: self.lead_hours,
            variables: self
                .variables
                .iter()
                .map(Era5VariableResult::to_variable_metrics)
                .collect(),
        }
    }
}
