//! Weighted and unweighted spatial statistics over 2-D (lat × lon) fields, with the NaN
//! semantics of xskillscore 0.0.29 (`skipna=True`).
//!
//! xskillscore first "matches NaNs": a point missing (NaN) in either input is dropped from both
//! inputs *and* from the weights, so every weighted mean is `Σ w·x / Σ w` over the points where
//! both inputs are present. Only NaN counts as missing (as with `np.isnan`); an infinity stays in
//! and makes the result non-finite, which callers treat as a failed metric. All sums are
//! accumulated in f64.

use ndarray::ArrayView2;

use super::weights::LatWeights;
use crate::simd::avx2_dispatch;

/// A metric was asked to combine arrays that do not line up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// Two fields have different shapes.
    #[error("field shapes differ: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// Shape of the first field.
        left: (usize, usize),
        /// Shape of the second field.
        right: (usize, usize),
    },
    /// The weights do not have one entry per latitude row.
    #[error("{weights} latitude weights for a field with {rows} rows")]
    WeightRows {
        /// Number of weights.
        weights: usize,
        /// Number of rows of the field.
        rows: usize,
    },
}

fn check(a: &ArrayView2<f64>, b: &ArrayView2<f64>, w: &LatWeights) -> Result<(), MetricError> {
    if a.dim() != b.dim() {
        return Err(MetricError::ShapeMismatch {
            left: a.dim(),
            right: b.dim(),
        });
    }
    if w.len() != a.nrows() {
        return Err(MetricError::WeightRows {
            weights: w.len(),
            rows: a.nrows(),
        });
    }
    Ok(())
}

/// Visit every point where neither `a` nor `b` is NaN, with its row weight.
fn for_pairs(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
    mut f: impl FnMut(f64, f64, f64),
) -> Result<(), MetricError> {
    check(a, b, w)?;
    for ((ra, rb), &wi) in a.outer_iter().zip(b.outer_iter()).zip(w.as_slice()) {
        for (&x, &y) in ra.iter().zip(rb.iter()) {
            if !x.is_nan() && !y.is_nan() {
                f(wi, x, y);
            }
        }
    }
    Ok(())
}

/// `Σ w·g(a, b) / Σ w` over the NaN-matched points (NaN when no point is left).
pub fn weighted_mean_of(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
    g: impl Fn(f64, f64) -> f64,
) -> Result<f64, MetricError> {
    let (mut num, mut den) = (0.0, 0.0);
    for_pairs(a, b, w, |wi, x, y| {
        num += wi * g(x, y);
        den += wi;
    })?;
    Ok(num / den)
}

/// Weighted mean squared error `⟨(a−b)²⟩_w` (xskillscore `mse`).
pub fn weighted_mse(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    weighted_mean_of(a, b, w, |x, y| (x - y) * (x - y))
}

/// Weighted mean absolute error `⟨|a−b|⟩_w` (xskillscore `mae`).
pub fn weighted_mae(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    weighted_mean_of(a, b, w, |x, y| (x - y).abs())
}

/// Weighted mean error (bias) `⟨a−b⟩_w`.
pub fn weighted_bias(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    weighted_mean_of(a, b, w, |x, y| x - y)
}

/// Weighted, centred Pearson correlation (xskillscore `pearson_r` over lat × lon): weighted means
/// removed, `Σ w·a'·b' / sqrt(Σ w·a'² · Σ w·b'²)`, clipped to [−1, 1]; NaN when undefined.
pub fn weighted_pearson(
    a: &ArrayView2<f64>,
    b: &ArrayView2<f64>,
    w: &LatWeights,
) -> Result<f64, MetricError> {
    let (mut sa, mut sb, mut sw) = (0.0, 0.0, 0.0);
    for_pairs(a, b, w, |wi, x, y| {
        sa += wi * x;
        sb += wi * y;
        sw += wi;
    })?;
    let (ma, mb) = (sa / sw, sb / sw);
    let (mut num, mut daa, mut dbb) = (0.0, 0.0, 0.0);
    for_pairs(a, b, w, |wi, x, y| {
        let (xa, yb) = (x - ma, y - mb);
        num += wi * xa * yb;
        daa += wi * xa * xa;
        dbb += wi * yb * yb;
    })?;
    Ok((num / (daa * dbb).sqrt()).clamp(-1.0, 1.0))
}

/// Unweighted mean of `a − b` over the points where both are present (`(a - b).mean()` in
/// xarray with `skipna`); NaN when no point is left.
pub fn mean_difference(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Result<f64, MetricError> {
    if a.dim() != b.dim() {
        return Err(MetricError::ShapeMismatch {
            left: a.dim(),
            right: b.dim(),
        });
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let d = x - y;
        if !d.is_nan() {
            sum += d;
            n += 1;
        }
    }
    Ok(sum / n as f64)
}

/// Unweighted mean and population standard deviation (ddof 0) of the non-NaN values.
pub fn nan_mean_std(a: &ArrayView2<f64>) -> (f64, f64) {
    let (mut sum, mut n) = (0.0, 0usize);
    for &x in a.iter().filter(|x| !x.is_nan()) {
        sum += x;
        n += 1;
    }
    let mean = sum / n as f64;
    let ss: f64 = a
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| (x - mean) * (x - mean))
        .sum();
    (mean, (ss / n as f64).sqrt())
}

/// Unweighted mean of the non-NaN values (`np.nanmean`).
pub fn nan_mean(a: &ArrayView2<f64>) -> f64 {
    let (sum, n) = nan_sum_count_2d(a);
    sum / n as f64
}

/// [`nan_sum_count`] of a field in any memory layout.
pub fn nan_sum_count_2d(a: &ArrayView2<f64>) -> (f64, usize) {
    match a.as_slice() {
        Some(flat) => nan_sum_count(flat),
        None => nan_sum_count(&a.iter().copied().collect::<Vec<_>>()),
    }
}

avx2_dispatch! {
/// The sum and the number of the non-NaN values, on four independent accumulators (so the
/// loop vectorises; the order of the additions is not numpy's pairwise one either).
pub fn nan_sum_count(values: &[f64]) -> (f64, usize) as nan_sum_count_baseline {
    const LANES: usize = 4;
    let whole = values.len() - values.len() % LANES;
    let (mut sum, mut n) = ([0.0; LANES], [0usize; LANES]);
    for xs in values[..whole].chunks_exact(LANES) {
        for l in 0..LANES {
            let keep = !xs[l].is_nan();
            sum[l] += if keep { xs[l] } else { 0.0 };
            n[l] += usize::from(keep);
        }
    }
    for &x in values[whole..].iter().filter(|x| !x.is_nan()) {
        sum[0] += x;
        n[0] += 1;
    }
    ((sum[0] + sum[1]) + (sum[2] + sum[3]), n.iter().sum())
}
}

/// Minimum and maximum of the non-NaN values (`np.nanmin`, `np.nanmax`); `None` if all NaN.
pub fn nan_min_max(a: &ArrayView2<f64>) -> Option<(f64, f64)> {
    a.iter()
        .filter(|x| !x.is_nan())
        .fold(None, |acc, &x| match acc {
            None => Some((x, x)),
            Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::test_rows::{finite, holed, LENGTHS};
    use ndarray::array;

    /// The AVX2 copy of the NaN-skipping sum equals its baseline copy, bit for bit.
    #[test]
    fn dispatched_nan_sum_count_equals_its_baseline_copy() {
        for n in LENGTHS {
            for v in [finite(7, n, 1e3), holed(finite(7, n, 1e3), 0)] {
                let (got, want) = (nan_sum_count(&v), nan_sum_count_baseline(&v));
                assert_eq!((got.0.to_bits(), got.1), (want.0.to_bits(), want.1));
            }
        }
    }

    #[test]
    fn weighted_means_skip_pairwise_nans() {
        let a = array![[1.0, f64::NAN], [3.0, 5.0]];
        let b = array![[0.0, 1.0], [1.0, f64::NAN]];
        let w = LatWeights::uniform(2);
        // only (0,0) and (1,0) remain: errors 1 and 2
        assert_eq!(weighted_mse(&a.view(), &b.view(), &w).unwrap(), 2.5);
        assert_eq!(weighted_mae(&a.view(), &b.view(), &w).unwrap(), 1.5);
        assert_eq!(weighted_bias(&a.view(), &b.view(), &w).unwrap(), 1.5);
        assert_eq!(mean_difference(&a.view(), &b.view()).unwrap(), 1.5);
    }

    #[test]
    fn weights_scale_rows() {
        let a = array![[1.0], [3.0]];
        let b = array![[0.0], [0.0]];
        let w = LatWeights::cos_lat(&[60.0, 0.0]);
        let expected = (0.5 * 1.0 + 1.0 * 9.0) / 1.5;
        assert!((weighted_mse(&a.view(), &b.view(), &w).unwrap() - expected).abs() < 1e-14);
    }

    #[test]
    fn pearson_is_centred_and_clipped() {
        let a = array![[1.0, 2.0], [3.0, 4.0]];
        let b = a.mapv(|x| 10.0 + 2.0 * x);
        let w = LatWeights::cos_lat(&[30.0, 0.0]);
        let r = weighted_pearson(&a.view(), &b.view(), &w).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        let neg = a.mapv(|x| -x);
        assert!((weighted_pearson(&a.view(), &neg.view(), &w).unwrap() + 1.0).abs() < 1e-12);
        let flat = array![[1.0, 1.0], [1.0, 1.0]];
        assert!(weighted_pearson(&a.view(), &flat.view(), &w)
            .unwrap()
            .is_nan());
    }

    #[test]
    fn shape_and_weight_errors_are_named() {
        let a = array![[1.0, 2.0]];
        let b = array![[1.0], [2.0]];
        let w = LatWeights::uniform(1);
        assert!(matches!(
            weighted_mse(&a.view(), &b.view(), &w),
            Err(MetricError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            weighted_mse(&a.view(), &a.view(), &LatWeights::uniform(3)),
            Err(MetricError::WeightRows {
                weights: 3,
                rows: 1
            })
        ));
        assert!(mean_difference(&a.view(), &b.view()).is_err());
    }

    #[test]
    fn unweighted_helpers() {
        let a = array![[1.0, f64::NAN], [3.0, 5.0]];
        assert_eq!(nan_mean(&a.view()), 3.0);
        let (m, s) = nan_mean_std(&a.view());
        assert_eq!(m, 3.0);
        assert!((s - (8.0f64 / 3.0).sqrt()).abs() < 1e-14);
        assert_eq!(nan_min_max(&a.view()), Some((1.0, 5.0)));
        assert_eq!(nan_min_max(&array![[f64::NAN]].view()), None);
        assert!(nan_mean(&array![[f64::NAN]].view()).is_nan());
        // Lanes and tail, NaNs anywhere, a non-contiguous view.
        let v: Vec<f64> = (0..11)
            .map(|k| if k % 4 == 1 { f64::NAN } else { k as f64 })
            .collect();
        assert_eq!(nan_sum_count(&v), (40.0, 8));
        let b = ndarray::Array2::from_shape_vec((1, 11), v).unwrap();
        assert_eq!(nan_mean(&b.t()), 5.0);
    }
}
