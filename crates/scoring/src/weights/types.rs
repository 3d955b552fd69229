//! Request and response of the `weights.calculate` handler, and its configuration.
//!
//! Plain serde types so the IO-Engine can build a request from the database and the metagraph,
//! send it to a compute worker and store or submit the result; `docs/weights.md` documents the
//! JSON form the `weights` CLI reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::burn::BurnConfig;
use super::smoothing::SmoothingConfig;
use super::transform::TransformConfig;

/// The UID that receives all weight whenever the calculation degenerates (spec §5.2 step 6).
pub const DEFAULT_FALLBACK_UID: u16 = 252;

/// One `score_table` row: a run's 256-UID score vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreTableRow {
    /// `task_name`; only `weather` rows are used.
    #[serde(default = "default_task_name")]
    pub task_name: String,
    /// `task_id`, e.g. `weather_scores_{run_id}_{YYYYmmddTHHMMZ}`.
    pub task_id: String,
    /// `created_at` (the run's GFS init time).
    pub created_at: DateTime<Utc>,
    /// `uid_0_score … uid_255_score`; `null` and NaN count as 0.
    pub scores: Vec<Option<f64>>,
}

fn default_task_name() -> String {
    "weather".to_string()
}

/// One node of the metagraph (`node_table` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// UID in 0..256.
    pub uid: u16,
    /// Hotkey (SS58).
    #[serde(default)]
    pub hotkey: String,
    /// Axon IP; empty, `"0"` or absent means the UID serves nothing and gets no weight.
    #[serde(default)]
    pub ip: Option<String>,
    /// Coldkey (SS58), only used by the optional topology smoothing.
    #[serde(default)]
    pub coldkey: Option<String>,
}

impl NodeInfo {
    /// Whether the node advertises an IP (`node_table.ip` not empty and not `'0'`).
    pub fn has_ip(&self) -> bool {
        self.ip
            .as_deref()
            .map(str::trim)
            .is_some_and(|ip| !ip.is_empty() && ip != "0")
    }
}

/// Settings of the weight calculation; the defaults are production's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightsConfig {
    /// Rows created within this many days before `now` are averaged (15).
    pub window_days: i64,
    /// Accepted `task_id` prefixes (`weather_scores_`, `final_weather_scores`,
    /// `initial_weather_scores`).
    pub task_id_prefixes: Vec<String>,
    /// The UID receiving weight 1.0 in degenerate cases (252).
    pub fallback_uid: u16,
    /// Constants of the transform.
    pub transform: TransformConfig,
    /// Optional coldkey smoothing (off).
    pub smoothing: SmoothingConfig,
    /// Emission burn.
    pub burn: BurnConfig,
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self {
            window_days: 15,
            task_id_prefixes: vec![
                "weather_scores_".to_string(),
                "final_weather_scores".to_string(),
                "initial_weather_scores".to_string(),
            ],
            fallback_uid: DEFAULT_FALLBACK_UID,
            transform: TransformConfig::default(),
            smoothing: SmoothingConfig::default(),
            burn: BurnConfig::default(),
        }
    }
}

/// Request of `weights.calculate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsRequest {
    /// The reference time of the 15-day window (the caller's clock).
    pub now: DateTime<Utc>,
    /// Candidate `score_table` rows (filtered here by name, prefix and window).
    pub rows: Vec<ScoreTableRow>,
    /// The metagraph's nodes.
    pub nodes: Vec<NodeInfo>,
    /// UIDs of the active validators (permit and `LastUpdate` < 500 blocks ago, read from the
    /// chain at submission; see [`super::active_validator_uids`]): their weight is zeroed.
    #[serde(default)]
    pub active_validators: Vec<u16>,
    /// Settings.
    #[serde(default)]
    pub config: WeightsConfig,
}

/// The JSON file the `weights` CLI reads: a [`WeightsRequest`] whose `now` may be omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsFile {
    /// Reference time of the window; the caller's clock when absent.
    #[serde(default)]
    pub now: Option<DateTime<Utc>>,
    /// Candidate `score_table` rows.
    pub rows: Vec<ScoreTableRow>,
    /// The metagraph's nodes.
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
    /// UIDs of the active validators (their weight is zeroed).
    #[serde(default)]
    pub active_validators: Vec<u16>,
    /// Settings.
    #[serde(default)]
    pub config: WeightsConfig,
}

impl WeightsFile {
    /// The request, taking `clock` as `now` when the file has none.
    pub fn into_request(self, clock: std::time::SystemTime) -> WeightsRequest {
        WeightsRequest {
            now: self.now.unwrap_or_else(|| DateTime::<Utc>::from(clock)),
            rows: self.rows,
            nodes: self.nodes,
            active_validators: self.active_validators,
            config: self.config,
        }
    }
}

/// Why the weights fell back to the default UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// No row in the window.
    NoRows,
    /// No UID has a positive score after the IP filter and smoothing.
    NoPositiveScores,
    /// The transform produced no usable weights (non-finite or zero sum).
    DegenerateTransform,
    /// The only positive score is UID 0's (the reference's `nz_indices.any()` is false).
    OnlyUidZero,
}

/// Response of `weights.calculate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsResult {
    /// Final float weights per UID (index = UID, 256 entries) after the burn; sum 1.
    pub weights: Vec<f64>,
    /// The weights before the burn (sum 1).
    pub pre_burn_weights: Vec<f64>,
    /// `dests` of `set_weights`: UIDs with a positive weight.
    pub uids: Vec<u16>,
    /// `weights` of `set_weights`: u16 values as fiber quantises them.
    pub values: Vec<u16>,
    /// Per-UID 15-day mean after the IP filter and smoothing (the transform's input).
    pub aggregated_scores: Vec<f64>,
    /// Number of rows averaged.
    pub rows_used: usize,
    /// Set when all weight went to the fallback UID.
    pub fallback: Option<FallbackReason>,
    /// Curve midpoint `M` (absent on fallback).
    pub midpoint: Option<f64>,
    /// Coefficient of variation of the transformed values (absent on fallback).
    pub cv: Option<f64>,
    /// Whether the contrast rule applied.
    pub contrast_applied: bool,
    /// The UID the burn went to (absent if the burn was off or skipped).
    pub burn_uid: Option<u16>,
    /// Active validators whose positive weight was set to 0 before quantisation.
    #[serde(default)]
    pub zeroed_validators: Vec<u16>,
    /// Non-fatal notes for the operator (e.g. burn hotkey not in the node list).
    pub warnings: Vec<String>,
}
