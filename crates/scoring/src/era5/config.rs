//! ERA5 final-scoring settings with the production values as defaults (spec §4.3).

use serde::{Deserialize, Serialize};

use super::levels::ERA5_LEVELS_HPA;
use crate::profile::ScoringProfile;

/// ERA5 settings (defaults = production configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Era5Config {
    /// Surface variables (time, lat, lon).
    pub surface_variables: Vec<String>,
    /// Atmospheric variables (time, pressure_level, lat, lon), scored on all `levels_hpa`.
    pub atmospheric_variables: Vec<String>,
    /// Pressure levels in hPa (the 13 production levels).
    pub levels_hpa: Vec<f64>,
    /// Fill NaNs of the outer one-cell border from the inner neighbour (`WEATHER_ERA5_EDGE_SALVAGE`).
    pub edge_salvage: bool,
    /// Any `|x|` above this is a verification failure (`spec` profile only, §11-2).
    pub extreme_value_threshold: f64,
    /// Coverage below this is a NaN-injection verification failure.
    pub nan_injection_coverage: f64,
    /// Coverage below this fails ERA5 scoring for the miner
    /// (`WEATHER_ERA5_MIN_FINITE_COVERAGE_RATIO`).
    pub min_finite_coverage: f64,
    /// Levels (and variables) read and scored concurrently: 1 = sequential; a compute worker on a
    /// shared box should use at most cores ÷ workers. The result does not depend on it.
    pub threads: usize,
    /// Which rules (spec §11): `production` (default) or `spec`.
    pub profile: ScoringProfile,
    /// Request budget for the miner's store per minute (production miners allow 500).
    pub miner_requests_per_minute: u32,
    /// Seconds all reads of the miner's store may take together (0: no deadline, only the
    /// per-request timeout); well below the job's timeout.
    pub miner_download_deadline_s: u64,
}

impl Default for Era5Config {
    fn default() -> Self {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Self {
            surface_variables: names(&["2t", "msl", "10u", "10v"]),
            atmospheric_variables: names(&["t", "u", "v", "q", "z"]),
            levels_hpa: ERA5_LEVELS_HPA.to_vec(),
            edge_salvage: true,
            extreme_value_threshold: 1e12,
            nan_injection_coverage: 0.1,
            min_finite_coverage: 0.9985,
            threads: 1,
            profile: ScoringProfile::default(),
            miner_requests_per_minute: crate::zarr::DEFAULT_REQUESTS_PER_MINUTE,
            miner_download_deadline_s: crate::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
        }
    }
}
