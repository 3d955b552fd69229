//! The composite scores built on the statistics: bias-corrected MSE skill, the anomaly
//! correlation coefficient (ACC) and the anti-cloning distance and penalty (spec §3.3, §4.3).

use ndarray::{ArrayView2, Zip};

use super::stats::{mean_difference, weighted_mean_of, weighted_mse, MetricError};
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
    // ((x - b) - y)² evaluated in that order, as Python computes F' = F - b first.
    let forecast_mse = weighted_mean_of(forecast, truth, w, |x, y| {
        let e = (x - bias_correction) - y;
        e * e
    })?;
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
    if w.len() != forecast.nrows() {
        return Err(MetricError::WeightRows {
            weights: w.len(),
            rows: forecast.nrows(),
        });
    }
    // Pass 1: unweighted sums of each anomaly over its own non-NaN points (for the std guard)
    // and weighted sums over the points where both anomalies exist (for the correlation).
    let mut m = Moments::default();
    let ws = w.as_slice();
    Zip::indexed(forecast)
        .and(truth)
        .and(climatology)
        .for_each(|(i, _), &f, &t, &c| m.first(ws[i], f - c, t - c));
    let (fa_mean, ta_mean) = (m.fa_sum / m.fa_n as f64, m.ta_sum / m.ta_n as f64);
    let (wa_mean, wb_mean) = (m.wa / m.w, m.wb / m.w);
    // Pass 2: centred sums.
    let mut c2 = Centred::default();
    Zip::indexed(forecast)
        .and(truth)
        .and(climatology)
        .for_each(|(i, _), &f, &t, &c| {
            c2.add(ws[i], f - c, t - c, (fa_mean, ta_mean), (wa_mean, wb_mean))
        });
    let sf = (c2.fa_ss / m.fa_n as f64).sqrt();
    let st = (c2.ta_ss / m.ta_n as f64).sqrt();
    if sf < ACC_MIN_STD || st < ACC_MIN_STD {
        return Ok(f64::NAN);
    }
    Ok((c2.num / (c2.daa * c2.dbb).sqrt()).clamp(-1.0, 1.0))
}

#[derive(Default)]
struct Moments {
    fa_sum: f64,
    fa_n: usize,
    ta_sum: f64,
    ta_n: usize,
    wa: f64,
    wb: f64,
    w: f64,
}

impl Moments {
    #[inline]
    fn first(&mut self, wi: f64, fa: f64, ta: f64) {
        if !fa.is_nan() {
            self.fa_sum += fa;
            self.fa_n += 1;
        }
        if !ta.is_nan() {
            self.ta_sum += ta;
            self.ta_n += 1;
        }
        if !fa.is_nan() && !ta.is_nan() {
            self.wa += wi * fa;
            self.wb += wi * ta;
            self.w += wi;
        }
    }
}

#[derive(Default)]
struct Centred {
    fa_ss: f64,
    ta_ss: f64,
    num: f64,
    daa: f64,
    dbb: f64,
}

impl Centred {
    #[inline]
    fn add(&mut self, wi: f64, fa: f64, ta: f64, plain: (f64, f64), weighted: (f64, f64)) {
        if !fa.is_nan() {
            self.fa_ss += (fa - plain.0) * (fa - plain.0);
        }
        if !ta.is_nan() {
            self.ta_ss += (ta - plain.1) * (ta - plain.1);
        }
        if !fa.is_nan() && !ta.is_nan() {
            let (a, b) = (fa - weighted.0, ta - weighted.1);
            self.num += wi * a * b;
            self.daa += wi * a * a;
            self.dbb += wi * b * b;
        }
    }
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
