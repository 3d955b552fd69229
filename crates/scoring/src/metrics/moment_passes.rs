//! The two lane passes of a finite row's moments ([`super::moments::row_moments_checked`]),
//! portable copy: the lane type and its one-operation-per-lane helpers, the first pass (sums,
//! the finiteness check and the largest `|x|`) and the second (centred sums). The AVX2 copy is
//! [`super::moments_avx2`]; both do the same IEEE operations per lane in the same order.

use super::moments::LANES;

/// [`LANES`] values side by side; the helpers below apply one operation to every lane.
pub(crate) type Lanes = [f64; LANES];

/// The whole [`LANES`]-chunks of three rows, side by side (what both copies of the passes walk).
#[inline(always)]
pub(crate) fn lane_chunks<'a>(
    x: &'a [f64],
    y: &'a [f64],
    k: &'a [f64],
) -> impl Iterator<Item = (&'a [f64], &'a [f64], &'a [f64])> {
    x.chunks_exact(LANES)
        .zip(y.chunks_exact(LANES))
        .zip(k.chunks_exact(LANES))
        .map(|((x, y), k)| (x, y, k))
}

/// The first [`LANES`] values of `s` (a `chunks_exact(LANES)` chunk).
#[inline(always)]
pub(crate) fn lanes(s: &[f64]) -> Lanes {
    std::array::from_fn(|l| s[l])
}

/// `a − b` lane by lane.
#[inline(always)]
pub(crate) fn sub(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|l| a[l] - b[l])
}

/// `a + b` lane by lane.
#[inline(always)]
pub(crate) fn add(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|l| a[l] + b[l])
}

/// `a · b` lane by lane.
#[inline(always)]
pub(crate) fn mul(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|l| a[l] * b[l])
}

/// `|a|` lane by lane.
#[inline(always)]
pub(crate) fn abs(a: Lanes) -> Lanes {
    std::array::from_fn(|l| a[l].abs())
}

/// `a > b ? a : b` lane by lane (what `_mm256_max_pd` computes).
#[inline(always)]
pub(crate) fn max_lanes(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|l| if a[l] > b[l] { a[l] } else { b[l] })
}

/// The lane sums of a finite row's first pass over its whole [`LANES`]-chunks:
/// `[s_d, s_d2, s_ad, s_ct2, s_fa, s_ta]` (see [`Row`]), then the finiteness check `nan`
/// (`Σ x·0 + y·0 + k·0`: zero when every value is finite, NaN otherwise) and `max |x|`.
pub(crate) type FirstPass = [Lanes; 8];

/// The lane sums of a finite row's second pass: `[m2_d, m2_fa, m2_ta, c_ab]`.
pub(crate) type SecondPass = [Lanes; 4];

/// The first pass over `x`, `y`, `k` (whole [`LANES`]-chunks only), portable copy.
#[inline(always)]
pub(crate) fn first_pass_portable(x: &[f64], y: &[f64], k: &[f64]) -> FirstPass {
    let z = [0.0; LANES];
    let (mut s_d, mut s_d2, mut s_ad, mut s_ct2, mut s_fa, mut s_ta) = (z, z, z, z, z, z);
    let (mut nan, mut max) = (z, z);
    for (xs, ys, ks) in lane_chunks(x, y, k) {
        let (x, y, k) = (lanes(xs), lanes(ys), lanes(ks));
        nan = add(nan, add(add(mul(x, z), mul(y, z)), mul(k, z)));
        max = max_lanes(abs(x), max);
        let d = sub(x, y);
        s_d = add(s_d, d);
        s_d2 = add(s_d2, mul(d, d));
        s_ad = add(s_ad, abs(d));
        let e = sub(k, y);
        s_ct2 = add(s_ct2, mul(e, e));
        s_fa = add(s_fa, sub(x, k));
        s_ta = add(s_ta, sub(y, k));
    }
    [s_d, s_d2, s_ad, s_ct2, s_fa, s_ta, nan, max]
}

/// The second pass, centred on `means` = `[m_d, m_fa, m_ta]`, portable copy.
#[inline(always)]
pub(crate) fn second_pass_portable(x: &[f64], y: &[f64], k: &[f64], means: [f64; 3]) -> SecondPass {
    let z = [0.0; LANES];
    let (mut m2_d, mut m2_fa, mut m2_ta, mut c_ab) = (z, z, z, z);
    let [md, mfa, mta] = means.map(|m| [m; LANES]);
    for (xs, ys, ks) in lane_chunks(x, y, k) {
        let (x, y, k) = (lanes(xs), lanes(ys), lanes(ks));
        let e = sub(sub(x, y), md);
        m2_d = add(m2_d, mul(e, e));
        let (a, b) = (sub(sub(x, k), mfa), sub(sub(y, k), mta));
        m2_fa = add(m2_fa, mul(a, a));
        m2_ta = add(m2_ta, mul(b, b));
        c_ab = add(c_ab, mul(a, b));
    }
    [m2_d, m2_fa, m2_ta, c_ab]
}
