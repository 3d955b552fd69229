//! Score aggregation: from per-(lead, variable) ERA5 numbers to a miner's overall score
//! (spec §4.4, [`era5`]) and from overall scores to the run's 256-UID score row (spec §5.1,
//! [`row`]).
//!
//! Both are pure functions of serde request types so the compute workers can run them as
//! handlers; the weight calculation that consumes the rows lives in [`crate::weights`].

pub mod era5;
pub mod row;

pub use era5::{
    aggregate_overall, rmse_reference_median, score_lead, BlendConfig, LeadMetrics, LeadScore,
    OverallOutcome, OverallRequest, OverallScore, VariableMetrics, EXPECTED_VARIABLES, LEAD_HOURS,
};
pub use row::{
    build_score_row, RunScoreRecord, ScoreRow, ScoreRowConfig, ScoreRowRequest, UidHotkey, NUM_UIDS,
};

/// Malformed input to the aggregation functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggregateError {
    /// A lead time that is not one of the ten ERA5 leads (24 … 240 h).
    #[error("lead {0} h is not one of the ERA5 leads 24..=240 step 24")]
    UnknownLead(u32),
    /// The same lead was given twice.
    #[error("lead {0} h given more than once")]
    DuplicateLead(u32),
    /// Blend weights that are negative, not finite or sum to zero.
    #[error("invalid blend weights: era5 {era5_weight}, day1 {day1_weight}")]
    InvalidBlend {
        /// ERA5 weight given.
        era5_weight: f64,
        /// Day-1 weight given.
        day1_weight: f64,
    },
    /// A UID outside 0..256.
    #[error("uid {0} is outside 0..256")]
    UidOutOfRange(u16),
    /// The same UID was given twice in the hotkey map.
    #[error("uid {0} given more than once")]
    DuplicateUid(u16),
    /// A configuration constant that makes the rule meaningless.
    #[error("invalid score-row configuration: {0}")]
    InvalidConfig(String),
}
