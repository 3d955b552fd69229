//! The weight transform of spec §5.2 step 5: max-normalise, take the 80th-percentile midpoint,
//! apply the generalised logistic curve, sharpen a too-flat result, normalise to sum 1.
//!
//! Separate from the pipeline in `calculate.rs` because this is the part whose floating-point
//! detail (numpy's percentile definition, the order of operations) decides whether our weights
//! equal the other validators'; it is tested against numpy on random vectors.

use serde::{Deserialize, Serialize};

/// Constants of the transform; the defaults are production's (spec §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformConfig {
    /// Percentile of the unique positive normalised scores used as the curve midpoint `M` (80).
    pub midpoint_percentile: f64,
    /// Fewer unique positive values than this: take the percentile over all positive values (3).
    pub min_unique_for_percentile: usize,
    /// Steepness `b` (70).
    pub b: f64,
    /// `Q` (8).
    pub q: f64,
    /// Asymmetry `v` (0.3); the denominator is raised to `1/v`.
    pub v: f64,
    /// Upper asymptote `k` (0.98).
    pub k: f64,
    /// Lower asymptote `a` (0).
    pub a: f64,
    /// Linear slope `c` added to keep the order among saturated miners (0.01).
    pub c: f64,
    /// Coefficient of variation below which the contrast rule applies (0.03).
    pub contrast_cv_threshold: f64,
    /// `WEIGHT_CONTRAST_GAMMA` (1.3).
    pub contrast_gamma: f64,
}

impl Default for TransformConfig {
    fn default() -> Self {
        Self {
            midpoint_percentile: 80.0,
            min_unique_for_percentile: 3,
            b: 70.0,
            q: 8.0,
            v: 0.3,
            k: 0.98,
            a: 0.0,
            c: 0.01,
            contrast_cv_threshold: 0.03,
            contrast_gamma: 1.3,
        }
    }
}

/// Result of [`transform_scores`] when it produced weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    /// Weights summing to 1, same length as the input.
    pub weights: Vec<f64>,
    /// The curve midpoint `M`.
    pub midpoint: f64,
    /// Coefficient of variation of the transformed values before the contrast rule.
    pub cv: f64,
    /// Whether the contrast rule multiplied the values by `x^γ`.
    pub contrast_applied: bool,
}

/// numpy's default (`method="linear"`) percentile of `values` for `percentile` in [0, 100].
///
/// Sorted values `a[0..n]`, virtual index `g = (n − 1) · p/100`, `i = ⌊g⌋`, `t = g − i`; the
/// result is numpy's `_lerp(a[i], a[i+1], t)`: `a + (b − a)·t`, or `b − (b − a)·(1 − t)` when
/// `t ≥ 0.5`. `None` for an empty input.
pub fn numpy_percentile_linear(values: &[f64], percentile: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let q = percentile / 100.0;
    let virtual_index = (n - 1) as f64 * q;
    let lower = virtual_index.floor().clamp(0.0, (n - 1) as f64);
    let i = lower as usize;
    let t = virtual_index - lower;
    let below = sorted[i];
    let above = sorted[(i + 1).min(n - 1)];
    let diff = above - below;
    Some(if t >= 0.5 {
        above - diff * (1.0 - t)
    } else {
        below + diff * t
    })
}

/// The curve midpoint `M`: the percentile of the unique positive values, or of all positive
/// values if fewer than `min_unique_for_percentile` are unique. `None` without positives.
pub fn midpoint(normalised: &[f64], cfg: &TransformConfig) -> Option<f64> {
    let positives: Vec<f64> = normalised.iter().copied().filter(|&x| x > 0.0).collect();
    let mut unique = positives.clone();
    unique.sort_by(f64::total_cmp);
    unique.dedup();
    let basis = if unique.len() >= cfg.min_unique_for_percentile {
        &unique
    } else {
        &positives
    };
    numpy_percentile_linear(basis, cfg.midpoint_percentile)
}

/// The generalised logistic curve with the linear term:
/// `y = a + (k − a) / (1 + Q·e^(−b(x − M)))^(1/v) + c·x`.
pub fn generalised_logistic(x: f64, midpoint: f64, cfg: &TransformConfig) -> f64 {
    let denom = (1.0 + cfg.q * (-cfg.b * (x - midpoint)).exp()).powf(1.0 / cfg.v);
    cfg.a + (cfg.k - cfg.a) / denom + cfg.c * x
}

/// Population coefficient of variation `std / mean` (numpy `np.std`, ddof 0); `None` when the
/// mean is not positive.
pub fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= 0.0 || !mean.is_finite() {
        return None;
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

/// Apply spec §5.2 step 5 to the per-UID aggregated scores (zeros already applied).
///
/// `x_i = s_i / max s`; for `x_i > 0`, `y_i` = [`generalised_logistic`]; if the CV of those
/// `y` is below the threshold, `y_i *= max(x_i, 1e-9)^γ`; weights `y / Σ y`, zero elsewhere.
/// `None` in every degenerate case (no positive score, a non-finite value, a zero sum): the
/// caller then falls back to the default UID.
pub fn transform_scores(scores: &[f64], cfg: &TransformConfig) -> Option<Transformed> {
    if scores.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let max = scores.iter().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return None;
    }
    let x: Vec<f64> = scores
        .iter()
        .map(|&s| if s > 0.0 { s / max } else { 0.0 })
        .collect();
    let m = midpoint(&x, cfg)?;
    let mut y: Vec<f64> = x
        .iter()
        .map(|&xi| {
            if xi > 0.0 {
                generalised_logistic(xi, m, cfg)
            } else {
                0.0
            }
        })
        .collect();
    let positive_y: Vec<f64> = x
        .iter()
        .zip(&y)
        .filter(|(xi, _)| **xi > 0.0)
        .map(|(_, yi)| *yi)
        .collect();
    let cv = coefficient_of_variation(&positive_y)?;
    let contrast_applied = cv < cfg.contrast_cv_threshold;
    if contrast_applied {
        for (yi, &xi) in y.iter_mut().zip(&x) {
            if xi > 0.0 {
                *yi *= xi.max(1e-9).powf(cfg.contrast_gamma);
            }
        }
    }
    let total: f64 = y.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return None;
    }
    let weights = y.iter().map(|yi| yi / total).collect();
    Some(Transformed {
        weights,
        midpoint: m,
        cv,
        contrast_applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_hand_computed_numpy_linear() {
        // n = 5, g = 4 * 0.8 = 3.2 -> i = 3, t = 0.2 -> 4 + (5 - 4) * 0.2 = 4.2
        let p = numpy_percentile_linear(&[5.0, 1.0, 3.0, 2.0, 4.0], 80.0).unwrap();
        assert!((p - 4.2).abs() < 1e-12);
        // n = 2, g = 0.8 -> t >= 0.5 branch: 2 - (2 - 1) * 0.2 = 1.8
        let p = numpy_percentile_linear(&[1.0, 2.0], 80.0).unwrap();
        assert!((p - 1.8).abs() < 1e-12);
        assert_eq!(numpy_percentile_linear(&[7.0], 80.0), Some(7.0));
        assert_eq!(numpy_percentile_linear(&[], 80.0), None);
    }

    #[test]
    fn midpoint_uses_all_positives_when_few_unique() {
        // unique positives {0.5, 1.0} (2 < 3) -> percentile over [0.5, 0.5, 0.5, 1.0]:
        // g = 3 * 0.8 = 2.4 -> 0.5 + 0.5 * 0.4 = 0.7
        let m = midpoint(&[0.0, 0.5, 0.5, 0.5, 1.0], &TransformConfig::default()).unwrap();
        assert!((m - 0.7).abs() < 1e-12);
        assert_eq!(midpoint(&[0.0, 0.0], &TransformConfig::default()), None);
    }

    #[test]
    fn logistic_at_the_midpoint() {
        // x = M: denominator (1 + 8)^(1/0.3) = 9^(10/3); y = 0.98 / 9^(10/3) + 0.01 * x
        let cfg = TransformConfig::default();
        let y = generalised_logistic(0.5, 0.5, &cfg);
        let want = 0.98 / 9f64.powf(10.0 / 3.0) + 0.005;
        assert!((y - want).abs() < 1e-15);
    }

    #[test]
    fn cv_of_constant_is_zero_and_undefined_for_zero_mean() {
        assert_eq!(coefficient_of_variation(&[2.0, 2.0]), Some(0.0));
        assert_eq!(coefficient_of_variation(&[0.0, 0.0]), None);
        assert_eq!(coefficient_of_variation(&[]), None);
        // [1, 3]: mean 2, population std 1 -> 0.5
        assert_eq!(coefficient_of_variation(&[1.0, 3.0]), Some(0.5));
    }

    #[test]
    fn degenerate_inputs_give_none() {
        let cfg = TransformConfig::default();
        assert!(transform_scores(&[0.0, 0.0], &cfg).is_none());
        assert!(transform_scores(&[0.5, f64::NAN], &cfg).is_none());
        assert!(transform_scores(&[], &cfg).is_none());
    }
}
