//! Per-row moments of a forecast F, a truth T and a climatology C, and their weighted
//! combination into the field's statistics — what the fused ERA5 and Day-1 kernels share.
//!
//! Why per-row centred moments: the cos-latitude weight is constant along a row, so the
//! weighted, centred global statistics (the centred weighted correlation of the ACC, the ACC
//! standard-deviation guard, the bias-corrected MSE) follow exactly from each row's counts,
//! sums and sums of squares centred on the row's own means by the parallel-variance
//! combination `Σ_i w_i [M2_i + n_i (m_i − m)²]`. This is as accurate as two global passes (more
//! so than a naive one-pass `Σx² − (Σx)²/n`) and reads each field from memory once: a kernel
//! walks the field a row at a time and makes the row's two passes over a buffer in L1 cache.
//!
//! Here: the masked two-pass row ([`row_moments`]) for rows with a NaN or infinity, the unmasked
//! [`LANES`]-lane row for finite ones ([`row_moments_checked`], which also finds that a row is
//! not finite), and [`combine`].

/// The whole [`LANES`]-chunks of three rows side by side (shared with Day-1's row passes).
pub(crate) use super::moment_passes::lane_chunks;
use super::moment_passes::{first_pass_portable, second_pass_portable, FirstPass, SecondPass};
use super::{LatWeights, ACC_MIN_STD};
use crate::simd::avx2_dispatch;

/// Per-row counts, sums and centred second moments (weights applied when rows are combined).
#[derive(Default, Clone, Copy)]
pub(crate) struct Row {
    // forecast/truth pairs: d = F − T
    pub(crate) n_ft: usize,
    pub(crate) s_d: f64,
    pub(crate) s_d2: f64,
    pub(crate) s_ad: f64,
    pub(crate) m2_d: f64,
    // unweighted mean of F − T (bias correction)
    pub(crate) n_diff: usize,
    pub(crate) s_diff: f64,
    // climatology/truth pairs
    pub(crate) n_ct: usize,
    pub(crate) s_ct2: f64,
    // anomalies fa = F − C, ta = T − C, each on its own points
    pub(crate) n_fa: usize,
    pub(crate) s_fa: f64,
    pub(crate) m2_fa: f64,
    pub(crate) n_ta: usize,
    pub(crate) s_ta: f64,
    pub(crate) m2_ta: f64,
    // anomaly pairs
    pub(crate) n_ab: usize,
    pub(crate) s_a: f64,
    pub(crate) s_b: f64,
    pub(crate) c_aa: f64,
    pub(crate) c_bb: f64,
    pub(crate) c_ab: f64,
}

#[inline]
fn mean(sum: f64, n: usize) -> f64 {
    sum / n as f64
}

avx2_dispatch! {
/// Two passes over one cached row: `x` the salvaged and filled forecast, `y` truth, `k`
/// climatology.
pub(crate) fn row_moments(x: &[f64], y: &[f64], k: &[f64]) -> Row as row_moments_baseline {
    let mut r = Row::default();
    for ((&x, &y), &k) in x.iter().zip(y).zip(k) {
        let d = x - y;
        let ft = !x.is_nan() && !y.is_nan();
        if ft {
            r.n_ft += 1;
            r.s_d += d;
            r.s_d2 += d * d;
            r.s_ad += d.abs();
        }
        if !d.is_nan() {
            r.n_diff += 1;
            r.s_diff += d;
        }
        if !k.is_nan() && !y.is_nan() {
            let e = k - y;
            r.n_ct += 1;
            r.s_ct2 += e * e;
        }
        let (fa, ta) = (x - k, y - k);
        if !fa.is_nan() {
            r.n_fa += 1;
            r.s_fa += fa;
        }
        if !ta.is_nan() {
            r.n_ta += 1;
            r.s_ta += ta;
        }
        if !fa.is_nan() && !ta.is_nan() {
            r.n_ab += 1;
            r.s_a += fa;
            r.s_b += ta;
        }
    }
    let m_d = mean(r.s_d, r.n_ft);
    let (m_fa, m_ta) = (mean(r.s_fa, r.n_fa), mean(r.s_ta, r.n_ta));
    let (m_a, m_b) = (mean(r.s_a, r.n_ab), mean(r.s_b, r.n_ab));
    for ((&x, &y), &k) in x.iter().zip(y).zip(k) {
        if !x.is_nan() && !y.is_nan() {
            let e = (x - y) - m_d;
            r.m2_d += e * e;
        }
        let (fa, ta) = (x - k, y - k);
        if !fa.is_nan() {
            r.m2_fa += (fa - m_fa) * (fa - m_fa);
        }
        if !ta.is_nan() {
            r.m2_ta += (ta - m_ta) * (ta - m_ta);
        }
        if !fa.is_nan() && !ta.is_nan() {
            let (a, b) = (fa - m_a, ta - m_b);
            r.c_aa += a * a;
            r.c_bb += b * b;
            r.c_ab += a * b;
        }
    }
    r
}
}

/// Lanes of the vectorised row passes.
pub(crate) const LANES: usize = 4;

/// Sum of the lanes.
#[inline]
pub(crate) fn hsum(a: [f64; LANES]) -> f64 {
    (a[0] + a[1]) + (a[2] + a[3])
}

/// A finite row's moments and its largest `|x|`.
#[derive(Clone, Copy)]
pub(crate) struct FiniteRow {
    /// The row's moments, equal to [`row_moments`]'s.
    pub(crate) moments: Row,
    /// The largest `|x|` of the row.
    pub(crate) max_abs_x: f64,
}

/// [`row_moments`] for a row where every value is finite (the usual case), `None` when some
/// forecast, truth or climatology value is NaN or infinite: the finiteness check rides on the
/// first pass, and the sums need no masks and run on [`LANES`] independent accumulators —
/// with explicit AVX2 vectors when the CPU has them ([`super::moments_avx2`], same bits).
pub(crate) fn row_moments_checked(x: &[f64], y: &[f64], k: &[f64]) -> Option<FiniteRow> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        use super::moments_avx2::{first_pass, second_pass};
        // SAFETY: both passes only need AVX2, which the check above found on this CPU.
        return finite_row_with(
            (x, y, k),
            |x, y, k| unsafe { first_pass(x, y, k) },
            |x, y, k, m| unsafe { second_pass(x, y, k, m) },
        );
    }
    row_moments_checked_baseline(x, y, k)
}

/// [`row_moments_checked`] with the portable passes (what the AVX2 copy is tested against).
pub(crate) fn row_moments_checked_baseline(x: &[f64], y: &[f64], k: &[f64]) -> Option<FiniteRow> {
    finite_row_with((x, y, k), first_pass_portable, second_pass_portable)
}

/// A row's moments: [`row_moments_checked`] when it is finite, else the masked [`row_moments`].
pub(crate) fn row_moments_any(x: &[f64], y: &[f64], k: &[f64]) -> Row {
    row_moments_checked(x, y, k).map_or_else(|| row_moments(x, y, k), |f| f.moments)
}

/// A finite row's moments with the given lane passes for its whole [`LANES`]-chunks; the
/// ragged tail goes into lane 0.
#[inline(always)]
fn finite_row_with(
    (x, y, k): (&[f64], &[f64], &[f64]),
    first: impl FnOnce(&[f64], &[f64], &[f64]) -> FirstPass,
    second: impl FnOnce(&[f64], &[f64], &[f64], [f64; 3]) -> SecondPass,
) -> Option<FiniteRow> {
    let n = x.len().min(y.len()).min(k.len());
    let whole = n - n % LANES;
    let (xw, yw, kw) = (&x[..whole], &y[..whole], &k[..whole]);
    let (xr, yr, kr) = (&x[whole..n], &y[whole..n], &k[whole..n]);
    let [s_d, mut s_d2, mut s_ad, mut s_ct2, s_fa, s_ta, nan, max] = first(xw, yw, kw);
    let (mut s_d, mut s_fa, mut s_ta, mut nan, mut max) = (s_d, s_fa, s_ta, nan, max);
    for ((&x, &y), &k) in xr.iter().zip(yr).zip(kr) {
        nan[0] += x * 0.0 + y * 0.0 + k * 0.0;
        max[0] = if x.abs() > max[0] { x.abs() } else { max[0] };
        let d = x - y;
        s_d[0] += d;
        s_d2[0] += d * d;
        s_ad[0] += d.abs();
        s_ct2[0] += (k - y) * (k - y);
        s_fa[0] += x - k;
        s_ta[0] += y - k;
    }
    if hsum(nan) != 0.0 {
        return None;
    }
    let max_abs_x = max.into_iter().fold(0.0, f64::max);
    let (s_d, s_fa, s_ta) = (hsum(s_d), hsum(s_fa), hsum(s_ta));
    let (m_d, m_fa, m_ta) = (mean(s_d, n), mean(s_fa, n), mean(s_ta, n));
    let [mut m2_d, mut m2_fa, mut m2_ta, mut c_ab] = second(xw, yw, kw, [m_d, m_fa, m_ta]);
    for ((&x, &y), &k) in xr.iter().zip(yr).zip(kr) {
        let e = (x - y) - m_d;
        m2_d[0] += e * e;
        let (a, b) = ((x - k) - m_fa, (y - k) - m_ta);
        m2_fa[0] += a * a;
        m2_ta[0] += b * b;
        c_ab[0] += a * b;
    }
    let (m2_fa, m2_ta) = (hsum(m2_fa), hsum(m2_ta));
    let moments = Row {
        n_ft: n,
        s_d,
        s_d2: hsum(s_d2),
        s_ad: hsum(s_ad),
        m2_d: hsum(m2_d),
        n_diff: n,
        s_diff: s_d,
        n_ct: n,
        s_ct2: hsum(s_ct2),
        n_fa: n,
        s_fa,
        m2_fa,
        n_ta: n,
        s_ta,
        m2_ta,
        n_ab: n,
        s_a: s_fa,
        s_b: s_ta,
        c_aa: m2_fa,
        c_bb: m2_ta,
        c_ab: hsum(c_ab),
    };
    Some(FiniteRow { moments, max_abs_x })
}

/// The statistics of a whole field combined from its rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Combined {
    /// ⟨(F−T)²⟩_w over the points where F and T are not NaN.
    pub(crate) mse: f64,
    /// ⟨|F−T|⟩_w.
    pub(crate) mae: f64,
    /// ⟨F−T⟩_w.
    pub(crate) bias: f64,
    /// Unweighted mean of F − T where it is not NaN.
    pub(crate) bias_correction: f64,
    /// ⟨(F − bias_correction − T)²⟩_w.
    pub(crate) forecast_mse: f64,
    /// ⟨(C−T)²⟩_w over the points where C and T are not NaN.
    pub(crate) climatology_mse: f64,
    /// Centred weighted correlation of F − C and T − C (NaN when an anomaly's unweighted
    /// standard deviation is below [`ACC_MIN_STD`]).
    pub(crate) acc: f64,
    /// Σ (F − T) where it is not NaN, and the number of those points.
    pub(crate) diff_sum: f64,
    /// The number of points in `diff_sum`.
    pub(crate) diff_count: usize,
}

/// Combine the per-row moments with the row weights.
pub(crate) fn combine(rows: &[Row], w: &LatWeights) -> Combined {
    let ws = w.as_slice();
    let mut g = Row::default();
    let (mut w_ft, mut w_d, mut w_d2, mut w_ad) = (0.0, 0.0, 0.0, 0.0);
    let (mut w_ct, mut w_ct2) = (0.0, 0.0);
    let (mut w_ab, mut w_a, mut w_b) = (0.0, 0.0, 0.0);
    for (r, &wi) in rows.iter().zip(ws) {
        w_ft += wi * r.n_ft as f64;
        w_d += wi * r.s_d;
        w_d2 += wi * r.s_d2;
        w_ad += wi * r.s_ad;
        w_ct += wi * r.n_ct as f64;
        w_ct2 += wi * r.s_ct2;
        w_ab += wi * r.n_ab as f64;
        w_a += wi * r.s_a;
        w_b += wi * r.s_b;
        g.n_diff += r.n_diff;
        g.s_diff += r.s_diff;
        g.n_fa += r.n_fa;
        g.s_fa += r.s_fa;
        g.n_ta += r.n_ta;
        g.s_ta += r.s_ta;
    }
    let bias_correction = mean(g.s_diff, g.n_diff);
    let (fa_mean, ta_mean) = (mean(g.s_fa, g.n_fa), mean(g.s_ta, g.n_ta));
    let (wa, wb) = (w_a / w_ab, w_b / w_ab);
    let (mut skill_e2, mut fa_ss, mut ta_ss) = (0.0, 0.0, 0.0);
    let (mut num, mut daa, mut dbb) = (0.0, 0.0, 0.0);
    for (r, &wi) in rows.iter().zip(ws) {
        if r.n_ft > 0 {
            let n = r.n_ft as f64;
            let e = r.s_d / n - bias_correction;
            skill_e2 += wi * (r.m2_d + n * e * e);
        }
        if r.n_fa > 0 {
            let n = r.n_fa as f64;
            let e = r.s_fa / n - fa_mean;
            fa_ss += r.m2_fa + n * e * e;
        }
        if r.n_ta > 0 {
            let n = r.n_ta as f64;
            let e = r.s_ta / n - ta_mean;
            ta_ss += r.m2_ta + n * e * e;
        }
        if r.n_ab > 0 {
            let n = r.n_ab as f64;
            let (a, b) = (r.s_a / n - wa, r.s_b / n - wb);
            num += wi * (r.c_ab + n * a * b);
            daa += wi * (r.c_aa + n * a * a);
            dbb += wi * (r.c_bb + n * b * b);
        }
    }
    let sf = (fa_ss / g.n_fa as f64).sqrt();
    let st = (ta_ss / g.n_ta as f64).sqrt();
    Combined {
        mse: w_d2 / w_ft,
        mae: w_ad / w_ft,
        bias: w_d / w_ft,
        bias_correction,
        forecast_mse: skill_e2 / w_ft,
        climatology_mse: w_ct2 / w_ct,
        acc: if sf < ACC_MIN_STD || st < ACC_MIN_STD {
            f64::NAN
        } else {
            (num / (daa * dbb).sqrt()).clamp(-1.0, 1.0)
        },
        diff_sum: g.s_diff,
        diff_count: g.n_diff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::test_rows::{finite, holed, LENGTHS};

    /// Every number of a row, as bits.
    fn bits(r: &Row) -> Vec<u64> {
        let counts = [r.n_ft, r.n_diff, r.n_ct, r.n_fa, r.n_ta, r.n_ab];
        let sums = [
            r.s_d, r.s_d2, r.s_ad, r.m2_d, r.s_diff, r.s_ct2, r.s_fa, r.m2_fa, r.s_ta, r.m2_ta,
            r.s_a, r.s_b, r.c_aa, r.c_bb, r.c_ab,
        ];
        let counts = counts.iter().map(|&n| n as u64);
        counts.chain(sums.iter().map(|x| x.to_bits())).collect()
    }

    /// The AVX2 copy (on a CPU that has it) and the baseline copy of each row kernel give the
    /// same bits, on all-finite rows of several lengths and on rows with NaN and infinities
    /// (which the checked finite row refuses).
    #[test]
    fn dispatched_row_kernels_equal_their_baseline_copies() {
        for n in LENGTHS {
            let (x, y, k) = (finite(1, n, 40.0), finite(2, n, 30.0), finite(3, n, 20.0));
            let (got, want) = (
                row_moments_checked(&x, &y, &k).expect("finite"),
                row_moments_checked_baseline(&x, &y, &k).expect("finite"),
            );
            assert_eq!(bits(&got.moments), bits(&want.moments), "finite row of {n}");
            assert_eq!(got.max_abs_x.to_bits(), want.max_abs_x.to_bits());
            let (x, y) = (holed(x, 0), holed(y, 2));
            assert!(row_moments_checked(&x, &y, &k).is_none() || n == 0);
            assert!(row_moments_checked_baseline(&x, &y, &k).is_none() || n == 0);
            assert_eq!(
                bits(&row_moments(&x, &y, &k)),
                bits(&row_moments_baseline(&x, &y, &k)),
                "masked row of {n}"
            );
        }
    }

    /// The checked finite row sees a non-finite value in any of the three rows and at any
    /// position (lanes and tail), and gives the largest |forecast| otherwise.
    #[test]
    fn the_checked_row_finds_every_non_finite_value() {
        let x: Vec<f64> = (0..11).map(|j| j as f64 - 7.5).collect();
        let (y, k) = (vec![1.0; 11], vec![2.0; 11]);
        let max =
            |a: &[f64], b: &[f64], c: &[f64]| row_moments_checked(a, b, c).map(|f| f.max_abs_x);
        assert_eq!(max(&x, &y, &k), Some(7.5));
        for at in [0, 5, 10] {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for which in 0..3 {
                    let mut rows = [x.clone(), y.clone(), k.clone()];
                    rows[which][at] = bad;
                    let [a, b, c] = &rows;
                    assert_eq!(max(a, b, c), None, "{which} {at} {bad}");
                    assert!(row_moments_checked_baseline(a, b, c).is_none());
                    assert_eq!(
                        bits(&row_moments_any(a, b, c)),
                        bits(&row_moments(a, b, c)),
                        "a row that is not finite takes the masked moments"
                    );
                }
            }
        }
    }
}
