//! Reading array data through zarrs: only the chunks covering the requested subset are fetched;
//! the subset's size is checked against the limit before anything is allocated; elements are
//! converted to `f64` with the fill value mapped to NaN and CF `scale_factor`/`add_offset` applied;
//! 2-D planes are reoriented onto the normalised grid.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use ndarray::Array2;
use serde_json::Value;
use zarrs::array::{Array, ArrayError, ArraySubset, CodecOptions, ElementOwned};

use super::dataset::{Dataset, LAT_NAMES, LON_NAMES};
use super::guard::GuardedStore;
use super::meta::{ArrayMeta, Dtype};
use super::ZarrError;
use crate::field::{Field2, Precision};

impl Dataset {
    fn zarr_array(&self, m: &ArrayMeta) -> Result<Array<GuardedStore>, ZarrError> {
        Array::new_with_metadata(
            Arc::clone(&self.stack.storage),
            &format!("/{}", m.name),
            m.zarrs.clone(),
        )
        .map_err(|e| ZarrError::BadMetadata {
            key: m.name.clone(),
            reason: e.to_string(),
        })
    }

    fn decode_err(&self, var: &str, e: ArrayError) -> ZarrError {
        self.stack.sink.take().unwrap_or_else(|| ZarrError::Decode {
            var: var.to_owned(),
            message: e.to_string(),
        })
    }

    /// Read `ranges` of array `m` as `f64` (C order over the subset), fill → NaN, CF scaling.
    fn read_subset(&self, m: &ArrayMeta, ranges: &[Range<u64>]) -> Result<Vec<f64>, ZarrError> {
        let mut pieces = self.read_subset_pieces(m, ranges, usize::MAX)?;
        Ok(pieces.pop().unwrap_or_default())
    }

    /// [`read_subset`](Self::read_subset) cut into consecutive pieces of `piece` values (the
    /// last may be shorter): each piece is converted straight from the decoded elements into its
    /// own vector, so reading many planes at once costs no more memory traffic than reading them
    /// one by one.
    /// The elements of `ranges` of array `m` as stored (C order over the subset), after the
    /// subset's size is checked against the limit and before anything else is allocated.
    pub(super) fn retrieve<T: ElementOwned>(
        &self,
        m: &ArrayMeta,
        ranges: &[Range<u64>],
    ) -> Result<Vec<T>, ZarrError> {
        let elements = ranges
            .iter()
            .map(|r| r.end - r.start)
            .try_fold(1u64, |a, n| a.checked_mul(n));
        let elements = elements.unwrap_or(u64::MAX);
        if elements > self.options.max_array_elements {
            return Err(ZarrError::TooLarge {
                what: format!("read of `{}`", m.name),
                size: elements,
                limit: self.options.max_array_elements,
            });
        }
        let array = self.zarr_array(m)?;
        let subset = ArraySubset::new_with_ranges(ranges);
        let opts =
            CodecOptions::default().with_concurrent_target(self.options.codec_concurrency.max(1));
        array
            .retrieve_array_subset_opt::<Vec<T>>(&subset, &opts)
            .map_err(|e| self.decode_err(&m.name, e))
    }

    fn read_subset_pieces(
        &self,
        m: &ArrayMeta,
        ranges: &[Range<u64>],
        piece: usize,
    ) -> Result<Vec<Vec<f64>>, ZarrError> {
        let piece = piece.max(1);
        macro_rules! fetch {
            ($t:ty) => {{
                let raw = self.retrieve::<$t>(m, ranges)?;
                if raw.is_empty() {
                    vec![Vec::new()]
                } else {
                    raw.chunks(piece)
                        .map(|c| c.iter().map(|&x| x as f64).collect::<Vec<f64>>())
                        .collect::<Vec<_>>()
                }
            }};
        }
        let mut pieces = match m.dtype {
            Dtype::F32 => fetch!(f32),
            Dtype::F64 => fetch!(f64),
            Dtype::I8 => fetch!(i8),
            Dtype::I16 => fetch!(i16),
            Dtype::I32 => fetch!(i32),
            Dtype::I64 => fetch!(i64),
            Dtype::U8 => fetch!(u8),
            Dtype::U16 => fetch!(u16),
            Dtype::U32 => fetch!(u32),
            Dtype::U64 => fetch!(u64),
        };
        for values in &mut pieces {
            mask_and_scale(m, values);
        }
        Ok(pieces)
    }

    /// Read a whole 1-D array (a coordinate) as `f64`.
    pub fn read_1d(&self, name: &str) -> Result<Vec<f64>, ZarrError> {
        let m = self.array(name)?;
        if m.shape.len() != 1 {
            return Err(ZarrError::BadDimensions {
                var: name.to_owned(),
                reason: format!("coordinate has shape {:?}", m.shape),
            });
        }
        let whole = 0..m.shape[0];
        self.read_subset(m, std::slice::from_ref(&whole))
    }

    /// Read the latitude × longitude plane of `var` selected by `sel` (dimension names → index),
    /// reoriented onto the normalised grid. Dimensions of length 1 not named in `sel` are taken
    /// at index 0; any other dimension is an error.
    pub(super) fn read_plane(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
    ) -> Result<Field2, ZarrError> {
        let (m, layout, ranges) = self.plane_subset(var, sel)?;
        let flat = self.read_subset(m, &ranges)?;
        let precision = m.precision();
        let mut planes = self.planes(var, layout, vec![flat], precision, 1)?;
        planes
            .pop()
            .ok_or_else(|| bad_dims(var, "no plane read".into()))
    }

    /// Read the planes of `var` at several indices of its level dimension (`sel` as for
    /// [`read_plane`](Self::read_plane) but without the level). Each stored chunk is fetched and
    /// decoded once however many of the levels it holds (production miners chunk all 13 levels
    /// together): one subset read per chunk covers the smallest index range of that chunk
    /// holding every requested level.
    pub(super) fn read_level_planes(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
        level_names: &[&str],
        level_indices: &[usize],
    ) -> Result<Vec<Field2>, ZarrError> {
        if level_indices.is_empty() {
            return Ok(Vec::new());
        }
        let Some(runs) = self.level_runs(var, level_names, level_indices)? else {
            // The level axis is not outside the plane: read level by level.
            return level_indices
                .iter()
                .map(|&k| {
                    let mut s = sel.to_vec();
                    s.push((level_names, k));
                    self.read_plane(var, &s)
                })
                .collect();
        };
        planes_by_run(var, &runs, level_indices, |first, last| {
            self.read_level_run(var, sel, level_names, first, last)
        })
    }

    /// The requested level indices of `var` (sorted, each once) grouped by the stored chunk
    /// along the level axis that holds them: one subset read per group decodes each chunk once,
    /// and no buffer spans more than one chunk (a subset over 13 one-level chunks cost a 54 MB
    /// copy, freshly mapped at every read, at 0.25°). `None` when the level axis is not outside
    /// the latitude × longitude plane (such a store is read level by level).
    pub(super) fn level_runs(
        &self,
        var: &str,
        level_names: &[&str],
        level_indices: &[usize],
    ) -> Result<Option<Vec<Vec<usize>>>, ZarrError> {
        let m = self.array(var)?;
        let level_d = m.dim_index(level_names);
        let lat_d = m.dim_index(&LAT_NAMES);
        let lon_d = m.dim_index(&LON_NAMES);
        let contiguous =
            matches!((level_d, lat_d, lon_d), (Some(l), Some(a), Some(o)) if l < a && l < o);
        if !contiguous {
            return Ok(None);
        }
        let per_chunk = m
            .chunks
            .get(level_d.unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(1)
            .max(1) as usize;
        let mut wanted: Vec<usize> = level_indices.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        Ok(Some(
            wanted
                .chunk_by(|a, b| a / per_chunk == b / per_chunk)
                .map(<[usize]>::to_vec)
                .collect(),
        ))
    }

    /// The planes of `var` at the level indices `lo..=hi` (the level axis outside the plane),
    /// in one subset read.
    fn read_level_run(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
        level_names: &[&str],
        lo: usize,
        hi: usize,
    ) -> Result<Vec<Field2>, ZarrError> {
        let (m, layout, ranges) = self.level_run_subset(var, sel, level_names, (lo, hi))?;
        let (nlat, nlon) = self.orientation()?.grid.shape();
        let pieces = self.read_subset_pieces(m, &ranges, nlat * nlon)?;
        self.planes(var, layout, pieces, m.precision(), hi - lo + 1)
    }

    /// The subset ranges of the planes of `var` at the level indices `lo..=hi` (the level
    /// axis outside the plane; `sel` without the level), with their layout.
    pub(super) fn level_run_subset(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
        level_names: &[&str],
        (lo, hi): (usize, usize),
    ) -> Result<(&ArrayMeta, PlaneLayout, Vec<Range<u64>>), ZarrError> {
        let mut s = sel.to_vec();
        s.push((level_names, lo));
        let (m, layout, mut ranges) = self.plane_subset(var, &s)?;
        if let Some(d) = m.dim_index(level_names) {
            if hi as u64 >= m.shape[d] {
                return Err(ZarrError::IndexOutOfRange {
                    var: var.to_owned(),
                    dim: m.dims[d].clone(),
                    index: hi,
                    len: m.shape[d],
                });
            }
            ranges[d] = lo as u64..hi as u64 + 1;
        }
        Ok((m, layout, ranges))
    }

    /// The subset ranges of the plane of `var` selected by `sel`, with its layout.
    fn plane_subset(
        &self,
        var: &str,
        sel: &[(&[&str], usize)],
    ) -> Result<(&ArrayMeta, PlaneLayout, Vec<Range<u64>>), ZarrError> {
        let m = self.array(var)?;
        let bad = |reason: String| bad_dims(var, reason);
        if m.dims.len() != m.shape.len() {
            return Err(bad("no dimension names".into()));
        }
        let lat_d = m
            .dim_index(&LAT_NAMES)
            .ok_or_else(|| bad("no latitude dimension".into()))?;
        let lon_d = m
            .dim_index(&LON_NAMES)
            .ok_or_else(|| bad("no longitude dimension".into()))?;
        let orient = self.orientation()?;
        let (nlat, nlon) = orient.grid.shape();
        if m.shape[lat_d] != nlat as u64 || m.shape[lon_d] != nlon as u64 {
            return Err(bad(format!(
                "lat/lon lengths {}/{} differ from the coordinates {nlat}/{nlon}",
                m.shape[lat_d], m.shape[lon_d]
            )));
        }
        let mut used = vec![false; sel.len()];
        let mut ranges = Vec::with_capacity(m.dims.len());
        for (d, name) in m.dims.iter().enumerate() {
            if d == lat_d || d == lon_d {
                ranges.push(0..m.shape[d]);
                continue;
            }
            let pick = sel
                .iter()
                .position(|(names, _)| names.contains(&name.as_str()));
            match pick {
                Some(k) => {
                    used[k] = true;
                    let index = sel[k].1;
                    if index as u64 >= m.shape[d] {
                        return Err(ZarrError::IndexOutOfRange {
                            var: var.to_owned(),
                            dim: name.clone(),
                            index,
                            len: m.shape[d],
                        });
                    }
                    ranges.push(index as u64..index as u64 + 1);
                }
                None if m.shape[d] == 1 => ranges.push(0..1),
                None => {
                    return Err(bad(format!(
                        "dimension `{name}` (length {}) not selected",
                        m.shape[d]
                    )))
                }
            }
        }
        if let Some(k) = used.iter().position(|u| !u) {
            return Err(bad(format!("has no `{}` dimension", sel[k].0[0])));
        }
        let layout = PlaneLayout {
            lat_first: lat_d < lon_d,
        };
        Ok((m, layout, ranges))
    }

    /// The `count` consecutive planes read as `pieces` (one vector per plane), each reoriented
    /// onto the normalised grid.
    fn planes(
        &self,
        var: &str,
        layout: PlaneLayout,
        pieces: Vec<Vec<f64>>,
        precision: Precision,
        count: usize,
    ) -> Result<Vec<Field2>, ZarrError> {
        let orient = self.orientation()?;
        let (nlat, nlon) = orient.grid.shape();
        let plane = nlat * nlon;
        if pieces.len() != count || pieces.iter().any(|p| p.len() != plane) {
            let read: usize = pieces.iter().map(Vec::len).sum();
            return Err(bad_dims(
                var,
                format!("read {read} values for {count} plane(s) of {nlat} × {nlon}"),
            ));
        }
        let mut out = Vec::with_capacity(count);
        for piece in pieces {
            let values = reorient(piece, &orient.lat_src, &orient.lon_src, layout.lat_first);
            let values = Array2::from_shape_vec((nlat, nlon), values)
                .map_err(|e| bad_dims(var, format!("plane shape: {e}")))?;
            out.push(Field2::new(orient.grid.clone(), values)?.stored_as(precision));
        }
        Ok(out)
    }
}

/// Fill value and CF `missing_value` → NaN, then CF `scale_factor`/`add_offset`.
fn mask_and_scale(m: &ArrayMeta, values: &mut [f64]) {
    if let Some(fill) = m.fill.filter(|f| !f.is_nan()) {
        values
            .iter_mut()
            .filter(|v| **v == fill)
            .for_each(|v| *v = f64::NAN);
    }
    // Spec §12-12: a CF `missing_value` (one number or a list) is masked like `_FillValue`.
    let missing = m.missing_values();
    if !missing.is_empty() {
        values
            .iter_mut()
            .filter(|v| missing.contains(v))
            .for_each(|v| *v = f64::NAN);
    }
    let num = |k: &str| m.attrs.get(k).and_then(Value::as_f64);
    let (scale, offset) = (num("scale_factor"), num("add_offset"));
    if scale.is_some() || offset.is_some() {
        let (s, o) = (scale.unwrap_or(1.0), offset.unwrap_or(0.0));
        values.iter_mut().for_each(|v| *v = *v * s + o);
    }
}

/// The planes of `level_indices` (in that order) from one read per run of
/// [`Dataset::level_runs`]: `read_run(first, last)` gives the planes `first..=last`.
pub(super) fn planes_by_run<T: Clone>(
    var: &str,
    runs: &[Vec<usize>],
    level_indices: &[usize],
    mut read_run: impl FnMut(usize, usize) -> Result<Vec<T>, ZarrError>,
) -> Result<Vec<T>, ZarrError> {
    // Keyed by level index, holding only the requested levels (an index comes from a hostile
    // store's level coordinate: nothing is sized by it before the read checks it).
    let mut planes: BTreeMap<usize, T> = BTreeMap::new();
    for run in runs {
        let (first, last) = (run[0], run[run.len() - 1]);
        for (k, plane) in (first..=last).zip(read_run(first, last)?) {
            if run.contains(&k) {
                planes.insert(k, plane);
            }
        }
    }
    // Each plane is moved out once; a level asked for twice is copied.
    let mut out = Vec::with_capacity(level_indices.len());
    for (n, &k) in level_indices.iter().enumerate() {
        let again = level_indices[n + 1..].contains(&k);
        let plane = if again {
            planes.get(&k).cloned()
        } else {
            planes.remove(&k)
        };
        out.push(plane.ok_or_else(|| bad_dims(var, format!("level index {k} read twice")))?);
    }
    Ok(out)
}

/// Whether latitude comes before longitude in a stored plane.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlaneLayout {
    pub(super) lat_first: bool,
}

pub(super) fn bad_dims(var: &str, reason: String) -> ZarrError {
    ZarrError::BadDimensions {
        var: var.to_owned(),
        reason,
    }
}

/// Reorder a stored plane (`[lat][lon]` when `lat_first`, else `[lon][lat]`) into the normalised
/// `[lat][lon]` order given by the source indices. Whole rows are copied when the longitude order
/// is already right, and an already-normalised plane is returned as it is (no copy): the reader's
/// hot path at 0.25°.
pub(super) fn reorient<T: Copy>(
    flat: Vec<T>,
    lat_src: &[usize],
    lon_src: &[usize],
    lat_first: bool,
) -> Vec<T> {
    let (nlat, nlon) = (lat_src.len(), lon_src.len());
    let identity = |v: &[usize]| v.iter().enumerate().all(|(k, &s)| k == s);
    let lon_identity = identity(lon_src);
    if lat_first && lon_identity && identity(lat_src) {
        return flat;
    }
    let mut out = Vec::with_capacity(nlat * nlon);
    if lat_first {
        for &si in lat_src {
            let row = &flat[si * nlon..(si + 1) * nlon];
            if lon_identity {
                out.extend_from_slice(row);
            } else {
                out.extend(lon_src.iter().map(|&sj| row[sj]));
            }
        }
    } else {
        for &si in lat_src {
            out.extend(lon_src.iter().map(|&sj| flat[sj * nlat + si]));
        }
    }
    out
}

#[cfg(test)]
mod reorient_tests {
    use super::reorient;

    #[test]
    fn planes_are_reordered_in_every_layout() {
        // Stored [lat][lon] 2 × 3: rows r0 = 0,1,2 and r1 = 10,11,12.
        let flat = vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        assert_eq!(reorient(flat.clone(), &[0, 1], &[0, 1, 2], true), flat);
        assert_eq!(
            reorient(flat.clone(), &[1, 0], &[0, 1, 2], true),
            [10.0, 11.0, 12.0, 0.0, 1.0, 2.0]
        );
        assert_eq!(
            reorient(flat.clone(), &[1, 0], &[2, 0, 1], true),
            [12.0, 10.0, 11.0, 2.0, 0.0, 1.0]
        );
        // Stored [lon][lat] 3 × 2 of the same field.
        let t = vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0];
        assert_eq!(reorient(t, &[0, 1], &[0, 1, 2], false), flat);
    }
}
