//! The job set a worker of the production binary registers: the validator's own jobs (the
//! catalogue of `crate::jobs`). The developer binary adds its diagnostic `sys.*` jobs through the
//! `extra_jobs` hook of `crate::commands::dispatch`.

use super::HandlerRegistry;
use crate::jobs::{weather, weights};

/// Register every job the production validator knows: the catalogue of `crate::jobs`.
pub fn register_all(registry: &mut HandlerRegistry) {
    registry.register::<weather::VerifyManifest>();
    registry.register::<weather::ScoreDay1>();
    registry.register::<weather::ScoreEra5Lead>();
    registry.register::<weather::ScoreOverall>();
    registry.register::<weather::BuildScoreRow>();
    registry.register::<weights::CalculateWeights>();
}
