//! Coldkey "topology smoothing" (spec §5.2 step 4, Gaia `calculate_network_efficiency_adjustments`).
//!
//! Production passes it a node list without coldkeys, so it does nothing on main (spec §10.8).
//! It is provided as an option, **off by default**, so an operator can reproduce it if the
//! subnet ever turns it on: UIDs sharing a coldkey in a group of size `s ≥ low` are multiplied
//! by `1 − (s − low)·penalty/(high − low)`, and groups with `s ≥ high` get 0.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Smoothing settings; the defaults are the fallback `{l: 3, h: 10, b: 0.8}` production uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmoothingConfig {
    /// Apply the smoothing (false: production's effective behaviour).
    pub enabled: bool,
    /// Smallest group size that is penalised (`l`, 3).
    pub low: usize,
    /// Group size from which the factor is 0 (`h`, 10).
    pub high: usize,
    /// Penalty reached at `high` (`b`, 0.8).
    pub penalty: f64,
}

impl Default for SmoothingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            low: 3,
            high: 10,
            penalty: 0.8,
        }
    }
}

/// The multiplier for a coldkey group of `size` UIDs.
pub fn group_factor(size: usize, cfg: &SmoothingConfig) -> f64 {
    if size >= cfg.high {
        0.0
    } else if size >= cfg.low && cfg.high > cfg.low {
        let steps = (size - cfg.low) as f64;
        (1.0 - steps * cfg.penalty / (cfg.high - cfg.low) as f64).max(0.0)
    } else {
        1.0
    }
}

/// Multiply `scores[uid]` by its coldkey group's factor. `coldkeys[uid]` is the UID's coldkey
/// (`None` or empty: not grouped). Does nothing unless `cfg.enabled`.
pub fn apply_smoothing(scores: &mut [f64], coldkeys: &[Option<String>], cfg: &SmoothingConfig) {
    if !cfg.enabled {
        return;
    }
    let mut groups: HashMap<&str, usize> = HashMap::new();
    for ck in coldkeys.iter().flatten().filter(|c| !c.is_empty()) {
        *groups.entry(ck.as_str()).or_default() += 1;
    }
    for (score, ck) in scores.iter_mut().zip(coldkeys) {
        if let Some(size) = ck.as_deref().and_then(|c| groups.get(c)) {
            *score *= group_factor(*size, cfg);
        }
    }
}
