//! u16 quantisation of a weight vector exactly as the pinned fiber client does it before
//! `SubtensorModule.set_weights` (chain.md §3.2, `_normalize_and_quantize_weights`).
//!
//! Kept apart so the chain submitter and the `weights` CLI print the same integers the chain
//! will store, and so the rounding rule (ties to even, `weight * scale` order) is tested alone.

use serde::{Deserialize, Serialize};

use super::WeightsError;

/// The chain's weight scale: the largest weight becomes this value.
pub const U16_MAX_WEIGHT: f64 = 65535.0;

/// The `(dests, weights)` pair of the `set_weights` extrinsic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizedWeights {
    /// UIDs with a positive float weight, in input order.
    pub uids: Vec<u16>,
    /// Their u16 values.
    pub values: Vec<u16>,
}

/// Quantise `(uids, weights)` as fiber does (chain.md §3.2):
///
/// * lengths must match and no weight may be negative (or NaN);
/// * all weights zero → empty vectors (fiber then submits an empty set);
/// * `scale = 65535 / max(weights)`; every pair with weight > 0 is kept as
///   `round_half_even(weight * scale)` — a tiny positive weight is kept with value 0 — and pairs
///   with weight exactly 0 are dropped.
pub fn quantize_u16(uids: &[u16], weights: &[f64]) -> Result<QuantizedWeights, WeightsError> {
    if uids.len() != weights.len() {
        return Err(WeightsError::LengthMismatch {
            uids: uids.len(),
            weights: weights.len(),
        });
    }
    if let Some(pos) = weights
        .iter()
        .position(|w| w.is_nan() || *w < 0.0 || w.is_infinite())
    {
        return Err(WeightsError::InvalidWeight {
            uid: uids[pos],
            weight: weights[pos],
        });
    }
    let max = weights.iter().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return Ok(QuantizedWeights::default());
    }
    let scale = U16_MAX_WEIGHT / max;
    let mut out = QuantizedWeights::default();
    for (&uid, &w) in uids.iter().zip(weights) {
        if w > 0.0 {
            // w * scale <= 65535 (up to rounding of the division), so the cast cannot wrap.
            let value = (w * scale).round_ties_even().min(U16_MAX_WEIGHT);
            out.uids.push(uid);
            out.values.push(value as u16);
        }
    }
    Ok(out)
}

/// Quantise a dense per-UID vector (index = UID), as Gaia passes `node_ids = 0..n` to fiber.
pub fn quantize_dense(weights: &[f64]) -> Result<QuantizedWeights, WeightsError> {
    let n = u16::try_from(weights.len()).map_err(|_| WeightsError::TooManyUids(weights.len()))?;
    let uids: Vec<u16> = (0..n).collect();
    quantize_u16(&uids, weights)
}
