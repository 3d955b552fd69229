//! The Day-1 quality-control score (spec §3): a miner's 12-hour forecast against the GFS
//! analysis, with the GFS 00Z forecast as reference and the WeatherBench2 climatology for ACC.
//!
//! `config` holds the production settings, `units` the unit auto-fixes, `kernel` the fused
//! statistics pass, `variable` the per-variable metrics, `score` the aggregate and clamp, `report` the serde result.

pub mod config;
pub mod kernel;
pub mod report;
pub mod request;
mod row_fr;
#[cfg(target_arch = "x86_64")]
mod row_fr_avx2;
pub mod score;
pub mod units;
pub mod variable;

pub use config::{Day1Config, VariableSpec};
pub use report::{Day1Report, Day1VariableResult, VariableStatus};
pub use request::{parallel_map, score_day1, Day1Request};
pub use score::{aggregate, score_day1_fields};
pub use units::UnitFix;
pub use variable::{score_variable, Day1Fields};

use crate::metrics::MetricError;
use crate::regrid::{InterpError, SelectError};
use crate::zarr::ZarrError;

/// Why a Day-1 score could not be computed. A failed score is an error, never a −∞ score.
#[derive(Debug, thiserror::Error)]
pub enum Day1Error {
    /// No variable was configured.
    #[error("no Day-1 variables configured")]
    NoVariables,
    /// A field could not be put on the truth grid.
    #[error("cannot interpolate the {which} onto the truth grid: {source}")]
    Interp {
        /// `forecast`, `reference` or `climatology`.
        which: &'static str,
        /// The interpolation failure.
        #[source]
        source: InterpError,
    },
    /// Fields did not line up.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// A time step or level required is not available.
    #[error("{which}: {source}")]
    Select {
        /// Which dataset.
        which: &'static str,
        /// The selection failure.
        #[source]
        source: SelectError,
    },
    /// A store could not be opened or a field could not be read (includes verify-on-read
    /// failures of the forecast).
    #[error("reading the {which}: {source}")]
    Read {
        /// `forecast`, `truth`, `reference` or `climatology`.
        which: &'static str,
        /// The reader's error.
        #[source]
        source: ZarrError,
    },
    /// A configured variable is missing from a dataset.
    #[error("variable `{variable}` is missing from the {which}")]
    MissingVariable {
        /// Short variable name.
        variable: String,
        /// `forecast`, `truth` or `reference`.
        which: &'static str,
    },
}

impl Day1Error {
    /// True for a problem confined to one variable of the forecast, which skips that variable
    /// instead of failing the Day-1 score (spec §12-4): the variable is missing from the
    /// forecast, no level or time step lies within tolerance, its field does not go onto the
    /// truth grid, or its metrics cannot be computed. Failures to open, read or verify a store,
    /// and any problem of the validator's own data (truth, reference, climatology), still fail
    /// the whole score.
    pub fn confined_to_variable(&self) -> bool {
        match self {
            Self::MissingVariable { which, .. }
            | Self::Select { which, .. }
            | Self::Interp { which, .. } => *which == "forecast",
            Self::Metric(_) => true,
            Self::NoVariables | Self::Read { .. } => false,
        }
    }

    /// A read that failed for a passing reason (a rate-limiting or busy miner, a timeout) after
    /// its retries: the score is tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.is_transient())
    }

    /// True for a verify-on-read failure of the forecast (a chunk that does not hash to its
    /// frozen manifest entry): production records the response as `verification_failed`.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Self::Read {
                which: "forecast",
                source: ZarrError::Verification(_),
            }
        )
    }
}
