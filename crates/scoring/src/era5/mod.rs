//! The ERA5 final score of one (miner, lead) (spec §4.3): every variable on every level against
//! ERA5, with the anti-manipulation checks. The per-lead normalisation and the blend (§4.4) live
//! in `crate::aggregate`; [`Era5LeadReport::to_lead_metrics`] produces their input.
//!
//! `config` holds the settings, `levels` the thickness weights, `units` the unit check,
//! `checks` salvage/manipulation/coverage/fill, `kernel` the fused single-pass statistics of one
//! level, `on_truth` the forecast on the truth grid and levels, `variable` the per-variable
//! checks and metrics, `request` the store-reading entry point
//! (variables on `config.threads` threads), `report` the serde result.

pub mod checks;
pub mod config;
pub mod identity;
pub mod kernel;
pub mod levels;
pub mod on_truth;
pub mod report;
pub mod request;
pub mod stored_levels;
pub mod units;
pub mod variable;

pub use config::Era5Config;
pub use kernel::{level_stats, KernelOptions, LevelStats};
pub use levels::{thickness_weights, ERA5_LEVELS_HPA};
pub use report::{Era5LeadReport, Era5LevelResult, Era5VariableResult};
pub use request::{score_era5_lead, Era5Request};
pub use variable::{score_era5_variable, Era5LevelFields, Era5VariableInput, ForecastOnTruth};

use crate::metrics::MetricError;
use crate::regrid::{InterpError, SelectError};
use crate::zarr::ZarrError;

/// Why a miner's ERA5 score for a lead failed.
#[derive(Debug, thiserror::Error)]
pub enum Era5Error {
    /// A store could not be opened or read (includes verify-on-read failures).
    #[error("reading the {which}: {source}")]
    Read {
        /// `forecast`, `truth` or `climatology`.
        which: &'static str,
        /// The reader's error.
        #[source]
        source: ZarrError,
    },
    /// The exact valid time or a level is missing.
    #[error("{which}: {source}")]
    Select {
        /// Which dataset.
        which: &'static str,
        /// The selection failure.
        #[source]
        source: SelectError,
    },
    /// A required variable is absent ("incomplete dataset").
    #[error("variable `{variable}` is missing from the {which} (incomplete dataset)")]
    MissingVariable {
        /// Short variable name.
        variable: String,
        /// `forecast` or `truth`.
        which: &'static str,
    },
    /// Values with `|x| > 1e12`: a verification failure.
    #[error("extreme values (|x| > 1e12) in `{variable}` at level {level_hpa:?}")]
    ExtremeValues {
        /// Short variable name.
        variable: String,
        /// Level in hPa, if atmospheric.
        level_hpa: Option<f64>,
    },
    /// Finite coverage below 0.1: NaN injection, a verification failure.
    #[error("NaN injection in `{variable}`: finite coverage {coverage}")]
    NanInjection {
        /// Short variable name.
        variable: String,
        /// Share of truth-finite points where the forecast is finite.
        coverage: f64,
    },
    /// Finite coverage below the required ratio: ERA5 scoring fails for this miner.
    #[error("`{variable}` covers {coverage} of the truth's finite points, below {required}")]
    InsufficientCoverage {
        /// Short variable name.
        variable: String,
        /// Coverage found.
        coverage: f64,
        /// Coverage required.
        required: f64,
    },
    /// The array read for a variable carries GRIB attributes of another quantity (§12-14).
    #[error("the {which}'s {reason}")]
    WrongVariable {
        /// `forecast` or `truth`.
        which: &'static str,
        /// What the attributes say and what they should.
        reason: String,
    },
    /// The array read for a variable has another unit (§12-15).
    #[error("the {which}'s `{variable}` is in `{found}`, expected `{expected}`")]
    WrongUnits {
        /// `forecast` or `truth`.
        which: &'static str,
        /// Short variable name.
        variable: String,
        /// The `units` attribute as stored.
        found: String,
        /// The expected unit (normalised spelling).
        expected: &'static str,
    },
    /// A surface variable's ACC is not finite: scoring aborts for the miner.
    #[error("ACC of surface variable `{0}` is not finite")]
    SurfaceAccNonFinite(String),
    /// The levels of a variable are not distinct finite numbers.
    #[error("invalid pressure levels for `{0}`")]
    BadLevels(String),
    /// Interpolation onto the ERA5 grid failed.
    #[error("cannot interpolate `{variable}` onto the ERA5 grid: {source}")]
    Interp {
        /// Short variable name.
        variable: String,
        /// The interpolation failure.
        #[source]
        source: InterpError,
    },
    /// Fields did not line up.
    #[error(transparent)]
    Metric(#[from] MetricError),
}

impl Era5Error {
    /// A read that failed for a passing reason (a rate-limiting or busy miner, a timeout) after
    /// its retries: the lead is scored again later, not counted as missing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.is_transient())
    }

    /// True for the failures production records as `verification_failed` (extreme values, NaN
    /// injection, verify-on-read mismatches); other errors are `era5_scoring_failed`.
    pub fn is_verification_failure(&self) -> bool {
        matches!(self, Self::ExtremeValues { .. } | Self::NanInjection { .. })
            || matches!(
                self,
                Self::Read {
                    source: ZarrError::Verification(_),
                    ..
                }
            )
    }
}
