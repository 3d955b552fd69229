//! The weight calculation (spec §5.2–5.3, §5.5; chain.md §3.2): from the score rows of the
//! last 15 days to the float weights per UID and the u16 vector the chain stores.
//!
//! [`calculate_weights`] is the pure function behind the `weights.calculate` handler; the
//! other modules are its steps, public so that each can be tested and reused on its own.

pub mod active;
pub mod burn;
pub mod cadence;
pub mod calculate;
pub mod quantize;
pub mod smoothing;
pub mod transform;
pub mod types;

pub use active::{active_validator_uids, zero_active_validators, ACTIVE_VALIDATOR_BLOCKS};
pub use burn::{apply_burn, BurnConfig, DEFAULT_BURN_HOTKEY};
pub use cadence::{weights_due, MIN_BLOCKS_BETWEEN_WEIGHTS};
pub use calculate::{calculate_weights, mean_scores};
pub use quantize::{quantize_dense, quantize_u16, QuantizedWeights, U16_MAX_WEIGHT};
pub use smoothing::{apply_smoothing, group_factor, SmoothingConfig};
pub use transform::{
    coefficient_of_variation, generalised_logistic, midpoint, numpy_percentile_linear,
    transform_scores, TransformConfig, Transformed,
};
pub use types::{
    FallbackReason, NodeInfo, ScoreTableRow, WeightsConfig, WeightsFile, WeightsRequest,
    WeightsResult, DEFAULT_FALLBACK_UID,
};

/// Malformed input to the weight calculation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// A score row without exactly 256 entries.
    #[error("score row `{task_id}` has {len} entries, expected 256")]
    RowLength {
        /// The row's task id.
        task_id: String,
        /// Entries found.
        len: usize,
    },
    /// A UID outside 0..256 (node list, fallback or burn UID).
    #[error("uid {0} is outside 0..256")]
    UidOutOfRange(u16),
    /// The same UID appears twice in the node list.
    #[error("uid {0} appears more than once in the node list")]
    DuplicateUid(u16),
    /// `uids` and `weights` of different lengths given to the quantiser.
    #[error("{uids} uids but {weights} weights")]
    LengthMismatch {
        /// Number of UIDs.
        uids: usize,
        /// Number of weights.
        weights: usize,
    },
    /// A setting outside its range (e.g. `burn.rate` above 1).
    #[error("setting `{field}` = {value} is outside {range}")]
    SettingOutOfRange {
        /// The setting's name in the request's `config`.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range.
        range: &'static str,
    },
    /// A negative or non-finite weight given to the quantiser.
    #[error("weight {weight} of uid {uid} is negative or not finite")]
    InvalidWeight {
        /// The UID.
        uid: u16,
        /// Its weight.
        weight: f64,
    },
    /// More weights than u16 UIDs.
    #[error("{0} weights do not fit u16 UIDs")]
    TooManyUids(usize),
    /// A window that is not positive.
    #[error("window of {0} days is not positive")]
    InvalidWindow(i64),
}
