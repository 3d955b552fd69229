//! Linear interpolation of a field onto another grid, reproducing xarray's `interp_like(...,
//! method="linear")` as the production validator calls it (spec §3.2, §4.3 item 3, §12-6..8).
//!
//! xarray decomposes the 2-D linear interpolation into independent 1-D interpolations, first
//! along latitude, then along longitude (the order of the coordinates of a Zarr store), each done
//! by `scipy.interpolate.interp1d(kind="linear", bounds_error=False, fill_value=NaN)` on the
//! coordinate sorted ascending. That fixes the details reproduced here:
//! * the interpolation always runs, even onto an identical grid (§12-6);
//! * target points outside the source coordinate range become NaN (no longitude wrap-around:
//!   a 1° source ending at 359° leaves target longitudes in (359, 360) NaN);
//! * the interval used for a target `x` is `[x[i−1], x[i]]` with `i = searchsorted_left(x, x_new)`
//!   clipped to `[1, n−1]` — so a target that coincides with a source point still reads the
//!   source point before it (the first point reads the second), and a NaN there propagates: on an
//!   identical grid one NaN becomes 2 × 2 NaNs;
//! * the value is `y_lo + (y_hi − y_lo)/(x_hi − x_lo) · (x_new − x_lo)`, where the first pass of
//!   a `float32` field takes `y_hi − y_lo` in single precision (numpy keeps the dtype of the
//!   array difference), every later operation in double (§12-8).

use std::sync::Arc;

use ndarray::Array2;

use super::grid_interp::FieldRows;
use crate::field::{Field2, Grid, Precision};

/// Interpolation is impossible for this source grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpError {
    /// A linear interpolation along a dimension needs at least two source points.
    #[error("cannot interpolate along `{dim}`: the source has {points} point(s)")]
    TooFewPoints {
        /// `lat`, `lon` or `level`.
        dim: &'static str,
        /// Number of source points.
        points: usize,
    },
}

/// Where one target coordinate falls in the source coordinate: interp1d's interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stencil {
    /// Index of the interval's lower source point.
    pub lo: usize,
    /// Index of the interval's upper source point.
    pub hi: usize,
    /// `x_new − x_lo`.
    pub offset: f64,
    /// `x_hi − x_lo`.
    pub span: f64,
}

impl Stencil {
    /// `y_lo + (y_hi − y_lo)/span · offset` in double precision.
    #[inline]
    pub fn lerp(&self, y_lo: f64, y_hi: f64) -> f64 {
        (y_hi - y_lo) / self.span * self.offset + y_lo
    }

    /// The same with `y_hi − y_lo` taken in single precision (`y_lo`, `y_hi` are exactly
    /// representable `f32` values).
    #[inline]
    pub fn lerp_f32(&self, y_lo: f64, y_hi: f64) -> f64 {
        f64::from(y_hi as f32 - y_lo as f32) / self.span * self.offset + y_lo
    }
}

/// interp1d's stencil for each target value against an ascending source; `None` outside range.
/// The indices are positions in `src_ascending`.
pub fn stencils(src_ascending: &[f64], targets: &[f64]) -> Vec<Option<Stencil>> {
    let n = src_ascending.len();
    if n < 2 {
        return vec![None; targets.len()];
    }
    let (first, last) = (src_ascending[0], src_ascending[n - 1]);
    targets
        .iter()
        .map(|&x| {
            if !(x >= first && x <= last) {
                return None;
            }
            let idx = src_ascending.partition_point(|&s| s < x).clamp(1, n - 1);
            let (lo, hi) = (idx - 1, idx);
            Some(Stencil {
                lo,
                hi,
                offset: x - src_ascending[lo],
                span: src_ascending[hi] - src_ascending[lo],
            })
        })
        .collect()
}

/// Interpolate `field` onto `target` (two 1-D passes, latitude then longitude, xarray
/// semantics), whatever the two grids; the result is double precision.
pub fn interp_to_grid(field: &Field2, target: &Arc<Grid>) -> Result<Field2, InterpError> {
    let mut rows = FieldRows::new(field, target)?;
    let (ni, nj) = target.shape();
    let mut out = vec![0.0; ni * nj];
    for (i, row) in out.chunks_exact_mut(nj).enumerate() {
        rows.row_into(i, row);
    }
    Ok(Field2 {
        grid: Arc::clone(target),
        values: Array2::from_shape_vec((ni, nj), out)
            .unwrap_or_else(|_| Array2::from_elem((ni, nj), f64::NAN)),
        precision: Precision::F64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn grid(lat: &[f64], lon: &[f64]) -> Arc<Grid> {
        Arc::new(Grid::new(lat.to_vec(), lon.to_vec()).unwrap())
    }

    /// §12-6: an identical grid is interpolated too; one NaN becomes 2 × 2 NaNs (the point and
    /// the next one along each ascending axis; latitude ascends downwards here).
    #[test]
    fn identical_grid_spreads_a_nan_over_its_stencils() {
        // Latitude ascending is 0, 10, 20, 30 (rows 3, 2, 1, 0); the NaN sits at lat 20, lon 2.
        let g = grid(&[30.0, 20.0, 10.0, 0.0], &[0.0, 1.0, 2.0, 3.0]);
        let mut v = Array2::from_shape_fn((4, 4), |(i, j)| (i * 4 + j) as f64);
        v[[1, 2]] = f64::NAN;
        let f = Field2::new(g.clone(), v.clone()).unwrap();
        let out = interp_to_grid(&f, &g).unwrap();
        let nan: Vec<(usize, usize)> = out
            .values
            .indexed_iter()
            .filter(|(_, v)| v.is_nan())
            .map(|(ix, _)| ix)
            .collect();
        // lat 20 and 30 read lat 20; lon 2 and 3 read lon 2.
        assert_eq!(nan, vec![(0, 2), (0, 3), (1, 2), (1, 3)]);
        assert_eq!(out.values[[3, 0]], 12.0);
        // The first point reads the second: a NaN at lat 10 reaches lat 0 too.
        v[[1, 2]] = 6.0;
        v[[2, 0]] = f64::NAN;
        let out = interp_to_grid(&Field2::new(g.clone(), v).unwrap(), &g).unwrap();
        assert!(out.values[[3, 0]].is_nan() && out.values[[3, 1]].is_nan());
        assert!(out.values[[2, 0]].is_nan() && out.values[[1, 0]].is_nan());
        assert!(!out.values[[0, 0]].is_nan());
    }

    /// §12-8: a float32 field's first (latitude) pass differences in single precision, so an
    /// identical-grid interpolation of a field with a sign change is not exact.
    #[test]
    fn float32_first_pass_rounds_like_numpy() {
        let g = grid(&[1.0, 0.0], &[0.0, 1.0]);
        let (a, b) = (f64::from(-7.3f32), f64::from(1.0e-3f32));
        // Row 0 (lat 1) is interpolated from lat 0 (a) and lat 1 (b).
        let f = Field2::new(g.clone(), array![[b, b], [a, a]]).unwrap();
        let exact = interp_to_grid(&f, &g).unwrap();
        let single = interp_to_grid(&f.clone().stored_as(Precision::F32), &g).unwrap();
        let want32 = f64::from(b as f32 - a as f32) / 1.0 * 1.0 + a;
        assert_eq!(single.values[[0, 0]], want32);
        assert_eq!(exact.values[[0, 0]], (b - a) / 1.0 * 1.0 + a);
        assert_ne!(single.values[[0, 0]], exact.values[[0, 0]]);
        assert_eq!(single.precision, Precision::F64);
    }

    #[test]
    fn bilinear_midpoints_and_outside_nan() {
        let src = grid(&[10.0, 0.0], &[0.0, 10.0]);
        let f = Field2::new(src, array![[0.0, 10.0], [20.0, 30.0]]).unwrap();
        let tgt = grid(&[10.0, 5.0, 0.0], &[0.0, 5.0, 10.0, 15.0]);
        let out = interp_to_grid(&f, &tgt).unwrap();
        assert_eq!(out.values[[1, 1]], 15.0);
        assert_eq!(out.values[[0, 2]], 10.0);
        assert_eq!(out.values[[2, 2]], 30.0);
        assert!(out.values[[1, 3]].is_nan());
    }

    #[test]
    fn nan_propagates_from_the_lower_neighbour_on_exact_hits() {
        // source lon 0,10,20 with NaN at lon 10: every target in row 0 touches it (target 0
        // uses [0,10] because interp1d clips the index to 1; 10 uses [0,10]; 15, 20 use [10,20]).
        // Along latitude the NaN row (lat 2) is read by target lat 2 (interval [1, 2]) only.
        let src = grid(&[2.0, 1.0, 0.0], &[0.0, 10.0, 20.0]);
        let f = Field2::new(
            src,
            array![[1.0, f64::NAN, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]],
        )
        .unwrap();
        let tgt = grid(&[2.0, 1.0, 0.0], &[0.0, 10.0, 15.0, 20.0]);
        let out = interp_to_grid(&f, &tgt).unwrap();
        assert!(out.values.row(0).iter().all(|v| v.is_nan()));
        assert_eq!(out.values[[1, 2]], 2.5);
        assert_eq!(out.values[[2, 0]], 1.0);
    }

    #[test]
    fn too_few_points_is_an_error() {
        let src = grid(&[0.0], &[0.0, 1.0]);
        let f = Field2::new(src, array![[1.0, 2.0]]).unwrap();
        let tgt = grid(&[1.0, 0.0], &[0.0, 1.0]);
        assert_eq!(
            interp_to_grid(&f, &tgt).unwrap_err(),
            InterpError::TooFewPoints {
                dim: "lat",
                points: 1
            }
        );
    }
}
