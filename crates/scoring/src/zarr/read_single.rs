//! Planes of a single-precision array as stored: `float32` without CF scaling, the dtype of
//! every miner, ERA5 and climatology array. A consumer that keeps `f32` (the ERA5 forecast
//! levels, [`crate::era5::ForecastOnTruth`]) reads them here instead of through
//! [`Dataset::read_field_levels`], which widens every value to `f64` and made it narrow each one
//! back: two passes over 8 MB per level at 0.25° for nothing. The reading is the `f64` reader's
//! — the same chunks, the same size limit before anything is allocated, the same fill value and
//! CF `missing_value` masking (compared in `f64`, as there), the same reorientation — only the
//! widening is left out, so a plane here widened is the `f64` reader's plane bit for bit.

use std::sync::Arc;

use super::dataset::{Dataset, LEVEL_NAMES, TIME_NAMES};
use super::meta::ArrayMeta;
use super::read::{bad_dims, planes_by_run, reorient};
use super::ZarrError;
use crate::field::{Grid, Precision};

/// One plane of a single-precision array on the normalised grid, row-major, NaN where missing.
#[derive(Debug, Clone, PartialEq)]
pub struct SinglePlane {
    /// The grid the values sit on.
    pub grid: Arc<Grid>,
    /// `grid.shape()` values.
    pub values: Vec<f32>,
}

/// Fill value and CF `missing_value` → NaN (each value compared as `f64`, as the `f64` reader
/// compares it).
fn mask(m: &ArrayMeta, values: &mut [f32]) {
    let fill = m.fill.filter(|f| !f.is_nan());
    let missing = m.missing_values();
    if fill.is_none() && missing.is_empty() {
        return;
    }
    for v in values.iter_mut() {
        let wide = f64::from(*v);
        if Some(wide) == fill || missing.contains(&wide) {
            *v = f32::NAN;
        }
    }
}

impl Dataset {
    /// [`Dataset::read_field_levels`] without widening to `f64`: the planes of `var` at
    /// `time_index` for each of `level_indices`, each stored chunk read once. `None` when the
    /// array is not `float32` without CF scaling, or its level axis is not outside the plane
    /// (read those with [`Dataset::read_field_levels`]).
    pub fn read_field_levels_single(
        &self,
        var: &str,
        time_index: usize,
        level_indices: &[usize],
    ) -> Result<Option<Vec<SinglePlane>>, ZarrError> {
        if self.array(var)?.precision() != Precision::F32 {
            return Ok(None);
        }
        let Some(runs) = self.level_runs(var, &LEVEL_NAMES, level_indices)? else {
            return Ok(None);
        };
        let sel = [(&TIME_NAMES[..], time_index)];
        planes_by_run(var, &runs, level_indices, |first, last| {
            self.read_level_run_single(var, &sel, (first, last))
        })
        .map(Some)
    }

    /// The planes of `var` at the level indices `lo..=hi`, in one subset read.
    fn read_level_run_single(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
        (lo, hi): (usize, usize),
    ) -> Result<Vec<SinglePlane>, ZarrError> {
        let (m, layout, ranges) = self.level_run_subset(var, sel, &LEVEL_NAMES, (lo, hi))?;
        let orient = self.orientation()?;
        let (nlat, nlon) = orient.grid.shape();
        let plane = nlat * nlon;
        let mut raw = self.retrieve::<f32>(m, &ranges)?;
        mask(m, &mut raw);
        let count = hi - lo + 1;
        if raw.len() != count * plane {
            return Err(bad_dims(
                var,
                format!(
                    "read {} values for {count} plane(s) of {nlat} × {nlon}",
                    raw.len()
                ),
            ));
        }
        let pieces: Vec<Vec<f32>> = if count == 1 {
            vec![raw]
        } else {
            raw.chunks(plane).map(<[f32]>::to_vec).collect()
        };
        Ok(pieces
            .into_iter()
            .map(|piece| SinglePlane {
                grid: orient.grid.clone(),
                values: reorient(piece, &orient.lat_src, &orient.lon_src, layout.lat_first),
            })
            .collect())
    }
}
