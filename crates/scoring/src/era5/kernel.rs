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
//! counts, sums and sums of squares *centred on the row's own means*, which combine exactly into
//! the weighted, centred global statistics ([`crate::metrics::moments`], shared with Day-1). Each
//! field is read from memory once.
//!
//! NaN matching is the primitives' per metric: MSE/MAE/bias over points where forecast and truth
//! are not NaN; the bias correction over points where `F − T` is not NaN; the climatology MSE over
//! points where climatology and truth are not NaN; the ACC standard deviations over each anomaly's
//! own non-NaN points and the correlation over points where both anomalies exist.

use ndarray::{ArrayView2, CowArray, Ix2};

use crate::metrics::moments::{
    combine, row_moments, row_moments_any, row_moments_checked, FiniteRow, Row,
};
use crate::metrics::{skill_from_mse, LatWeights, MetricError};

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

/// What the per-point checks of one row found.
struct RowChecks {
    extreme: bool,
    all_finite: bool,
    truth_finite: usize,
    covered: usize,
    filled: usize,
}

/// The per-point checks of a row with some non-finite value: extreme values (finite only,
/// §12-11), truth and coverage counts, and the climatology fill of non-finite forecast points.
fn check_and_fill(
    buf: &mut [f64],
    truth: &[f64],
    clim: &[f64],
    extreme_threshold: f64,
    fill: bool,
) -> RowChecks {
    let mut c = RowChecks {
        extreme: false,
        all_finite: true,
        truth_finite: 0,
        covered: 0,
        filled: 0,
    };
    for ((x, &y), &k) in buf.iter_mut().zip(truth).zip(clim) {
        let xf = x.is_finite();
        c.extreme |= xf && x.abs() > extreme_threshold;
        let tf = y.is_finite();
        c.truth_finite += usize::from(tf);
        c.covered += usize::from(tf & xf);
        let replace = fill && !xf;
        c.filled += usize::from(replace);
        *x = if replace { k } else { *x };
        c.all_finite &= x.is_finite() & tf & k.is_finite();
    }
    c
}

/// A producer of one field's rows: `(i, out)` writes row `i` into `out` (one row long). The
/// forecast and the climatology come to the kernel this way, interpolated row by row
/// ([`crate::regrid::GridInterp`]), so neither is ever held on the truth grid.
pub type RowFn<'a> = dyn FnMut(usize, &mut [f64]) + 'a;

/// Write the forecast row `i` into `buf` with the edge salvage applied (`inner` is scratch for
/// the inner neighbour row); returns the points filled and whether the original row had a NaN
/// on the border.
///
/// §12-9: the reference fills the top and bottom rows from the **original** rows 1 and n−2, then
/// rewrites the left and right columns from the original columns 1 and m−2 — whole columns,
/// corners included, so a corner takes its value from its own row's neighbour and the corner
/// cells of a NaN row stay NaN.
fn salvaged_row(
    buf: &mut [f64],
    inner: &mut [f64],
    forecast: &mut RowFn<'_>,
    (i, nr): (usize, usize),
    salvage: bool,
) -> (usize, bool) {
    forecast(i, buf);
    let nc = buf.len();
    let edge_row = i == 0 || i + 1 == nr;
    let border_nan = if edge_row {
        buf.iter().any(|v| v.is_nan())
    } else {
        nc > 0 && (buf[0].is_nan() || buf[nc - 1].is_nan())
    };
    if !salvage || nr < 3 || nc < 3 || !border_nan {
        return (0, border_nan);
    }
    // The original row's end columns and their inner neighbours, before the row fill.
    let columns = [(0, 1), (nc - 1, nc - 2)].map(|(edge, next)| (edge, buf[edge], buf[next]));
    let mut filled = 0;
    if edge_row {
        forecast(if i == 0 { 1 } else { nr - 2 }, inner);
        for (v, &s) in buf[1..nc - 1].iter_mut().zip(&inner[1..nc - 1]) {
            if v.is_nan() && !s.is_nan() {
                *v = s;
                filled += 1;
            }
        }
    }
    for (edge, value, next) in columns {
        if value.is_nan() && !next.is_nan() {
            buf[edge] = next;
            filled += 1;
        }
    }
    (filled, border_nan)
}

/// The level's metrics from its rows' moments (the counts are already in `out`).
fn finish(out: &mut LevelStats, rows: &[Row], w: &LatWeights) -> LevelStats {
    let c = combine(rows, w);
    out.mse = c.mse;
    out.mae = c.mae;
    out.bias = c.bias;
    out.skill = skill_from_mse(c.forecast_mse, c.climatology_mse);
    out.acc = c.acc;
    out.diff_sum = c.diff_sum;
    out.diff_count = c.diff_count;
    *out
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
    let nc = forecast.ncols();
    let (f, c) = (standard(forecast), standard(climatology));
    let (fr, cr) = (rows_of(&f, nc), rows_of(&c, nc));
    level_stats_rows(
        forecast.dim(),
        &mut |i, out| out.copy_from_slice(fr[i]),
        truth,
        &mut |i, out| out.copy_from_slice(cr[i]),
        w,
        options,
    )
}

/// [`level_stats`] with the forecast and the climatology given row by row: `shape` is theirs
/// (the truth's), each producer is asked for rows `0..shape.0` in order (the forecast also for
/// rows 1 and n−2 when the edge salvage needs them).
pub fn level_stats_rows(
    shape: (usize, usize),
    forecast: &mut RowFn<'_>,
    truth: &ArrayView2<f64>,
    climatology: &mut RowFn<'_>,
    w: &LatWeights,
    options: KernelOptions,
) -> Result<LevelStats, MetricError> {
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
    let mut out = LevelStats::default();
    let (nr, nc) = shape;
    if nr == 0 || nc == 0 {
        return Ok(finish(&mut out, &[], w));
    }
    let t = standard(truth);
    let tr = rows_of(&t, nc);
    let (mut buf, mut inner, mut clim) = (vec![0.0; nc], vec![0.0; nc], vec![0.0; nc]);
    let mut rows = Vec::with_capacity(nr);
    for (i, &truth_row) in tr.iter().enumerate() {
        let (salvaged, border_nan) = salvaged_row(
            &mut buf,
            &mut inner,
            forecast,
            (i, nr),
            options.edge_salvage,
        );
        out.edge_salvaged += salvaged;
        out.border_nan |= border_nan;
        climatology(i, &mut clim);
        let fill = options.climatology_fill;
        let (row, moments) = match row_moments_checked(&buf, truth_row, &clim) {
            // The usual row: nothing to fill, every point covered, moments already taken.
            Some(FiniteRow { moments, max_abs_x }) => (
                RowChecks {
                    extreme: max_abs_x > options.extreme_threshold,
                    all_finite: true,
                    truth_finite: nc,
                    covered: nc,
                    filled: 0,
                },
                Some(moments),
            ),
            None => (
                check_and_fill(&mut buf, truth_row, &clim, options.extreme_threshold, fill),
                None,
            ),
        };
        let RowChecks {
            extreme,
            all_finite,
            truth_finite,
            covered,
            filled,
        } = row;
        if extreme {
            return Ok(LevelStats {
                extreme: true,
                ..LevelStats::default()
            });
        }
        out.truth_finite += truth_finite;
        out.covered += covered;
        out.filled += filled;
        rows.push(moments.unwrap_or_else(|| {
            // The climatology fill may have made the row finite.
            if all_finite {
                row_moments_any(&buf, truth_row, &clim)
            } else {
                row_moments(&buf, truth_row, &clim)
            }
        }));
    }
    Ok(finish(&mut out, &rows, w))
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
            if nan_every > 0 && (i * shape.1 + j).is_multiple_of(nan_every) {
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
        // No NaN anywhere: every row takes `row_moments_checked` (17 columns: 4 lanes + 1 left).
        let shape = (13, 17);
        let (f, t, c) = (
            field(1, shape, 0, 1.0),
            field(2, shape, 0, 0.0),
            field(4, shape, 0, 0.5),
        );
        check(&f, &t, &c, true);
        let (x, y, k) = (f.row(3).to_vec(), t.row(3).to_vec(), c.row(3).to_vec());
        let a = row_moments_checked(&x, &y, &k).expect("finite").moments;
        let b = row_moments(&x, &y, &k);
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
