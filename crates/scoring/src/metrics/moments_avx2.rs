//! The two passes of a finite row's moments ([`super::moments::row_moments_checked`]) written
//! with explicit AVX2 vectors, one `__m256d` per accumulator (the first pass also carries the
//! row's finiteness check and its largest `|x|`).
//!
//! Why not the compiler's vectoriser: compiled with AVX2 enabled, the portable passes
//! ([`super::moment_passes::first_pass_portable`], [`super::moment_passes::second_pass_portable`]) came out
//! with unrelated accumulators packed into one register, lanes shuffled back and forth and
//! accumulators spilled to the stack — about 3 ns per point, the largest compute cost of the
//! ERA5 lead. Here each statement is one vector instruction.
//!
//! **Same bits.** Lane `l` of every vector does exactly the IEEE-754 operations, in the same
//! order, as lane `l` of the portable arrays (no FMA, `|d|` as a sign-bit mask like
//! `f64::abs`; `_mm256_max_pd(a, b)` is `a > b ? a : b` like the portable `max_lanes`), so
//! both copies give the same bits; `dispatched_row_kernels_equal_their_baseline_copies`
//! checks it.

use std::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_andnot_pd, _mm256_loadu_pd, _mm256_max_pd, _mm256_mul_pd,
    _mm256_set1_pd, _mm256_setzero_pd, _mm256_storeu_pd, _mm256_sub_pd,
};

use super::moment_passes::{lane_chunks, FirstPass, Lanes, SecondPass};
use super::moments::LANES;

/// The [`LANES`] values of a `chunks_exact(LANES)` chunk.
#[inline(always)]
pub(crate) fn load(s: &[f64]) -> __m256d {
    assert!(s.len() >= LANES);
    // SAFETY: `s` holds at least four f64 (checked above); the load is unaligned.
    unsafe { _mm256_loadu_pd(s.as_ptr()) }
}

/// A vector's lanes as an array.
#[inline(always)]
pub(crate) fn lanes(v: __m256d) -> Lanes {
    let mut out = [0.0; LANES];
    // SAFETY: `out` holds four f64; the store is unaligned.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), v) };
    out
}

/// [`super::moment_passes::first_pass_portable`] on AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn first_pass(x: &[f64], y: &[f64], k: &[f64]) -> FirstPass {
    let z = _mm256_setzero_pd();
    let sign = _mm256_set1_pd(-0.0);
    let (mut s_d, mut s_d2, mut s_ad, mut s_ct2, mut s_fa, mut s_ta) = (z, z, z, z, z, z);
    let (mut nan, mut max) = (z, z);
    for (xs, ys, ks) in lane_chunks(x, y, k) {
        let (x, y, k) = (load(xs), load(ys), load(ks));
        let zeros = _mm256_add_pd(_mm256_mul_pd(x, z), _mm256_mul_pd(y, z));
        nan = _mm256_add_pd(nan, _mm256_add_pd(zeros, _mm256_mul_pd(k, z)));
        max = _mm256_max_pd(_mm256_andnot_pd(sign, x), max);
        let d = _mm256_sub_pd(x, y);
        s_d = _mm256_add_pd(s_d, d);
        s_d2 = _mm256_add_pd(s_d2, _mm256_mul_pd(d, d));
        s_ad = _mm256_add_pd(s_ad, _mm256_andnot_pd(sign, d));
        let e = _mm256_sub_pd(k, y);
        s_ct2 = _mm256_add_pd(s_ct2, _mm256_mul_pd(e, e));
        s_fa = _mm256_add_pd(s_fa, _mm256_sub_pd(x, k));
        s_ta = _mm256_add_pd(s_ta, _mm256_sub_pd(y, k));
    }
    [s_d, s_d2, s_ad, s_ct2, s_fa, s_ta, nan, max].map(lanes)
}

/// [`super::moment_passes::second_pass_portable`] on AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn second_pass(x: &[f64], y: &[f64], k: &[f64], means: [f64; 3]) -> SecondPass {
    let z = _mm256_setzero_pd();
    let (mut m2_d, mut m2_fa, mut m2_ta, mut c_ab) = (z, z, z, z);
    let (md, mfa, mta) = (
        _mm256_set1_pd(means[0]),
        _mm256_set1_pd(means[1]),
        _mm256_set1_pd(means[2]),
    );
    for (xs, ys, ks) in lane_chunks(x, y, k) {
        let (x, y, k) = (load(xs), load(ys), load(ks));
        let e = _mm256_sub_pd(_mm256_sub_pd(x, y), md);
        m2_d = _mm256_add_pd(m2_d, _mm256_mul_pd(e, e));
        let a = _mm256_sub_pd(_mm256_sub_pd(x, k), mfa);
        let b = _mm256_sub_pd(_mm256_sub_pd(y, k), mta);
        m2_fa = _mm256_add_pd(m2_fa, _mm256_mul_pd(a, a));
        m2_ta = _mm256_add_pd(m2_ta, _mm256_mul_pd(b, b));
        c_ab = _mm256_add_pd(c_ab, _mm256_mul_pd(a, b));
    }
    [m2_d, m2_fa, m2_ta, c_ab].map(lanes)
}
