//! The composite scores built on the statistics: bias-corrected MSE skill, the anomaly
//! correlation coefficient (ACC) and the anti-cloning distance and penalty (spec §3.3, §4.3).

use ndarray::{ArrayView2, Zip};

use super::stats::{mean_difference, nan_mean_std, weighted_mse, weighted_pearson, MetricError};
use super::weights::LatWeights;

/// Anomaly fields with a standard deviation below this are degenerate: ACC is NaN (MET @L498-555).
pub const ACC_MIN_STD: f64 = 1e-12;

/// Result of the bias-corrected MSE skill of a forecast against a reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkillScore {
    /// `1 − MSE(F′, T) / MSE(R, T)`; NaN when undefined or non-finite.
    pub skill: f64,
    /// Weighted MSE of the bias-corrected forecast against the truth.
    pub forecast_mse: f64,
    /// Weighted MSE of the reference against the truth.
    pub reference_mse: f64,
    /// The unweighted mean of `F − T` that was removed from the forecast.
    pub bias_correction: f64,
}

/// Skill from the two MSEs with the production's special cases: a perfect reference gives 1 if
/// the forecast is perfect too (else −∞), and any non-finite result becomes NaN. So the only
/// values returned are finite numbers or NaN.
pub fn skill_from_mse(forecast_mse: f64, reference_mse: f64) -> f64 {
    let skill = if reference_mse == 0.0 {
        if forecast_mse == 0.0 {
            1.0
        } else {
            f64::NEG_INFINITY
        }
    } else {
        1.0 - forecast_mse / reference_mse
    };
    if skill.is_finite() {
        skill
    } else {
        f64::NAN
    }
}

/// Bias-corrected MSE skill: `F′ = F − mean(F − T)` (unweighted spatial mean), then
/// `1 − ⟨(F′−T)²⟩_w / ⟨(R−T)²⟩_w` (spec §3.3 item 5 with R = GFS; §4.3 with R = climatology).
pub fn bias_corrected_skill(
    forecast: &ArrayView2<f64>,
    truth: &ArrayView2<f64>,
    reference: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<SkillScore, MetricError> {
    let bias_correction = mean_difference(forecast, truth)?;
    let corrected = forecast.mapv(|x| x - bias_correction);
    let forecast_mse = weighted_mse(&corrected.view(), truth, w)?;
    let reference_mse = weighted_mse(reference, truth, w)?;
    Ok(SkillScore {
        skill: skill_from_mse(forecast_mse, reference_mse),
        forecast_mse,
        reference_mse,
        bias_correction,
    })
}

/// Anomaly correlation: the weighted centred Pearson correlation of `F − C` and `T − C` using
/// the raw forecast; NaN if either anomaly field has a standard deviation below [`ACC_MIN_STD`].
pub fn anomaly_correlation(
    forecast: &ArrayView2<f64>,
    truth: &ArrayView2<f64>,
    climatology: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    for other in [truth, climatology] {
        if other.dim() != forecast.dim() {
            return Err(MetricError::ShapeMismatch {
                left: forecast.dim(),
                right: other.dim(),
            });
        }
    }
    let fa = Zip::from(forecast)
        .and(climatology)
        .map_collect(|&f, &c| f - c);
    let ta = Zip::from(truth)
        .and(climatology)
        .map_collect(|&t, &c| t - c);
    let (_, sf) = nan_mean_std(&fa.view());
    let (_, st) = nan_mean_std(&ta.view());
    if sf < ACC_MIN_STD || st < ACC_MIN_STD {
        return Ok(f64::NAN);
    }
    weighted_pearson(&fa.view(), &ta.view(), w)
}

/// Clone distance `d = ⟨(F − R)²⟩_w` between a forecast and the GFS reference (spec §3.3 item 1).
pub fn clone_distance(
    forecast: &ArrayView2<f64>,
    reference: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    weighted_mse(forecast, reference, w)
}

/// Clone penalty `γ·max(0, 1 − d/Δ)` when `d < Δ`, else 0 (spec §3.3 item 2). A NaN distance
/// gives no penalty (the comparison `d < Δ` is false, as in Python).
pub fn clone_penalty(distance: f64, delta: f64, gamma: f64) -> f64 {
    if distance < delta {
        gamma * (1.0 - distance / delta).max(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn skill_special_cases() {
        assert_eq!(skill_from_mse(0.0, 0.0), 1.0);
        assert!(skill_from_mse(1.0, 0.0).is_nan());
        assert!(skill_from_mse(f64::NAN, 1.0).is_nan());
        assert_eq!(skill_from_mse(1.0, 4.0), 0.75);
    }

    #[test]
    fn bias_correction_removes_constant_offset() {
        let t = array![[1.0, 2.0], [3.0, 5.0]];
        let f = t.mapv(|x| x + 7.0);
        let r = t.mapv(|x| x + 1.0);
        let w = LatWeights::cos_lat(&[45.0, 0.0]);
        let s = bias_corrected_skill(&f.view(), &t.view(), &r.view(), &w).unwrap();
        assert_eq!(s.bias_correction, 7.0);
        assert_eq!(s.forecast_mse, 0.0);
        assert!((s.reference_mse - 1.0).abs() < 1e-15);
        assert_eq!(s.skill, 1.0);
    }

    #[test]
    fn acc_degenerate_and_perfect() {
        let c = array![[0.0, 0.0], [0.0, 0.0]];
        let t = array![[1.0, 2.0], [3.0, 4.0]];
        let w = LatWeights::uniform(2);
        assert!(
            (anomaly_correlation(&t.view(), &t.view(), &c.view(), &w).unwrap() - 1.0).abs() < 1e-12
        );
        // forecast equal to climatology: zero anomaly, degenerate
        assert!(anomaly_correlation(&c.view(), &t.view(), &c.view(), &w)
            .unwrap()
            .is_nan());
        let bad = array![[1.0, 2.0]];
        assert!(anomaly_correlation(&bad.view(), &t.view(), &c.view(), &w).is_err());
    }

    #[test]
    fn clone_penalty_rule() {
        assert_eq!(clone_penalty(0.0, 100.0, 1.0), 1.0);
        assert_eq!(clone_penalty(25.0, 100.0, 1.0), 0.75);
        assert_eq!(clone_penalty(100.0, 100.0, 1.0), 0.0);
        assert_eq!(clone_penalty(f64::NAN, 100.0, 1.0), 0.0);
        let f = array![[1.0], [2.0]];
        let r = array![[1.0], [4.0]];
        assert_eq!(
            clone_distance(&f.view(), &r.view(), &LatWeights::uniform(2)).unwrap(),
            2.0
        );
    }
}
