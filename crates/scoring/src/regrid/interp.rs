//! Linear interpolation of a field onto another grid, reproducing xarray's `interp_like(...,
//! method="linear")` as the production validator calls it (spec §3.2, §4.3 item 3).
//!
//! xarray decomposes the 2-D linear interpolation into independent 1-D interpolations along
//! latitude and longitude, each done by `scipy.interpolate.interp1d(kind="linear",
//! bounds_error=False, fill_value=NaN)` on the coordinate sorted ascending. That fixes three
//! details reproduced here:
//! * target points outside the source coordinate range become NaN (no longitude wrap-around:
//!   a 1° source ending at 359° leaves target longitudes in (359, 360) NaN);
//! * the interval used for a target `x` is `[x[i−1], x[i]]` with `i = searchsorted_left(x, x_new)`
//!   clipped to `[1, n−1]` — so a target that coincides with a source point still reads the
//!   source point before it, and a NaN there propagates;
//! * the value is `y_lo + (y_hi − y_lo)/(x_hi − x_lo) · (x_new − x_lo)`.
//!
//! When the source grid equals the target grid the field is returned unchanged (no
//! interpolation is needed; see docs/scoring.md).

use std::borrow::Cow;
use std::sync::Arc;

use ndarray::Array2;

use crate::field::{Field2, Grid};

/// Interpolation is impossible for this source grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpError {
    /// A linear interpolation along a dimension needs at least two source points.
    #[error("cannot interpolate along `{dim}`: the source has {points} point(s)")]
    TooFewPoints {
        /// `lat` or `lon`.
        dim: &'static str,
        /// Number of source points.
        points: usize,
    },
}

/// Where one target coordinate falls in the (ascending) source coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stencil {
    lo: usize,
    hi: usize,
    /// `(x_new − x_lo) / (x_hi − x_lo)`.
    offset: f64,
    /// `x_hi − x_lo`.
    span: f64,
}

/// interp1d's stencil for each target value against an ascending source; `None` outside range.
fn stencils(src_ascending: &[f64], targets: &[f64]) -> Vec<Option<Stencil>> {
    let n = src_ascending.len();
    let (first, last) = (src_ascending[0], src_ascending[n - 1]);
    targets
        .iter()
        .map(|&x| {
            if !(x >= first && x <= last) {
                return None;
            }
            let idx = src_ascending.partition_point(|&s| s < x).clamp(1, n - 1);
            let (lo, hi) = (idx - 1, idx);
            let span = src_ascending[hi] - src_ascending[lo];
            Some(Stencil {
                lo,
                hi,
                offset: x - src_ascending[lo],
                span,
            })
        })
        .collect()
}

#[inline]
fn lerp(y_lo: f64, y_hi: f64, s: &Stencil) -> f64 {
    (y_hi - y_lo) / s.span * s.offset + y_lo
}

/// Like [`interp_to_grid`], but borrows the field instead of copying it when it is already on
/// `target` (the common case: miner, GFS and climatology all on the 0.25° grid).
pub fn interp_to_grid_cow<'a>(
    field: &'a Field2,
    target: &Arc<Grid>,
) -> Result<Cow<'a, Field2>, InterpError> {
    if Arc::ptr_eq(&field.grid, target) || *field.grid == **target {
        Ok(Cow::Borrowed(field))
    } else {
        interp_to_grid(field, target).map(Cow::Owned)
    }
}

/// Interpolate `field` onto `target` (bilinear via two 1-D passes, xarray semantics).
pub fn interp_to_grid(field: &Field2, target: &Arc<Grid>) -> Result<Field2, InterpError> {
    if *field.grid == **target {
        return Ok(Field2 {
            grid: Arc::clone(target),
            values: field.values.clone(),
        });
    }
    let src = &field.grid;
    for (dim, len) in [("lat", src.lat.len()), ("lon", src.lon.len())] {
        if len < 2 {
            return Err(InterpError::TooFewPoints { dim, points: len });
        }
    }
    // Latitude is stored descending; interp1d works on it sorted ascending.
    let nlat = src.lat.len();
    let lat_asc: Vec<f64> = src.lat.iter().rev().copied().collect();
    let lat_st = stencils(&lat_asc, &target.lat);
    let lon_st = stencils(&src.lon, &target.lon);

    // Pass 1: along latitude -> (target lat, source lon).
    let nlon_src = src.lon.len();
    let mut mid = Array2::<f64>::from_elem((target.lat.len(), nlon_src), f64::NAN);
    for (ti, st) in lat_st.iter().enumerate() {
        let Some(st) = st else { continue };
        let row_lo = field.values.row(nlat - 1 - st.lo);
        let row_hi = field.values.row(nlat - 1 - st.hi);
        for ((out, &a), &b) in mid
            .row_mut(ti)
            .iter_mut()
            .zip(row_lo.iter())
            .zip(row_hi.iter())
        {
            *out = lerp(a, b, st);
        }
    }
    // Pass 2: along longitude -> (target lat, target lon).
    let mut values = Array2::<f64>::from_elem(target.shape(), f64::NAN);
    for (mut out_row, mid_row) in values.outer_iter_mut().zip(mid.outer_iter()) {
        for (out, st) in out_row.iter_mut().zip(lon_st.iter()) {
            if let Some(st) = st {
                *out = lerp(mid_row[st.lo], mid_row[st.hi], st);
            }
        }
    }
    Ok(Field2 {
        grid: Arc::clone(target),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn grid(lat: &[f64], lon: &[f64]) -> Arc<Grid> {
        Arc::new(Grid::new(lat.to_vec(), lon.to_vec()).unwrap())
    }

    #[test]
    fn identical_grid_is_a_copy() {
        let g = grid(&[10.0, 0.0], &[0.0, 1.0]);
        let f = Field2::new(g.clone(), array![[1.0, f64::NAN], [3.0, 4.0]]).unwrap();
        let out = interp_to_grid(&f, &g).unwrap();
        assert_eq!(out.values[[0, 0]], 1.0);
        assert!(out.values[[0, 1]].is_nan());
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
    fn cow_borrows_on_the_same_grid() {
        let g = grid(&[10.0, 0.0], &[0.0, 1.0]);
        let f = Field2::new(g.clone(), array![[1.0, 2.0], [3.0, 4.0]]).unwrap();
        assert!(matches!(
            interp_to_grid_cow(&f, &g).unwrap(),
            Cow::Borrowed(_)
        ));
        let other = grid(&[10.0, 5.0, 0.0], &[0.0, 1.0]);
        let out = interp_to_grid_cow(&f, &other).unwrap();
        assert!(matches!(out, Cow::Owned(_)));
        assert_eq!(out.values[[1, 0]], 2.0);
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
