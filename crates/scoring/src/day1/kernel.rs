//! The Day-1 statistics of one variable in one pass over memory.
//!
//! The per-metric primitives in `crate::metrics` each walk the field once or twice; on the
//! 0.25° grid the Day-1 score needs about fifteen such walks per variable. This kernel walks the
//! field once, a latitude row at a time: the forecast F, the GFS reference R and the
//! climatology C come row by row from their producers (interpolated onto the truth grid as they
//! are asked for, so no interpolated field is ever held), the truth T is read in place. Each row
//! gives its counts, sums and centred second moments — the ERA5 kernel's
//! ([`crate::metrics::moments`]: F, T and C) and the pairs only Day-1 has (F with R for the clone
//! distance and the pattern correlation, R with T for the reference MSE) — and the rows combine
//! exactly into the weighted, centred statistics with each metric's own NaN matching. The tests
//! check it against the primitives.

use ndarray::ArrayView2;

use super::row_fr::{row_fr, row_fr_finite, RowFr};
use crate::metrics::moments::{combine, row_moments, row_moments_checked, Row};
use crate::metrics::{skill_from_mse, LatWeights, MetricError};

/// A producer of one field's rows on the truth grid: `(i, out)` writes row `i` into `out`.
pub type RowFn<'a> = dyn FnMut(usize, &mut [f64]) + 'a;

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

/// The clone distance, pattern correlation, reference MSE and F's range from the rows.
struct FrStats {
    clone_distance: f64,
    pattern_correlation: f64,
    reference_mse: f64,
    forecast_min_max: Option<(f64, f64)>,
}

fn combine_fr(rows: &[RowFr], w: &LatWeights) -> FrStats {
    let ws = w.as_slice();
    let (mut w_fr, mut w_f, mut w_r, mut w_fr2, mut w_rt, mut w_rt2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (r, &wi) in rows.iter().zip(ws) {
        w_fr += wi * r.n_fr as f64;
        w_f += wi * r.s_f;
        w_r += wi * r.s_r;
        w_fr2 += wi * r.s_fr2;
        w_rt += wi * r.n_rt as f64;
        w_rt2 += wi * r.s_rt2;
        min = min.min(r.min);
        max = max.max(r.max);
    }
    let (mf, mr) = (w_f / w_fr, w_r / w_fr);
    let (mut num, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (r, &wi) in rows.iter().zip(ws).filter(|(r, _)| r.n_fr > 0) {
        let n = r.n_fr as f64;
        let (p, q) = (r.s_f / n - mf, r.s_r / n - mr);
        num += wi * (r.c_fr + n * p * q);
        aa += wi * (r.c_ff + n * p * p);
        bb += wi * (r.c_rr + n * q * q);
    }
    FrStats {
        clone_distance: w_fr2 / w_fr,
        pattern_correlation: (num / (aa * bb).sqrt()).clamp(-1.0, 1.0),
        reference_mse: w_rt2 / w_rt,
        // A row with no non-NaN forecast value keeps ±inf as its range, which min/max ignore.
        forecast_min_max: (min <= max).then_some((min, max)),
    }
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
    let rows_of =
        |a: &ArrayView2<f64>| -> Vec<Vec<f64>> { a.outer_iter().map(|row| row.to_vec()).collect() };
    let (fr, rr, cr) = (rows_of(f), rows_of(r), rows_of(c));
    day1_stats_rows(
        f.dim(),
        &mut |i, out| out.copy_from_slice(&fr[i]),
        t,
        &mut |i, out| out.copy_from_slice(&rr[i]),
        &mut |i, out| out.copy_from_slice(&cr[i]),
        w,
    )
}

/// [`day1_stats`] with the forecast, the reference and the climatology given row by row on the
/// truth grid: `shape` is the truth's; each producer is asked for rows `0..shape.0` in order.
pub fn day1_stats_rows(
    shape: (usize, usize),
    forecast: &mut RowFn<'_>,
    truth: &ArrayView2<f64>,
    reference: &mut RowFn<'_>,
    climatology: &mut RowFn<'_>,
    w: &LatWeights,
) -> Result<Day1Stats, MetricError> {
    if truth.dim() != shape {
        return Err(MetricError::ShapeMismatch {
            left: shape,
            right: truth.dim(),
        });
    }
    if w.len() != shape.0 {
        return Err(MetricError::WeightRows {
            weights: w.len(),
            rows: shape.0,
        });
    }
    let nc = shape.1;
    let t = truth.as_standard_layout();
    let t_flat = t.as_slice().unwrap_or(&[]);
    let (mut x, mut z, mut k) = (vec![0.0; nc], vec![0.0; nc], vec![0.0; nc]);
    let mut moments: Vec<Row> = Vec::with_capacity(shape.0);
    let mut pairs: Vec<RowFr> = Vec::with_capacity(shape.0);
    for i in 0..shape.0 {
        forecast(i, &mut x);
        reference(i, &mut z);
        climatology(i, &mut k);
        let y = &t_flat[i * nc..(i + 1) * nc];
        // The usual row: every value finite, checked as the first passes go.
        let finite = row_moments_checked(&x, y, &k)
            .and_then(|f| Some((f.moments, row_fr_finite(&x, y, &z)?)));
        let (m, fr) = finite.unwrap_or_else(|| (row_moments(&x, y, &k), row_fr(&x, y, &z)));
        moments.push(m);
        pairs.push(fr);
    }
    let m = combine(&moments, w);
    let fr = combine_fr(&pairs, w);
    Ok(Day1Stats {
        clone_distance: fr.clone_distance,
        pattern_correlation: fr.pattern_correlation,
        forecast_min_max: fr.forecast_min_max,
        bias_correction: m.bias_correction,
        forecast_mse: m.forecast_mse,
        reference_mse: fr.reference_mse,
        skill: skill_from_mse(m.forecast_mse, fr.reference_mse),
        acc: m.acc,
        mse: m.mse,
        mae: m.mae,
        bias: m.bias,
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
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0) || a.to_bits() == b.to_bits(),
            "{a} vs {b}"
        );
    }

    #[test]
    fn kernel_equals_primitives() {
        let (f, t, r, c) = (field(1, 7), field(2, 11), field(3, 0), field(4, 13));
        same_as_primitives(&f, &t, &r, &c);
    }

    /// Rows without any NaN take the vectorised path; rows with an infinity the masked one.
    #[test]
    fn kernel_equals_primitives_on_finite_rows_and_with_infinities() {
        let (f, t, r, c) = (field(5, 0), field(6, 0), field(7, 0), field(8, 0));
        same_as_primitives(&f, &t, &r, &c);
        let (mut f, mut r) = (field(9, 0), field(10, 29));
        f[(3, 4)] = f64::INFINITY;
        r[(5, 1)] = f64::NEG_INFINITY;
        let s = same_as_primitives(&f, &field(11, 0), &r, &field(12, 0));
        assert_eq!(s.forecast_min_max.map(|m| m.1), Some(f64::INFINITY));
    }

    fn same_as_primitives(
        f: &Array2<f64>,
        t: &Array2<f64>,
        r: &Array2<f64>,
        c: &Array2<f64>,
    ) -> Day1Stats {
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
        s
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
