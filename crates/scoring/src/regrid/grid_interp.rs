//! The interpolation of one field onto another lat/lon grid, one target row at a time, so that a
//! consumer (the ERA5 kernel) can interpolate a row, use it and drop it without ever holding the
//! interpolated field (the arithmetic is [`super::interp`]'s: interp1d along latitude, then along
//! longitude).
//!
//! [`GridInterp`] is planned once per (source grid, target grid). On an identical grid (the usual
//! case: miner, ERA5 and climatology all on 0.25°) every point reads the point before it with
//! `offset = span`, so a pass computes `(y_hi − y_lo)/span·span + y_lo`. When the span is a power
//! of two 2⁻³⁰…1 and the values come from a `float32` array (so every difference is far from the
//! overflow and underflow limits), dividing and multiplying by the span are both exact and that is
//! bit for bit `(y_hi − y_lo) + y_lo`: the planned rows skip the two roundings that cannot
//! happen, and every other case keeps the division.

use std::borrow::Cow;

use super::interp::{stencils, InterpError, Stencil};
use crate::field::{Field2, Grid, Precision};
use crate::simd::avx2_dispatch;

/// A planned interpolation from a source grid onto a target grid.
#[derive(Debug, Clone)]
pub struct GridInterp {
    src_shape: (usize, usize),
    target_shape: (usize, usize),
    axes: Axes,
}

#[derive(Debug, Clone)]
enum Axes {
    /// Target = source: per source row `i < n−1` the latitude span to row `i + 1`, whether it is
    /// an exact scale, the longitude spans and whether they are one exact scale.
    Same {
        lat_span: Vec<f64>,
        lat_exact: Vec<bool>,
        lon_span: Vec<f64>,
        lon_exact: bool,
    },
    /// Per target latitude the interval as source *rows* (stored descending), per target
    /// longitude the interval as source columns; `None` outside the source range.
    Any {
        lat: Vec<Option<Stencil>>,
        lon: Vec<Option<Stencil>>,
    },
}

/// `s` is 2^k with −30 ≤ k ≤ 0: `d / s · s == d` for every difference of float32 values.
fn exact_scale(s: f64) -> bool {
    const MANTISSA: u64 = (1 << 52) - 1;
    s.is_normal() && s > 0.0 && s.to_bits() & MANTISSA == 0 && (2f64.powi(-30)..=1.0).contains(&s)
}

impl GridInterp {
    /// Plan the interpolation of fields on `src` onto `target`.
    pub fn new(src: &Grid, target: &Grid) -> Result<Self, InterpError> {
        Self::plan(src, target, src == target)
    }

    /// The general stencils even when the grids are equal (for tests of the identical-grid path).
    #[cfg(test)]
    pub(crate) fn general(src: &Grid, target: &Grid) -> Result<Self, InterpError> {
        Self::plan(src, target, false)
    }

    fn plan(src: &Grid, target: &Grid, same: bool) -> Result<Self, InterpError> {
        for (dim, len) in [("lat", src.lat.len()), ("lon", src.lon.len())] {
            if len < 2 {
                return Err(InterpError::TooFewPoints { dim, points: len });
            }
        }
        let axes = if same {
            let lat_span: Vec<f64> = src.lat.windows(2).map(|w| w[0] - w[1]).collect();
            let lon_span: Vec<f64> = src.lon.windows(2).map(|w| w[1] - w[0]).collect();
            Axes::Same {
                lat_exact: lat_span.iter().map(|&s| exact_scale(s)).collect(),
                lon_exact: lon_span.iter().all(|&s| s == lon_span[0] && exact_scale(s)),
                lat_span,
                lon_span,
            }
        } else {
            // interp1d works on latitude sorted ascending; rows are stored descending.
            let nlat = src.lat.len();
            let lat_asc: Vec<f64> = src.lat.iter().rev().copied().collect();
            let lat = stencils(&lat_asc, &target.lat)
                .into_iter()
                .map(|st| {
                    st.map(|st| Stencil {
                        lo: nlat - 1 - st.lo,
                        hi: nlat - 1 - st.hi,
                        ..st
                    })
                })
                .collect();
            Axes::Any {
                lat,
                lon: stencils(&src.lon, &target.lon),
            }
        };
        Ok(Self {
            src_shape: src.shape(),
            target_shape: target.shape(),
            axes,
        })
    }

    /// (rows, columns) of the source grid.
    pub fn src_shape(&self) -> (usize, usize) {
        self.src_shape
    }

    /// (rows, columns) of the target grid.
    pub fn target_shape(&self) -> (usize, usize) {
        self.target_shape
    }

    /// Target row `i` of the field whose values are `src` (row-major on the source grid, stored
    /// in `precision`; `f32` values only for [`Precision::F32`]) into `out` (one target row).
    /// `mid` holds one source row.
    ///
    /// Panics if the slices do not have the planned shapes (a programming error, not input).
    pub fn row_into<T: StoredValue>(
        &self,
        src: &[T],
        precision: Precision,
        i: usize,
        mid: &mut [f64],
        out: &mut [f64],
    ) {
        let (nlat, nlon) = self.src_shape;
        assert!(src.len() == nlat * nlon && mid.len() == nlon && out.len() == self.target_shape.1);
        let row = |r: usize| &src[r * nlon..(r + 1) * nlon];
        let single = precision == Precision::F32;
        match &self.axes {
            Axes::Same {
                lat_span,
                lat_exact,
                lon_span,
                lon_exact,
            } => {
                // Pass 1: row i reads row i+1 (the latitude below it) with offset = span; the
                // lowest latitude reads the one above it with offset 0.
                if i + 1 < nlat {
                    let s = lat_span[i];
                    let exact = single && lat_exact[i];
                    T::lat_pass(mid, row(i + 1), row(i), (s, s), single, exact);
                } else {
                    let s = lat_span[i - 1];
                    T::lat_pass(mid, row(i), row(i - 1), (s, 0.0), single, false);
                }
                lon_pass_same(out, mid, lon_span, single && *lon_exact);
            }
            Axes::Any { lat, lon } => {
                let Some(st) = lat[i] else {
                    out.fill(f64::NAN);
                    return;
                };
                T::lat_pass(
                    mid,
                    row(st.lo),
                    row(st.hi),
                    (st.span, st.offset),
                    single,
                    false,
                );
                for (o, st) in out.iter_mut().zip(lon) {
                    *o = match st {
                        Some(st) => st.lerp(mid[st.lo], mid[st.hi]),
                        None => f64::NAN,
                    };
                }
            }
        }
    }
}

/// One field on a target grid, produced a row at a time ([`GridInterp::row_into`] with the
/// field's values and the scratch row it needs): what a kernel asks for instead of the
/// interpolated field.
pub struct FieldRows<'a> {
    plan: GridInterp,
    values: Cow<'a, [f64]>,
    precision: Precision,
    mid: Vec<f64>,
}

impl<'a> FieldRows<'a> {
    /// Plan `field` onto `target` (an error names the axis that cannot be interpolated).
    pub fn new(field: &'a Field2, target: &Grid) -> Result<Self, InterpError> {
        let plan = GridInterp::new(&field.grid, target)?;
        let values = match field.values.as_slice() {
            Some(flat) => Cow::Borrowed(flat),
            None => Cow::Owned(field.values.iter().copied().collect()),
        };
        Ok(Self {
            mid: vec![0.0; plan.src_shape().1],
            plan,
            values,
            precision: field.precision,
        })
    }

    /// Target row `i` into `out` (one target row).
    pub fn row_into(&mut self, i: usize, out: &mut [f64]) {
        self.plan
            .row_into(&self.values, self.precision, i, &mut self.mid, out);
    }
}

/// The values of a stored field as a latitude pass reads them: `f64`, or `f32` for a field
/// stored in single precision (half the bytes to stream, the same results bit for bit).
pub trait StoredValue: Copy {
    /// One interp1d pass over whole rows, `(span, offset)` as in [`lerp_rows`].
    fn lat_pass(
        out: &mut [f64],
        lo: &[Self],
        hi: &[Self],
        span_offset: (f64, f64),
        single: bool,
        exact: bool,
    );
}

impl StoredValue for f64 {
    fn lat_pass(
        out: &mut [f64],
        lo: &[f64],
        hi: &[f64],
        (span, offset): (f64, f64),
        single: bool,
        exact: bool,
    ) {
        lerp_rows(out, lo, hi, span, offset, single, exact);
    }
}

impl StoredValue for f32 {
    /// `single` is implied: the difference of two `f32` values is taken in single precision.
    fn lat_pass(
        out: &mut [f64],
        lo: &[f32],
        hi: &[f32],
        (span, offset): (f64, f64),
        _single: bool,
        exact: bool,
    ) {
        lerp_rows_f32(out, lo, hi, span, offset, exact);
    }
}

avx2_dispatch! {
/// [`lerp_rows`] over `f32` rows in single precision: the same operations on the same values
/// (an `f32` widened to `f64` is what the `f64` copy holds).
pub(crate) fn lerp_rows_f32(
    out: &mut [f64],
    lo: &[f32],
    hi: &[f32],
    span: f64,
    offset: f64,
    exact: bool,
) as lerp_rows_f32_baseline {
    let rows = out.iter_mut().zip(lo.iter().zip(hi));
    if exact {
        rows.for_each(|(o, (&a, &b))| *o = f64::from(b - a) + f64::from(a));
    } else {
        rows.for_each(|(o, (&a, &b))| *o = f64::from(b - a) / span * offset + f64::from(a));
    }
}
}

avx2_dispatch! {
/// The longitude pass on an identical grid: point j reads j−1 (offset = span), point 0 reads
/// point 1 with offset 0; `exact` (float32 values, one exact scale) drops the division and the
/// multiplication.
fn lon_pass_same(out: &mut [f64], mid: &[f64], lon_span: &[f64], exact: bool) as lon_pass_same_baseline {
    let nlon = mid.len();
    out[0] = (mid[1] - mid[0]) / lon_span[0] * 0.0 + mid[0];
    let pairs = out[1..]
        .iter_mut()
        .zip(mid[..nlon - 1].iter().zip(&mid[1..]));
    if exact {
        pairs.for_each(|(o, (&a, &b))| *o = (b - a) + a);
    } else {
        for ((o, (&a, &b)), &s) in pairs.zip(lon_span) {
            *o = (b - a) / s * s + a;
        }
    }
}
}

avx2_dispatch! {
/// One interp1d pass over whole rows: `out = (hi − lo)/span·offset + lo`, the difference in
/// single precision when `single`; `exact` (float32 values, offset = span and an exact scale)
/// drops the division and the multiplication, which are exact then.
pub(crate) fn lerp_rows(
    out: &mut [f64],
    lo: &[f64],
    hi: &[f64],
    span: f64,
    offset: f64,
    single: bool,
    exact: bool,
) as lerp_rows_baseline {
    let rows = out.iter_mut().zip(lo.iter().zip(hi));
    if exact {
        rows.for_each(|(o, (&a, &b))| *o = f64::from(b as f32 - a as f32) + a);
    } else if single {
        rows.for_each(|(o, (&a, &b))| *o = f64::from(b as f32 - a as f32) / span * offset + a);
    } else {
        rows.for_each(|(o, (&a, &b))| *o = (b - a) / span * offset + a);
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows<T: StoredValue>(plan: &GridInterp, src: &[T], precision: Precision) -> Vec<f64> {
        let (ni, nj) = plan.target_shape();
        let mut mid = vec![0.0; plan.src_shape().1];
        let mut out = vec![0.0; ni * nj];
        for (i, row) in out.chunks_exact_mut(nj).enumerate() {
            plan.row_into(src, precision, i, &mut mid, row);
        }
        out
    }

    fn same_bits(a: &[f64], b: &[f64]) {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                "point {k}: {x} vs {y}"
            );
        }
    }

    /// The AVX2 copies of the two passes equal their baseline copies, bit for bit, in each
    /// precision and with the exact-scale shortcut.
    #[test]
    fn dispatched_passes_equal_their_baseline_copies() {
        use crate::simd::test_rows::{finite, holed, LENGTHS};
        for n in LENGTHS.into_iter().filter(|&n| n >= 2) {
            let lo = holed(
                finite(1, n, 80.0)
                    .iter()
                    .map(|v| f64::from(*v as f32))
                    .collect(),
                2,
            );
            let hi: Vec<f64> = finite(2, n, 80.0)
                .iter()
                .map(|v| f64::from(*v as f32))
                .collect();
            let spans: Vec<f64> = (0..n).map(|j| 0.25 + 0.125 * (j % 3) as f64).collect();
            let (lo32, hi32): (Vec<f32>, Vec<f32>) = (
                lo.iter().map(|&v| v as f32).collect(),
                hi.iter().map(|&v| v as f32).collect(),
            );
            for exact in [false, true] {
                let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
                lerp_rows_f32(&mut got, &lo32, &hi32, 0.3, 0.1, exact);
                lerp_rows_f32_baseline(&mut want, &lo32, &hi32, 0.3, 0.1, exact);
                same_bits(&got, &want);
                lerp_rows(&mut want, &lo, &hi, 0.3, 0.1, true, exact);
                same_bits(&got, &want);
            }
            for (single, exact) in [(false, false), (true, false), (true, true)] {
                let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
                lerp_rows(&mut got, &lo, &hi, 0.3, 0.1, single, exact);
                lerp_rows_baseline(&mut want, &lo, &hi, 0.3, 0.1, single, exact);
                same_bits(&got, &want);
                lon_pass_same(&mut got, &lo, &spans, exact);
                lon_pass_same_baseline(&mut want, &lo, &spans, exact);
                same_bits(&got, &want);
            }
        }
    }

    #[test]
    fn exact_scales_are_powers_of_two_up_to_one() {
        assert!(exact_scale(0.25) && exact_scale(1.0) && exact_scale(2f64.powi(-30)));
        assert!(!exact_scale(2.0) && !exact_scale(0.3) && !exact_scale(1.5));
        assert!(!exact_scale(0.0) && !exact_scale(-0.25) && !exact_scale(f64::NAN));
        assert!(!exact_scale(2f64.powi(-31)));
    }

    /// On a 0.25° grid with float32 values (huge, tiny, signed, NaN, ±inf) the exact-scale rows
    /// give the general stencils' bits.
    #[test]
    fn the_exact_scale_rows_equal_the_general_stencils() {
        let lat: Vec<f64> = (0..9).map(|i| 45.0 - 0.25 * i as f64).collect();
        let lon: Vec<f64> = (0..11).map(|j| 0.25 * j as f64).collect();
        let g = Grid::new(lat, lon).unwrap();
        let special = [f32::MAX, -f32::MAX, 1e-40, -3.5e-38, 0.0, -0.0];
        let mut v: Vec<f64> = (0..99)
            .map(|k| {
                let x = ((k * 37 % 23) as f32 - 11.0) * 1.37e3 + (k as f32) * 1e-3;
                f64::from(special.get(k % 17).copied().unwrap_or(x))
            })
            .collect();
        v[40] = f64::NAN;
        v[13] = f64::INFINITY;
        v[77] = f64::NEG_INFINITY;
        let (fast, general) = (
            GridInterp::new(&g, &g).unwrap(),
            GridInterp::general(&g, &g).unwrap(),
        );
        assert!(matches!(
            fast.axes,
            Axes::Same {
                lon_exact: true,
                ..
            }
        ));
        for precision in [Precision::F32, Precision::F64] {
            same_bits(&rows(&fast, &v, precision), &rows(&general, &v, precision));
        }
        // The same values stored as `f32` give the same bits on both plans.
        let single: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        for plan in [&fast, &general] {
            same_bits(
                &rows(plan, &single, Precision::F32),
                &rows(plan, &v, Precision::F32),
            );
        }
    }

    /// Spans that are not exact scales (or uneven) take the division on the identical grid too.
    #[test]
    fn uneven_spans_keep_the_division() {
        let lat = vec![60.0, 42.5, 25.0, 7.5, -10.0];
        let lon = vec![0.0, 0.37, 0.75, 1.2, 1.3, 2.0];
        let g = Grid::new(lat, lon).unwrap();
        let mut v: Vec<f64> = (0..30).map(|k| f64::from((k as f32).sin() * 9.1)).collect();
        v[8] = f64::NAN;
        v[21] = f64::INFINITY;
        let fast = GridInterp::new(&g, &g).unwrap();
        assert!(matches!(
            fast.axes,
            Axes::Same {
                lon_exact: false,
                ..
            }
        ));
        let general = GridInterp::general(&g, &g).unwrap();
        for precision in [Precision::F32, Precision::F64] {
            same_bits(&rows(&fast, &v, precision), &rows(&general, &v, precision));
        }
    }

    #[test]
    fn a_target_row_outside_the_source_is_nan() {
        let src = Grid::new(vec![10.0, 0.0], vec![0.0, 10.0]).unwrap();
        let tgt = Grid::new(vec![20.0, 5.0], vec![0.0, 5.0, 20.0]).unwrap();
        let plan = GridInterp::new(&src, &tgt).unwrap();
        let out = rows(&plan, &[0.0, 10.0, 20.0, 30.0], Precision::F64);
        assert!(out[..3].iter().all(|v| v.is_nan()));
        assert_eq!(out[3..5], [10.0, 15.0]);
        assert!(out[5].is_nan());
        let one = Grid::new(vec![0.0], vec![0.0, 1.0]).unwrap();
        assert_eq!(
            GridInterp::new(&one, &tgt).unwrap_err(),
            InterpError::TooFewPoints {
                dim: "lat",
                points: 1
            }
        );
    }
}
