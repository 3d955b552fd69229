//! The job sets a worker registers: the validator's own jobs (the catalogue of `crate::jobs`)
//! and the diagnostic `sys.*` jobs.

pub mod sys;

use super::HandlerRegistry;
use crate::jobs::{weather, weights};

/// Register the validator's jobs: every job of the catalogue in `crate::jobs`.
pub fn register_validator_jobs(registry: &mut HandlerRegistry) {
    registry.register::<weather::VerifyManifest>();
    registry.register::<weather::ScoreDay1>();
    registry.register::<weather::ScoreEra5Lead>();
    registry.register::<weather::ScoreOverall>();
    registry.register::<weather::BuildScoreRow>();
    registry.register::<weights::CalculateWeights>();
}

/// Register every job the validator knows.
pub fn register_all(registry: &mut HandlerRegistry) {
    sys::register(registry);
    register_validator_jobs(registry);
}
