//! One latitude row's share of the Day-1 statistics only Day-1 has: the forecast F with the
//! GFS reference R (clone distance, pattern correlation), R with the truth T (reference MSE)
//! and F's range — [`row_fr`] with per-point NaN masks, [`row_fr_finite`] for the usual row
//! where everything is finite, in two passes over the cached row on [`LANES`] independent
//! accumulators: the portable passes here, the same passes with explicit AVX2 vectors in
//! [`super::row_fr_avx2`] (the compiler's vectoriser packed and spilled the accumulators, as it
//! did for the ERA5 moments, docs/scoring.md). Both copies do the same IEEE operations per lane
//! in the same order: the same bits, which the tests check.

use crate::metrics::moments::{hsum, lane_chunks, LANES};
use crate::simd::avx2_dispatch;

/// One lane group of accumulators.
pub(super) type Lanes = [f64; LANES];

/// The first pass's lanes: Σ F, Σ R, Σ (F − R)², Σ (R − T)², min F, max F and Σ R · 0 (±0
/// when every R is finite, NaN otherwise).
pub(super) type FrFirst = [Lanes; 7];

/// The second pass's lanes: Σ p², Σ q², Σ p q with p = F − mean F, q = R − mean R.
pub(super) type FrSecond = [Lanes; 3];

/// What one row gives beyond [`Row`]: the (F, R) pairs, the (R, T) pairs and F's range.
#[derive(Clone, Copy)]
pub(super) struct RowFr {
    pub(super) n_fr: usize,
    pub(super) s_f: f64,
    pub(super) s_r: f64,
    pub(super) s_fr2: f64,
    pub(super) c_ff: f64,
    pub(super) c_rr: f64,
    pub(super) c_fr: f64,
    pub(super) n_rt: usize,
    pub(super) s_rt2: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Default for RowFr {
    fn default() -> Self {
        Self {
            n_fr: 0,
            s_f: 0.0,
            s_r: 0.0,
            s_fr2: 0.0,
            c_ff: 0.0,
            c_rr: 0.0,
            c_fr: 0.0,
            n_rt: 0,
            s_rt2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

avx2_dispatch! {
/// Two passes over a cached row with NaNs or infinities: `x` = F, `y` = T, `z` = R.
pub(super) fn row_fr(x: &[f64], y: &[f64], z: &[f64]) -> RowFr as row_fr_baseline {
    let mut r = RowFr::default();
    for ((&x, &y), &z) in x.iter().zip(y).zip(z) {
        if !x.is_nan() {
            r.min = r.min.min(x);
            r.max = r.max.max(x);
            if !z.is_nan() {
                r.n_fr += 1;
                r.s_fr2 += (x - z) * (x - z);
                r.s_f += x;
                r.s_r += z;
            }
        }
        if !z.is_nan() && !y.is_nan() {
            r.n_rt += 1;
            r.s_rt2 += (z - y) * (z - y);
        }
    }
    let (mf, mr) = (r.s_f / r.n_fr as f64, r.s_r / r.n_fr as f64);
    for (&x, &z) in x.iter().zip(z) {
        if !x.is_nan() && !z.is_nan() {
            let (p, q) = (x - mf, z - mr);
            r.c_ff += p * p;
            r.c_rr += q * q;
            r.c_fr += p * q;
        }
    }
    r
}
}

/// The portable first pass over whole [`LANES`]-chunks (`x` = F, `y` = T, `z` = R).
fn first_pass_portable(x: &[f64], y: &[f64], z: &[f64]) -> FrFirst {
    let zero = [0.0; LANES];
    let (mut s_f, mut s_r, mut s_fr2, mut s_rt2) = (zero, zero, zero, zero);
    let (mut min, mut max) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
    let mut nan = zero;
    for (xs, ys, zs) in lane_chunks(x, y, z) {
        for l in 0..LANES {
            let (x, y, z) = (xs[l], ys[l], zs[l]);
            nan[l] += z * 0.0;
            min[l] = if x < min[l] { x } else { min[l] };
            max[l] = if x > max[l] { x } else { max[l] };
            s_f[l] += x;
            s_r[l] += z;
            s_fr2[l] += (x - z) * (x - z);
            s_rt2[l] += (z - y) * (z - y);
        }
    }
    [s_f, s_r, s_fr2, s_rt2, min, max, nan]
}

/// The portable second pass over whole [`LANES`]-chunks, centred on the means `(mf, mr)`.
fn second_pass_portable(x: &[f64], z: &[f64], (mf, mr): (f64, f64)) -> FrSecond {
    let zero = [0.0; LANES];
    let (mut c_ff, mut c_rr, mut c_fr) = (zero, zero, zero);
    for (xs, _, zs) in lane_chunks(x, x, z) {
        for l in 0..LANES {
            let (p, q) = (xs[l] - mf, zs[l] - mr);
            c_ff[l] += p * p;
            c_rr[l] += q * q;
            c_fr[l] += p * q;
        }
    }
    [c_ff, c_rr, c_fr]
}

/// [`row_fr`] for a row whose forecast `x` and truth `y` are finite; `None` when some
/// reference value `z` is NaN or infinite (the check rides on the first pass: `v · 0` is ±0
/// for a finite value and NaN otherwise). With explicit AVX2 vectors when the CPU has them.
pub(super) fn row_fr_finite(x: &[f64], y: &[f64], z: &[f64]) -> Option<RowFr> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        use super::row_fr_avx2::{first_pass, second_pass};
        // SAFETY: both passes only need AVX2, which the check above found on this CPU.
        return row_fr_finite_with(
            (x, y, z),
            |x, y, z| unsafe { first_pass(x, y, z) },
            |x, z, m| unsafe { second_pass(x, z, m) },
        );
    }
    row_fr_finite_baseline(x, y, z)
}

/// [`row_fr_finite`] with the portable passes (what the AVX2 copy is tested against).
pub(super) fn row_fr_finite_baseline(x: &[f64], y: &[f64], z: &[f64]) -> Option<RowFr> {
    row_fr_finite_with((x, y, z), first_pass_portable, second_pass_portable)
}

/// A finite row's (F, R) statistics with the given passes for its whole [`LANES`]-chunks; the
/// ragged tail goes into lane 0.
#[inline(always)]
fn row_fr_finite_with(
    (x, y, z): (&[f64], &[f64], &[f64]),
    first: impl FnOnce(&[f64], &[f64], &[f64]) -> FrFirst,
    second: impl FnOnce(&[f64], &[f64], (f64, f64)) -> FrSecond,
) -> Option<RowFr> {
    let n = x.len().min(y.len()).min(z.len());
    let whole = n - n % LANES;
    let rest = || x[whole..n].iter().zip(&y[whole..n]).zip(&z[whole..n]);
    let [mut s_f, mut s_r, mut s_fr2, mut s_rt2, mut min, mut max, mut nan] =
        first(&x[..whole], &y[..whole], &z[..whole]);
    for ((&x, &y), &z) in rest() {
        nan[0] += z * 0.0;
        min[0] = min[0].min(x);
        max[0] = max[0].max(x);
        s_f[0] += x;
        s_r[0] += z;
        s_fr2[0] += (x - z) * (x - z);
        s_rt2[0] += (z - y) * (z - y);
    }
    if hsum(nan) != 0.0 {
        return None;
    }
    let (s_f, s_r) = (hsum(s_f), hsum(s_r));
    let (mf, mr) = (s_f / n as f64, s_r / n as f64);
    let [mut c_ff, mut c_rr, mut c_fr] = second(&x[..whole], &z[..whole], (mf, mr));
    for ((&x, _), &z) in rest() {
        let (p, q) = (x - mf, z - mr);
        c_ff[0] += p * p;
        c_rr[0] += q * q;
        c_fr[0] += p * q;
    }
    Some(RowFr {
        n_fr: n,
        s_f,
        s_r,
        s_fr2: hsum(s_fr2),
        c_ff: hsum(c_ff),
        c_rr: hsum(c_rr),
        c_fr: hsum(c_fr),
        n_rt: n,
        s_rt2: hsum(s_rt2),
        min: min.into_iter().fold(f64::INFINITY, f64::min),
        max: max.into_iter().fold(f64::NEG_INFINITY, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::test_rows::{finite, holed, LENGTHS};

    fn bits(r: &RowFr) -> [u64; 11] {
        [
            r.n_fr as u64,
            r.s_f.to_bits(),
            r.s_r.to_bits(),
            r.s_fr2.to_bits(),
            r.c_ff.to_bits(),
            r.c_rr.to_bits(),
            r.c_fr.to_bits(),
            r.n_rt as u64,
            r.s_rt2.to_bits(),
            r.min.to_bits(),
            r.max.to_bits(),
        ]
    }

    /// The AVX2 copies of the row kernels equal their baseline copies, bit for bit.
    #[test]
    fn dispatched_row_kernels_equal_their_baseline_copies() {
        for n in LENGTHS {
            let (x, y, z) = (finite(1, n, 40.0), finite(2, n, 30.0), finite(3, n, 35.0));
            let got = row_fr_finite(&x, &y, &z).map(|r| bits(&r));
            assert!(got.is_some(), "row of {n}");
            assert_eq!(
                got,
                row_fr_finite_baseline(&x, &y, &z).map(|r| bits(&r)),
                "row of {n}"
            );
            // A NaN or an infinity anywhere in the reference is found by both copies.
            let places = [
                (0, f64::NAN),
                (n / 2, f64::INFINITY),
                (n.max(1) - 1, f64::NEG_INFINITY),
            ];
            for (at, bad) in places.into_iter().filter(|_| n > 0) {
                let mut z = z.clone();
                z[at] = bad;
                assert!(row_fr_finite(&x, &y, &z).is_none(), "{bad} at {at} of {n}");
                assert!(row_fr_finite_baseline(&x, &y, &z).is_none());
            }
            let (x, z) = (holed(x, 1), holed(z, 4));
            let got = bits(&row_fr(&x, &y, &z));
            assert_eq!(got, bits(&row_fr_baseline(&x, &y, &z)), "holed row of {n}");
        }
    }
}
