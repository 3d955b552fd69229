//! The ERA5 statistics of one (variable, level) in a single pass over memory.
//!
//! [`level_stats`] takes the forecast (already on the truth grid, before edge salvage and the
//! climatology fill), the truth and the climatology, and computes everything §4.3 needs from that
//! level: the edge salvage count, the extreme-value flag, the coverage counts, the fill count, and
//! MSE, MAE, bias, ACC and the bias-corrected skill against climatology — the same numbers as
//! [`edge_salvage`](super::checks::edge_salvage) + [`fill_from_climatology`](super::checks::fill_from_climatology)
//! followed by the `crate::metrics` primitives, without modifying or copying the input fields.
//!
//! How: the field is walked one latitude row at a time. The row's forecast is copied into a small
//! buffer (which stays in L1 cache), salvaged (border rows from their inner neighbour, then the two
//! end columns) and filled from the climatology; then two passes over the cached row give its
//! counts, sums and sums of squares *centred on the row's own means*. Because the cos-latitude
//! weight is constant along a row, the weighted, centred global statistics (the centred weighted
//! correlation of the ACC, the ACC standard-deviation guard and the bias-corrected MSE) follow
//! exactly from the per-row moments by the parallel-variance combination
//! `Σ_i w_i [M2_i + n_i (m_i − m)²]`. This is as accurate as the two global passes of the
//! primitives (more so than a naive one-pass `Σx² − (Σx)²/n`) and reads each field from memory once.
//!
//! NaN matching is the primitives' per metric: MSE/MAE/bias over points where forecast and truth
//! are not NaN; the bias correction over points where `F − T` is not NaN; the climatology MSE over
//! points where climatology and truth are not NaN; the ACC standard deviations over each anomaly's
//! own non-NaN points and the correlation over points where both anomalies exist.

use ndarray::{ArrayView2, CowArray, Ix2};

use crate::metrics::{skill_from_mse, LatWeights, MetricError, ACC_MIN_STD};

/// What the kernel does to the forecast before the statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelOptions {
    /// Fill NaNs of the one-cell border from the inner neighbour.
    pub edge_salvage: bool,
    /// Any finite `|x|` above this (after salvage, before the fill) sets
    /// [`LevelStats::extreme`] (§12-11: infinities are not extreme values, they are missing).
    pub extreme_threshold: f64,
    /// Replace non-finite forecast values by the climatology (§12-10: surface variables only;
    /// a pressure-level field keeps its NaNs and the statistics skip them pairwise).
    pub climatology_fill: bool,
}

/// Everything the ERA5 score needs from one level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LevelStats {
    /// Border points filled by edge salvage.
    pub edge_salvaged: usize,
    /// The forecast had a NaN in its outer one-cell border (before salvage), so edge salvage
    /// rewrote the field (what decides the production profile's pressure-level skill, §11-1).
    pub border_nan: bool,
    /// Some value had `|x| > extreme_threshold`; the statistics below are then not computed
    /// (they are zero) because the miner fails verification.
    pub extreme: bool,
    /// Points where the truth is finite.
    pub truth_finite: usize,
    /// Of those, points where the (salvaged) forecast is finite.
    pub covered: usize,
    /// Points filled from the climatology (NaN after salvage).
    pub filled: usize,
    /// ⟨(F−T)²⟩_w.
    pub mse: f64,
    /// ⟨|F−T|⟩_w.
    pub mae: f64,
    /// ⟨F−T⟩_w.
    pub bias: f64,
    /// Centred weighted correlation of F − C and T − C (NaN when degenerate).
    pub acc: f64,
    /// Bias-corrected MSE skill against the climatology (NaN when undefined).
    pub skill: f64,
    /// Σ (F − T) over the points where it is not NaN (unweighted).
    pub diff_sum: f64,
    /// Number of those points.
    pub diff_count: usize,
}

/// Per-row counts, sums and centred second moments (weights applied when rows are combined).
#[derive(Default, Clone, Copy)]
struct Row {
    // forecast/truth pairs: d = F − T
    n_ft: usize,
    s_d: f64,
    s_d2: f64,
    s_ad: f64,
    m2_d: f64,
    // unweighted mean of F − T (bias correction)
    n_diff: usize,
    s_diff: f64,
    // climatology/truth pairs
    n_ct: usize,
    s_ct2: f64,
    // anomalies fa = F − C, ta = T − C, each on its own points
    n_fa: usize,
    s_fa: f64,
    m2_fa: f64,
    n_ta: usize,
    s_ta: f64,
    m2_ta: f64,
    // anomaly pairs
    n_ab: usize,
    s_a: f64,
    s_b: f64,
    c_aa: f64,
    c_bb: f64,
    c_ab: f64,
}

#[inline]
fn mean(sum: f64, n: usize) -> f64 {
    sum / n as f64
}

/// Two passes over one cached row: `x` the salvaged and filled forecast, `y` truth, `k`
/// climatology.
fn row_moments(x: &[f64], y: &[f64], k: &[f64]) -> Row {
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

/// Lanes of the vectorised row passes.
const LANES: usize = 4;

/// Sum of the lanes.
#[inline]
fn hsum(a: [f64; LANES]) -> f64 {
    (a[0] + a[1]) + (a[2] + a[3])
}

/// [`row_moments`] for a row where every value is finite (the usual case): every NaN mask is
/// true, so the sums need no masks and run on [`LANES`] independent accumulators.
fn row_moments_finite(x: &[f64], y: &[f64], k: &[f64]) -> Row {
    let n = x.len().min(y.len()).min(k.len());
    let (x, y, k) = (&x[..n], &y[..n], &k[..n]);
    let whole = n - n % LANES;
    let (xr, yr, kr) = (&x[whole..], &y[whole..], &k[whole..]);
    let (xc, yc, kc) = (
        x[..whole].chunks_exact(LANES),
        y[..whole].chunks_exact(LANES),
        k[..whole].chunks_exact(LANES),
    );
    let z = [0.0; LANES];
    let (mut s_d, mut s_d2, mut s_ad, mut s_ct2, mut s_fa, mut s_ta) = (z, z, z, z, z, z);
    for ((xs, ys), ks) in xc.clone().zip(yc.clone()).zip(kc.clone()) {
        let (xs, ys, ks) = (&xs[..LANES], &ys[..LANES], &ks[..LANES]);
        for l in 0..LANES {
            let d = xs[l] - ys[l];
            s_d[l] += d;
            s_d2[l] += d * d;
            s_ad[l] += d.abs();
            let e = ks[l] - ys[l];
            s_ct2[l] += e * e;
            s_fa[l] += xs[l] - ks[l];
            s_ta[l] += ys[l] - ks[l];
        }
    }
    for ((&x, &y), &k) in xr.iter().zip(yr).zip(kr) {
        let d = x - y;
        s_d[0] += d;
        s_d2[0] += d * d;
        s_ad[0] += d.abs();
        s_ct2[0] += (k - y) * (k - y);
        s_fa[0] += x - k;
        s_ta[0] += y - k;
    }
    let (s_d, s_fa, s_ta) = (hsum(s_d), hsum(s_fa), hsum(s_ta));
    let (m_d, m_fa, m_ta) = (mean(s_d, n), mean(s_fa, n), mean(s_ta, n));
    let (mut m2_d, mut m2_fa, mut m2_ta, mut c_ab) = (z, z, z, z);
    for ((xs, ys), ks) in xc.zip(yc).zip(kc) {
        let (xs, ys, ks) = (&xs[..LANES], &ys[..LANES], &ks[..LANES]);
        for l in 0..LANES {
            let e = (xs[l] - ys[l]) - m_d;
            m2_d[l] += e * e;
            let (a, b) = ((xs[l] - ks[l]) - m_fa, (ys[l] - ks[l]) - m_ta);
            m2_fa[l] += a * a;
            m2_ta[l] += b * b;
            c_ab[l] += a * b;
        }
    }
    for ((&x, &y), &k) in xr.iter().zip(yr).zip(kr) {
        let e = (x - y) - m_d;
        m2_d[0] += e * e;
        let (a, b) = ((x - k) - m_fa, (y - k) - m_ta);
        m2_fa[0] += a * a;
        m2_ta[0] += b * b;
        c_ab[0] += a * b;
    }
    let (m2_fa, m2_ta) = (hsum(m2_fa), hsum(m2_ta));
    Row {
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
    }
}

/// Copy the forecast row `i` into `buf` with the edge salvage applied; returns the points filled
/// and whether the original row had a NaN on the border.
///
/// §12-9: the reference fills the top and bottom rows from the **original** rows 1 and n−2, then
/// rewrites the left and right columns from the original columns 1 and m−2 — whole columns,
/// corners included, so a corner takes its value from its own row's neighbour and the corner
/// cells of a NaN row stay NaN.
fn salvaged_row(buf: &mut [f64], rows: &[&[f64]], i: usize, salvage: bool) -> (usize, bool) {
    let row = rows[i];
    buf.copy_from_slice(row);
    let (nr, nc) = (rows.len(), buf.len());
    let edge_row = i == 0 || i + 1 == nr;
    let border_nan = if edge_row {
        row.iter().any(|v| v.is_nan())
    } else {
        nc > 0 && (row[0].is_nan() || row[nc - 1].is_nan())
    };
    if !salvage || nr < 3 || nc < 3 || !border_nan {
        return (0, border_nan);
    }
    let mut filled = 0;
    if edge_row {
        let inner = rows[if i == 0 { 1 } else { nr - 2 }];
        for (v, &s) in buf[1..nc - 1].iter_mut().zip(&inner[1..nc - 1]) {
            if v.is_nan() && !s.is_nan() {
                *v = s;
                filled += 1;
            }
        }
    }
    for (edge, inner) in [(0, 1), (nc - 1, nc - 2)] {
        if row[edge].is_nan() && !row[inner].is_nan() {
            buf[edge] = row[inner];
            filled += 1;
        }
    }
    (filled, border_nan)
}

fn standard<'a>(a: &'a ArrayView2<'_, f64>) -> CowArray<'a, f64, Ix2> {
    a.as_standard_layout()
}

fn rows_of<'a>(a: &'a CowArray<'_, f64, Ix2>, ncols: usize) -> Vec<&'a [f64]> {
    a.as_slice()
        .map(|s| s.chunks_exact(ncols).collect())
        .unwrap_or_default()
}

/// The statistics of one level. `forecast` is on the truth grid, before salvage and fill;
/// `climatology` is on the truth grid; `w` has one weight per row.
pub fn level_stats(
    forecast: &ArrayView2<f64>,
    truth: &ArrayView2<f64>,
    climatology: &ArrayView2<f64>,
    w: &LatWeights,
    options: KernelOptions,
) -> Result<LevelStats, MetricError> {
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
    let mut out = LevelStats::default();
    let (nr, nc) = forecast.dim();
    if nr == 0 || nc == 0 {
        return Ok(finish(&mut out, &[], w));
    }
    let (f, t, c) = (standard(forecast), standard(truth), standard(climatology));
    let (fr, tr, cr) = (rows_of(&f, nc), rows_of(&t, nc), rows_of(&c, nc));
    let mut buf = vec![0.0; nc];
    let mut rows = Vec::with_capacity(nr);
    for i in 0..nr {
        let (salvaged, border_nan) = salvaged_row(&mut buf, &fr, i, options.edge_salvage);
        out.edge_salvaged += salvaged;
        out.border_nan |= border_nan;
        let (mut extreme, mut all_finite) = (false, true);
        let (mut truth_finite, mut covered, mut filled) = (0usize, 0usize, 0usize);
        let fill = options.climatology_fill;
        for ((x, &y), &k) in buf.iter_mut().zip(tr[i]).zip(cr[i]) {
            let xf = x.is_finite();
            extreme |= xf && x.abs() > options.extreme_threshold;
            let tf = y.is_finite();
            truth_finite += usize::from(tf);
            covered += usize::from(tf & xf);
            let replace = fill && !xf;
            filled += usize::from(replace);
            *x = if replace { k } else { *x };
            all_finite &= x.is_finite() & tf & k.is_finite();
        }
        if extreme {
            return Ok(LevelStats {
                extreme: true,
                ..LevelStats::default()
            });
        }
        out.truth_finite += truth_finite;
        out.covered += covered;
        out.filled += filled;
        rows.push(if all_finite {
            row_moments_finite(&buf, tr[i], cr[i])
        } else {
            row_moments(&buf, tr[i], cr[i])
        });
    }
    Ok(finish(&mut out, &rows, w))
}

/// Combine the per-row moments with the row weights.
fn finish(out: &mut LevelStats, rows: &[Row], w: &LatWeights) -> LevelStats {
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
    let forecast_mse = skill_e2 / w_ft;
    let reference_mse = w_ct2 / w_ct;
    let sf = (fa_ss / g.n_fa as f64).sqrt();
    let st = (ta_ss / g.n_ta as f64).sqrt();
    out.mse = w_d2 / w_ft;
    out.mae = w_ad / w_ft;
    out.bias = w_d / w_ft;
    out.skill = skill_from_mse(forecast_mse, reference_mse);
    out.acc = if sf < ACC_MIN_STD || st < ACC_MIN_STD {
        f64::NAN
    } else {
        (num / (daa * dbb).sqrt()).clamp(-1.0, 1.0)
    };
    out.diff_sum = g.s_diff;
    out.diff_count = g.n_diff;
    *out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::era5::checks::{coverage_counts, edge_salvage, fill_from_climatology, has_extreme};
    use crate::metrics::{
        anomaly_correlation, bias_corrected_skill, weighted_bias, weighted_mae, weighted_mse,
    };
    use ndarray::Array2;

    /// Deterministic pseudo-random field with NaNs at every `nan_every`-th point.
    fn field(seed: u64, shape: (usize, usize), nan_every: usize, offset: f64) -> Array2<f64> {
        let mut s = seed;
        Array2::from_shape_fn(shape, |(i, j)| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if nan_every > 0 && (i * shape.1 + j) % nan_every == 0 {
                f64::NAN
            } else {
                offset + (s >> 11) as f64 / (1u64 << 53) as f64 * 10.0 + i as f64
            }
        })
    }

    fn close(a: f64, b: f64, what: &str) {
        assert!(
            a == b || (a - b).abs() <= 1e-11 * b.abs().max(1.0) || (a.is_nan() && b.is_nan()),
            "{what}: {a} vs {b}"
        );
    }

    /// The kernel against salvage + fill + the metric primitives, with and without the
    /// climatology fill (surface and pressure-level variables).
    fn check(f: &Array2<f64>, t: &Array2<f64>, c: &Array2<f64>, salvage: bool) {
        check_with(f, t, c, salvage, true);
        check_with(f, t, c, salvage, false);
    }

    fn check_with(f: &Array2<f64>, t: &Array2<f64>, c: &Array2<f64>, salvage: bool, fill: bool) {
        let lat: Vec<f64> = (0..f.nrows())
            .map(|i| 80.0 - 160.0 * i as f64 / f.nrows().max(2) as f64)
            .collect();
        let w = LatWeights::cos_lat(&lat);
        let opts = KernelOptions {
            edge_salvage: salvage,
            extreme_threshold: 1e12,
            climatology_fill: fill,
        };
        let s = level_stats(&f.view(), &t.view(), &c.view(), &w, opts).unwrap();
        let mut g = f.clone();
        let salvaged = if salvage { edge_salvage(&mut g) } else { 0 };
        assert_eq!(s.edge_salvaged, salvaged);
        let (nr, nc) = f.dim();
        let border = f.iter().enumerate().any(|(k, v)| {
            let (i, j) = (k / nc, k % nc);
            v.is_nan() && (i == 0 || i + 1 == nr || j == 0 || j + 1 == nc)
        });
        assert_eq!(s.border_nan, border);
        assert_eq!(s.extreme, has_extreme(&g.view(), 1e12));
        assert_eq!(
            (s.truth_finite, s.covered),
            coverage_counts(&g.view(), &t.view())
        );
        let filled = if fill {
            fill_from_climatology(&mut g, &c.view())
        } else {
            0
        };
        assert_eq!(s.filled, filled);
        let (gv, tv, cv) = (g.view(), t.view(), c.view());
        close(s.mse, weighted_mse(&gv, &tv, &w).unwrap(), "mse");
        close(s.mae, weighted_mae(&gv, &tv, &w).unwrap(), "mae");
        close(s.bias, weighted_bias(&gv, &tv, &w).unwrap(), "bias");
        close(
            s.skill,
            bias_corrected_skill(&gv, &tv, &cv, &w).unwrap().skill,
            "skill",
        );
        close(
            s.acc,
            anomaly_correlation(&gv, &tv, &cv, &w).unwrap(),
            "acc",
        );
        let (mut sum, mut n) = (0.0, 0);
        for (&x, &y) in gv.iter().zip(tv.iter()) {
            if !(x - y).is_nan() {
                sum += x - y;
                n += 1;
            }
        }
        assert_eq!(s.diff_count, n);
        close(s.diff_sum, sum, "diff sum");
    }

    #[test]
    fn kernel_equals_salvage_fill_and_primitives() {
        let shape = (13, 17);
        let (t, c) = (field(2, shape, 11, 0.0), field(4, shape, 13, 0.5));
        for (seed, nan_every) in [(1, 0), (1, 7), (3, 2), (5, 3)] {
            let f = field(seed, shape, nan_every, 1.0);
            check(&f, &t, &c, true);
            check(&f, &t, &c, false);
        }
        // Border NaNs in every corner and along the edges, salvaged rows first then columns.
        let mut f = field(9, shape, 0, 1.0);
        for j in 0..17 {
            f[[0, j]] = f64::NAN;
        }
        for i in 0..13 {
            f[[i, 16]] = f64::NAN;
        }
        f[[1, 0]] = f64::NAN;
        f[[0, 1]] = 3.0;
        f[[12, 0]] = f64::NAN;
        f[[11, 0]] = f64::NAN;
        check(&f, &t, &c, true);
        // A large common offset does not hurt the centred sums.
        let big = |a: &Array2<f64>| a.mapv(|x| x + 5e5);
        check(&big(&f), &big(&t), &big(&c), true);
        // Tiny grids, a single row, no salvage possible.
        let small = (2, 2);
        check(
            &field(1, small, 3, 0.0),
            &field(2, small, 0, 0.0),
            &field(3, small, 0, 0.0),
            true,
        );
        check(
            &field(1, (1, 9), 4, 0.0),
            &field(2, (1, 9), 0, 0.0),
            &field(3, (1, 9), 0, 0.0),
            true,
        );
    }

    #[test]
    fn finite_rows_take_the_vectorised_path() {
        // No NaN anywhere: every row takes `row_moments_finite` (17 columns: 4 lanes + 1 left).
        let shape = (13, 17);
        let (f, t, c) = (
            field(1, shape, 0, 1.0),
            field(2, shape, 0, 0.0),
            field(4, shape, 0, 0.5),
        );
        check(&f, &t, &c, true);
        let (x, y, k) = (f.row(3).to_vec(), t.row(3).to_vec(), c.row(3).to_vec());
        let (a, b) = (row_moments_finite(&x, &y, &k), row_moments(&x, &y, &k));
        let pairs = [
            (a.s_d, b.s_d),
            (a.s_d2, b.s_d2),
            (a.s_ad, b.s_ad),
            (a.m2_d, b.m2_d),
            (a.s_diff, b.s_diff),
            (a.s_ct2, b.s_ct2),
            (a.s_fa, b.s_fa),
            (a.m2_fa, b.m2_fa),
            (a.s_ta, b.s_ta),
            (a.m2_ta, b.m2_ta),
            (a.s_a, b.s_a),
            (a.s_b, b.s_b),
            (a.c_aa, b.c_aa),
            (a.c_bb, b.c_bb),
            (a.c_ab, b.c_ab),
        ];
        for (i, (p, q)) in pairs.into_iter().enumerate() {
            close(p, q, &format!("row moment {i}"));
        }
        let counts = [a.n_ft, a.n_diff, a.n_ct, a.n_fa, a.n_ta, a.n_ab];
        let general = [b.n_ft, b.n_diff, b.n_ct, b.n_fa, b.n_ta, b.n_ab];
        assert_eq!(counts, general);
        // An infinity in the truth sends the row to the general path.
        let mut t_inf = t.clone();
        t_inf[[5, 5]] = f64::INFINITY;
        check(&f, &t_inf, &c, true);
    }

    #[test]
    fn degenerate_and_extreme_cases() {
        let shape = (6, 7);
        let t = field(2, shape, 0, 0.0);
        let c = field(4, shape, 0, 0.0);
        let w = LatWeights::uniform(6);
        let opts = KernelOptions {
            edge_salvage: true,
            extreme_threshold: 1e12,
            climatology_fill: true,
        };
        // forecast = climatology: zero anomaly, ACC NaN
        let s = level_stats(&c.view(), &t.view(), &c.view(), &w, opts).unwrap();
        assert!(s.acc.is_nan());
        // perfect forecast
        let s = level_stats(&t.view(), &t.view(), &c.view(), &w, opts).unwrap();
        assert_eq!((s.mse, s.skill), (0.0, 1.0));
        assert!((s.acc - 1.0).abs() < 1e-12);
        // all NaN forecast: filled entirely from climatology
        let nan = Array2::from_elem(shape, f64::NAN);
        check(&nan, &t, &c, true);
        // extremes, including an infinity, and a value exactly at the threshold
        let mut f = t.clone();
        f[[3, 3]] = 1e12;
        assert!(
            !level_stats(&f.view(), &t.view(), &c.view(), &w, opts)
                .unwrap()
                .extreme
        );
        f[[3, 3]] = -1e13;
        assert!(
            level_stats(&f.view(), &t.view(), &c.view(), &w, opts)
                .unwrap()
                .extreme
        );
        // §12-11: an infinity is missing, not extreme: it lowers coverage and is filled.
        f[[3, 3]] = f64::INFINITY;
        let s = level_stats(&f.view(), &t.view(), &c.view(), &w, opts).unwrap();
        assert!(!s.extreme);
        assert_eq!((s.covered + 1, s.filled), (s.truth_finite, 1));
        // a non-standard layout gives the same numbers
        let ft = t.t().to_owned();
        let (tt, ct) = (t.t().to_owned(), c.t().to_owned());
        let a = level_stats(&ft.t(), &tt.t(), &ct.t(), &w, opts).unwrap();
        let b = level_stats(&t.view(), &t.view(), &c.view(), &w, opts).unwrap();
        assert_eq!(a, b);
        // shape and weight errors
        let other = Array2::<f64>::zeros((2, 2));
        assert!(level_stats(&t.view(), &other.view(), &c.view(), &w, opts).is_err());
        assert!(level_stats(
            &t.view(),
            &t.view(),
            &c.view(),
            &LatWeights::uniform(2),
            opts
        )
        .is_err());
    }
}
