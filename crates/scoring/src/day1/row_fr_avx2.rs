//! The two passes of [`super::row_fr::row_fr_finite`] with explicit AVX2 vectors, one
//! `__m256d` per accumulator.
//!
//! **Same bits.** Lane `l` of every vector does exactly the IEEE-754 operations, in the same
//! order, as lane `l` of the portable passes in [`super::row_fr`] (no FMA;
//! `_mm256_min_pd(a, b)` is `a < b ? a : b` and `_mm256_max_pd(a, b)` is `a > b ? a : b`,
//! like the portable selects), so both copies give the same bits;
//! `dispatched_row_kernels_equal_their_baseline_copies` checks it.

use std::arch::x86_64::{
    _mm256_add_pd, _mm256_max_pd, _mm256_min_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_setzero_pd,
    _mm256_sub_pd,
};

use super::row_fr::{FrFirst, FrSecond};
use crate::metrics::moments::lane_chunks;
use crate::metrics::moments_avx2::{lanes, load};

/// The portable first pass of [`super::row_fr`] on AVX2 (`x` = F, `y` = T, `z` = R).
#[target_feature(enable = "avx2")]
pub(super) fn first_pass(x: &[f64], y: &[f64], z: &[f64]) -> FrFirst {
    let zero = _mm256_setzero_pd();
    let (mut s_f, mut s_r, mut s_fr2, mut s_rt2) = (zero, zero, zero, zero);
    let mut min = _mm256_set1_pd(f64::INFINITY);
    let mut max = _mm256_set1_pd(f64::NEG_INFINITY);
    let mut nan = zero;
    for (xs, ys, zs) in lane_chunks(x, y, z) {
        let (x, y, z) = (load(xs), load(ys), load(zs));
        nan = _mm256_add_pd(nan, _mm256_mul_pd(z, zero));
        min = _mm256_min_pd(x, min);
        max = _mm256_max_pd(x, max);
        s_f = _mm256_add_pd(s_f, x);
        s_r = _mm256_add_pd(s_r, z);
        let d = _mm256_sub_pd(x, z);
        s_fr2 = _mm256_add_pd(s_fr2, _mm256_mul_pd(d, d));
        let e = _mm256_sub_pd(z, y);
        s_rt2 = _mm256_add_pd(s_rt2, _mm256_mul_pd(e, e));
    }
    [s_f, s_r, s_fr2, s_rt2, min, max, nan].map(lanes)
}

/// The portable second pass of [`super::row_fr`] on AVX2, centred on `(mean F, mean R)`.
#[target_feature(enable = "avx2")]
pub(super) fn second_pass(x: &[f64], z: &[f64], (mf, mr): (f64, f64)) -> FrSecond {
    let zero = _mm256_setzero_pd();
    let (mut c_ff, mut c_rr, mut c_fr) = (zero, zero, zero);
    let (mf, mr) = (_mm256_set1_pd(mf), _mm256_set1_pd(mr));
    for (xs, _, zs) in lane_chunks(x, x, z) {
        let p = _mm256_sub_pd(load(xs), mf);
        let q = _mm256_sub_pd(load(zs), mr);
        c_ff = _mm256_add_pd(c_ff, _mm256_mul_pd(p, p));
        c_rr = _mm256_add_pd(c_rr, _mm256_mul_pd(q, q));
        c_fr = _mm256_add_pd(c_fr, _mm256_mul_pd(p, q));
    }
    [c_ff, c_rr, c_fr].map(lanes)
}
