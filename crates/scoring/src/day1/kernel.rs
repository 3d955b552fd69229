//! The Day-1 statistics of one variable in two fused passes over the four fields.
//!
//! The per-metric primitives in `crate::metrics` each walk the field once or twice; on the
//! 0.25° grid the Day-1 score needs about fifteen such walks per variable. This kernel computes
//! exactly the same sums (same NaN matching per metric, same evaluation order of every term) in
//! two passes over contiguous rows, which is what keeps the score close to the decode-only floor.
//! Its tests check it against the primitives.

use ndarray::ArrayView2;

use crate::metrics::{skill_from_mse, LatWeights, MetricError, ACC_MIN_STD};

/// Everything Day-1 needs from (F, T, R, C) on one grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day1Stats {
    /// Clone distance ⟨(F−R)²⟩_w.
    pub clone_distance: f64,
    /// Weighted centred correlation of F and R.
    pub pattern_correlation: f64,
    /// NaN-skipping min and max of F (`None` when all NaN).
    pub forecast_min_max: Option<(f64, f64)>,
    /// Unweighted mean of F − T.
    pub bias_correction: f64,
    /// ⟨(F′−T)²⟩_w with F′ = F − bias_correction.
    pub forecast_mse: f64,
    /// ⟨(R−T)²⟩_w.
    pub reference_mse: f64,
    /// Skill from the two MSEs (NaN when undefined).
    pub skill: f64,
    /// ACC of F − C vs T − C (NaN when degenerate).
    pub acc: f64,
    /// ⟨(F−T)²⟩_w of the raw forecast.
    pub mse: f64,
    /// ⟨|F−T|⟩_w.
    pub mae: f64,
    /// ⟨F−T⟩_w.
    pub bias: f64,
}

#[derive(Default)]
struct PassA {
    fr_w: f64,
    fr_d2: f64,
    fr_f: f64,
    fr_r: f64,
    min: f64,
    max: f64,
    any_f: bool,
    d_sum: f64,
    d_n: usize,
    ft_w: f64,
    ft_d2: f64,
    ft_ad: f64,
    ft_d: f64,
    rt_w: f64,
    rt_d2: f64,
    fa_sum: f64,
    fa_n: usize,
    ta_sum: f64,
    ta_n: usize,
    an_w: f64,
    an_a: f64,
    an_b: f64,
}

#[derive(Default)]
struct PassB {
    fr_num: f64,
    fr_aa: f64,
    fr_bb: f64,
    skill_e2: f64,
    fa_ss: f64,
    ta_ss: f64,
    an_num: f64,
    an_aa: f64,
    an_bb: f64,
}

/// Compute the Day-1 statistics of forecast `f`, truth `t`, reference `r`, climatology `c`.
pub fn day1_stats(
    f: &ArrayView2<f64>,
    t: &ArrayView2<f64>,
    r: &ArrayView2<f64>,
    c: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<Day1Stats, MetricError> {
    for other in [t, r, c] {
        if other.dim() != f.dim() {
            return Err(MetricError::ShapeMismatch {
                left: f.dim(),
                right: other.dim(),
            });
        }
    }
    if w.len() != f.nrows() {
        return Err(MetricError::WeightRows {
            weights: w.len(),
            rows: f.nrows(),
        });
    }
    let (f, t, r, c) = (
        f.as_standard_layout(),
        t.as_standard_layout(),
        r.as_standard_layout(),
        c.as_standard_layout(),
    );
    let ncols = f.ncols().max(1);
    fn rows<'a>(a: &'a ndarray::CowArray<'_, f64, ndarray::Ix2>, ncols: usize) -> Vec<&'a [f64]> {
        a.as_slice()
            .map(|s| s.chunks_exact(ncols).collect())
            .unwrap_or_default()
    }
    let (fr, tr, rr, cr) = (
        rows(&f, ncols),
        rows(&t, ncols),
        rows(&r, ncols),
        rows(&c, ncols),
    );

    let mut a = PassA {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        ..PassA::default()
    };
    for (i, &wi) in w.as_slice().iter().enumerate().take(fr.len()) {
        for (((&x, &y), &z), &k) in fr[i].iter().zip(tr[i]).zip(rr[i]).zip(cr[i]) {
            // x = F, y = T, z = R, k = C
            if !x.is_nan() {
                a.any_f = true;
                a.min = a.min.min(x);
                a.max = a.max.max(x);
                if !z.is_nan() {
                    a.fr_w += wi;
                    a.fr_d2 += wi * ((x - z) * (x - z));
                    a.fr_f += wi * x;
                    a.fr_r += wi * z;
                }
                if !y.is_nan() {
                    let d = x - y;
                    a.ft_w += wi;
                    a.ft_d2 += wi * (d * d);
                    a.ft_ad += wi * d.abs();
                    a.ft_d += wi * d;
                }
            }
            let d = x - y;
            if !d.is_nan() {
                a.d_sum += d;
                a.d_n += 1;
            }
            if !z.is_nan() && !y.is_nan() {
                a.rt_w += wi;
                a.rt_d2 += wi * ((z - y) * (z - y));
            }
            let (fa, ta) = (x - k, y - k);
            if !fa.is_nan() {
                a.fa_sum += fa;
                a.fa_n += 1;
            }
            if !ta.is_nan() {
                a.ta_sum += ta;
                a.ta_n += 1;
            }
            if !fa.is_nan() && !ta.is_nan() {
                a.an_w += wi;
                a.an_a += wi * fa;
                a.an_b += wi * ta;
            }
        }
    }
    let bias_correction = a.d_sum / a.d_n as f64;
    let (mf, mr) = (a.fr_f / a.fr_w, a.fr_r / a.fr_w);
    let (fa_mean, ta_mean) = (a.fa_sum / a.fa_n as f64, a.ta_sum / a.ta_n as f64);
    let (wa, wb) = (a.an_a / a.an_w, a.an_b / a.an_w);

    let mut b = PassB::default();
    for (i, &wi) in w.as_slice().iter().enumerate().take(fr.len()) {
        for (((&x, &y), &z), &k) in fr[i].iter().zip(tr[i]).zip(rr[i]).zip(cr[i]) {
            if !x.is_nan() && !z.is_nan() {
                let (p, q) = (x - mf, z - mr);
                b.fr_num += wi * p * q;
                b.fr_aa += wi * p * p;
                b.fr_bb += wi * q * q;
            }
            if !x.is_nan() && !y.is_nan() {
                let e = (x - bias_correction) - y;
                b.skill_e2 += wi * (e * e);
            }
            let (fa, ta) = (x - k, y - k);
            if !fa.is_nan() {
                b.fa_ss += (fa - fa_mean) * (fa - fa_mean);
            }
            if !ta.is_nan() {
                b.ta_ss += (ta - ta_mean) * (ta - ta_mean);
            }
            if !fa.is_nan() && !ta.is_nan() {
                let (p, q) = (fa - wa, ta - wb);
                b.an_num += wi * p * q;
                b.an_aa += wi * p * p;
                b.an_bb += wi * q * q;
            }
        }
    }
    let forecast_mse = b.skill_e2 / a.ft_w;
    let reference_mse = a.rt_d2 / a.rt_w;
    let sf = (b.fa_ss / a.fa_n as f64).sqrt();
    let st = (b.ta_ss / a.ta_n as f64).sqrt();
    let acc = if sf < ACC_MIN_STD || st < ACC_MIN_STD {
        f64::NAN
    } else {
        (b.an_num / (b.an_aa * b.an_bb).sqrt()).clamp(-1.0, 1.0)
    };
    Ok(Day1Stats {
        clone_distance: a.fr_d2 / a.fr_w,
        pattern_correlation: (b.fr_num / (b.fr_aa * b.fr_bb).sqrt()).clamp(-1.0, 1.0),
        forecast_min_max: a.any_f.then_some((a.min, a.max)),
        bias_correction,
        forecast_mse,
        reference_mse,
        skill: skill_from_mse(forecast_mse, reference_mse),
        acc,
        mse: a.ft_d2 / a.ft_w,
        mae: a.ft_ad / a.ft_w,
        bias: a.ft_d / a.ft_w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{
        anomaly_correlation, bias_corrected_skill, clone_distance, nan_min_max, weighted_bias,
        weighted_mae, weighted_mse, weighted_pearson,
    };
    use ndarray::Array2;

    /// Deterministic pseudo-random field with some NaNs.
    fn field(seed: u64, nan_every: usize) -> Array2<f64> {
        let mut s = seed;
        Array2::from_shape_fn((13, 17), |(i, j)| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if nan_every > 0 && (i * 17 + j) % nan_every == 0 {
                f64::NAN
            } else {
                (s >> 11) as f64 / (1u64 << 53) as f64 * 10.0 + i as f64
            }
        })
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    #[test]
    fn kernel_equals_primitives() {
        let (f, t, r, c) = (field(1, 7), field(2, 11), field(3, 0), field(4, 13));
        let lat: Vec<f64> = (0..13).map(|i| 60.0 - 10.0 * i as f64).collect();
        let w = LatWeights::cos_lat(&lat);
        let (fv, tv, rv, cv) = (f.view(), t.view(), r.view(), c.view());
        let s = day1_stats(&fv, &tv, &rv, &cv, &w).unwrap();
        close(s.clone_distance, clone_distance(&fv, &rv, &w).unwrap());
        close(
            s.pattern_correlation,
            weighted_pearson(&fv, &rv, &w).unwrap(),
        );
        assert_eq!(s.forecast_min_max, nan_min_max(&fv));
        let sk = bias_corrected_skill(&fv, &tv, &rv, &w).unwrap();
        close(s.bias_correction, sk.bias_correction);
        close(s.forecast_mse, sk.forecast_mse);
        close(s.reference_mse, sk.reference_mse);
        close(s.skill, sk.skill);
        close(s.acc, anomaly_correlation(&fv, &tv, &cv, &w).unwrap());
        close(s.mse, weighted_mse(&fv, &tv, &w).unwrap());
        close(s.mae, weighted_mae(&fv, &tv, &w).unwrap());
        close(s.bias, weighted_bias(&fv, &tv, &w).unwrap());
    }

    #[test]
    fn kernel_rejects_mismatched_inputs() {
        let a = field(1, 0);
        let b = Array2::<f64>::zeros((2, 2));
        let w = LatWeights::uniform(13);
        assert!(day1_stats(&a.view(), &b.view(), &a.view(), &a.view(), &w).is_err());
        assert!(day1_stats(
            &a.view(),
            &a.view(),
            &a.view(),
            &a.view(),
            &LatWeights::uniform(2)
        )
        .is_err());
        let nan = Array2::from_elem((13, 17), f64::NAN);
        let s = day1_stats(&nan.view(), &a.view(), &a.view(), &a.view(), &w).unwrap();
        assert_eq!(s.forecast_min_max, None);
        assert!(s.skill.is_nan() && s.acc.is_nan());
    }
}
