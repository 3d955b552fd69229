//! The emission burn (spec §5.3, Gaia `apply_burn_from_env`): a fixed share of the total weight
//! moves to the UID of the burn hotkey before submission.
//!
//! The UID is resolved by the caller from the metagraph (`SubtensorModule.Uids(netuid,
//! hotkey)`), or here from the node list when only the hotkey is known.

use serde::{Deserialize, Serialize};

/// The production burn hotkey (`BURN_HOTKEY` default).
pub const DEFAULT_BURN_HOTKEY: &str = "5GmhjCqDTsRcKqPFw4FDig8tVBfFGNrwP8ywe5En5hnELwDQ";

/// Burn settings (`BURN_MINER_EMISSION`, `BURN_RATE`, `BURN_HOTKEY`); defaults are production's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BurnConfig {
    /// `BURN_MINER_EMISSION` (true).
    pub enabled: bool,
    /// `BURN_RATE` (0.75), clamped to [0, 1]; a non-finite rate disables the burn.
    pub rate: f64,
    /// `BURN_HOTKEY`; used to find the burn UID in the node list when `uid` is not given.
    pub hotkey: String,
    /// The burn UID if already resolved on chain; takes precedence over `hotkey`.
    pub uid: Option<u16>,
}

impl Default for BurnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rate: 0.75,
            hotkey: DEFAULT_BURN_HOTKEY.to_string(),
            uid: None,
        }
    }
}

/// Move `rate` of the total (non-negative) weight to `burn_uid`:
/// `w'_i = (1 − r)·max(w_i, 0)`, then `w'_burn += r·Σ_j max(w_j, 0)`.
///
/// Returns `None` (burn skipped, weights unchanged — Gaia logs and goes on) when the rate is 0
/// or not finite, `burn_uid` is outside the vector, or the total weight is not positive.
pub fn apply_burn(weights: &[f64], burn_uid: u16, rate: f64) -> Option<Vec<f64>> {
    if !rate.is_finite() {
        return None;
    }
    let rate = rate.clamp(0.0, 1.0);
    let idx = usize::from(burn_uid);
    if rate <= 0.0 || idx >= weights.len() {
        return None;
    }
    let base: Vec<f64> = weights.iter().map(|w| w.max(0.0)).collect();
    let total: f64 = base.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let mut out: Vec<f64> = base.iter().map(|w| (1.0 - rate) * w).collect();
    out[idx] += rate * total;
    Some(out)
}
