//! A variable's forecast on the truth grid and levels (spec §12-6/7): latitude, longitude, then
//! the pressure level, always interpolating — produced one row of one target level at a time for
//! the kernel, so the interpolated forecast is never materialised: a row of a target level is
//! made from one row of each of its two stored levels (each from two source rows), then
//! forgotten. Only the stored (raw) fields are held.

use std::borrow::Cow;
use std::sync::Arc;

use ndarray::Array2;

use crate::field::{Field2, Grid, Precision};
use crate::regrid::grid_interp::lerp_rows;
use crate::regrid::{GridInterp, InterpError, LevelPlan};
use crate::zarr::SinglePlane;

/// A stored field's values in row-major order.
enum Values<'a> {
    /// As given (a field given up front is borrowed).
    Double(Cow<'a, [f64]>),
    /// A single-precision field handed over with [`ForecastOnTruth::insert`], narrowed back to
    /// `f32` (exactly: every value came from a `float32` array): half the memory to hold and to
    /// stream through the latitude passes, the same rows bit for bit.
    Single(Vec<f32>),
}

/// One stored field's values in row-major order, with its interpolation plan.
struct RawRows<'a> {
    values: Values<'a>,
    precision: Precision,
    /// Index into [`ForecastOnTruth::plans`].
    plan: usize,
}

/// A variable's forecast put on the truth grid and levels, row by row.
pub struct ForecastOnTruth<'a> {
    /// The stored fields by index; `None` for one not (or no longer) held.
    raw: Vec<Option<RawRows<'a>>>,
    /// The distinct source grids, in the order of `plans`.
    grids: Vec<Arc<Grid>>,
    /// How each target level is made from `raw`; `None` for a surface variable.
    levels: Option<LevelPlan>,
    /// One plan per distinct source grid (normally one), or why the grid cannot be interpolated.
    plans: Result<Vec<GridInterp>, InterpError>,
    target: Arc<Grid>,
    mid: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl<'a> ForecastOnTruth<'a> {
    /// A surface variable's forecast.
    pub fn surface(raw: &'a Field2, target: &Arc<Grid>) -> Self {
        Self::new(std::slice::from_ref(raw), None, target)
    }

    /// A pressure-level forecast: `plan` indexes `raw`.
    pub fn levels(raw: &'a [Field2], plan: LevelPlan, target: &Arc<Grid>) -> Self {
        Self::new(raw, Some(plan), target)
    }

    #[cfg(test)]
    fn surface_of_nothing(target: &Arc<Grid>) -> Self {
        Self::new(&[], None, target)
    }

    /// A pressure-level forecast whose `count` stored fields (on `grid`) are handed over one
    /// by one with [`Self::insert`] and dropped with [`Self::release`] when no target level
    /// reads them any more, so that only the levels being worked on are held.
    pub fn levels_to_load(
        grid: &Arc<Grid>,
        count: usize,
        plan: LevelPlan,
        target: &Arc<Grid>,
    ) -> ForecastOnTruth<'static> {
        let mut f = ForecastOnTruth::empty(Some(plan), target);
        f.raw = (0..count).map(|_| None).collect();
        f.plan_for(grid);
        f
    }

    fn new(raw: &'a [Field2], levels: Option<LevelPlan>, target: &Arc<Grid>) -> Self {
        let mut f = Self::empty(levels, target);
        for field in raw {
            let plan = f.plan_for(&field.grid);
            let values = match field.values.as_slice() {
                Some(flat) => Cow::Borrowed(flat),
                None => Cow::Owned(field.values.iter().copied().collect()),
            };
            f.raw.push(Some(RawRows {
                values: Values::Double(values),
                precision: field.precision,
                plan,
            }));
        }
        // A level plan may read no stored level at all (every target outside the stored range).
        if raw.is_empty() && f.levels.is_none() {
            f.plans = Err(InterpError::TooFewPoints {
                dim: "lat",
                points: 0,
            });
        }
        f
    }

    fn empty(levels: Option<LevelPlan>, target: &Arc<Grid>) -> Self {
        let nlon = target.lon.len();
        Self {
            raw: Vec::new(),
            grids: Vec::new(),
            levels,
            plans: Ok(Vec::new()),
            target: Arc::clone(target),
            mid: Vec::new(),
            lo: vec![0.0; nlon],
            hi: vec![0.0; nlon],
        }
    }

    /// The index of `grid`'s plan, planning it when it is new (a grid that cannot be put on
    /// the truth grid makes [`Self::check`] fail).
    fn plan_for(&mut self, grid: &Arc<Grid>) -> usize {
        if let Some(k) = self.grids.iter().position(|g| g == grid) {
            return k;
        }
        self.grids.push(Arc::clone(grid));
        self.mid.resize(self.mid.len().max(grid.lon.len()), 0.0);
        let planned = GridInterp::new(grid, &self.target);
        match (&mut self.plans, planned) {
            (Ok(plans), Ok(plan)) => plans.push(plan),
            (plans @ Ok(_), Err(e)) => *plans = Err(e),
            (Err(_), _) => {}
        }
        self.grids.len() - 1
    }

    /// Hand over stored field `r` (see [`Self::levels_to_load`]).
    pub fn insert(&mut self, r: usize, field: Field2) {
        // Row-major in one pass (an ndarray iterator pushes element by element).
        let flat = field.values.as_standard_layout();
        let flat = flat.as_slice().unwrap_or_default();
        let values = if field.precision == Precision::F32 {
            Values::Single(flat.iter().map(|&v| v as f32).collect())
        } else {
            Values::Double(Cow::Owned(flat.to_vec()))
        };
        self.put(r, &field.grid, values, field.precision);
    }

    /// Hand over stored field `r` read as stored in single precision
    /// ([`crate::zarr::Dataset::read_field_levels_single`]): held as it is.
    pub fn insert_single(&mut self, r: usize, plane: SinglePlane) {
        self.put(r, &plane.grid, Values::Single(plane.values), Precision::F32);
    }

    /// Hold `values` (on `grid`) as stored field `r`; an index outside the plan is ignored.
    fn put(&mut self, r: usize, grid: &Arc<Grid>, values: Values<'a>, precision: Precision) {
        let plan = self.plan_for(grid);
        if let Some(slot) = self.raw.get_mut(r) {
            *slot = Some(RawRows {
                values,
                precision,
                plan,
            });
        }
    }

    /// Drop stored field `r`: its rows read as NaN from now on.
    pub fn release(&mut self, r: usize) {
        if let Some(slot) = self.raw.get_mut(r) {
            *slot = None;
        }
    }

    /// How many stored fields are held now.
    pub fn held(&self) -> usize {
        self.raw.iter().flatten().count()
    }

    /// Whether the forecast can be put on the truth grid (an error names the axis that cannot).
    pub fn check(&self) -> Result<(), InterpError> {
        self.plans.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The truth grid's (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        self.target.shape()
    }

    /// Row `i` of target level `k` (a surface variable: `k` = 0) into `out` (one truth row).
    /// NaN when the level lies outside the stored ones or [`Self::check`] fails.
    pub fn row_into(&mut self, k: usize, i: usize, out: &mut [f64]) {
        let Self {
            raw,
            levels,
            plans,
            mid,
            lo,
            hi,
            ..
        } = self;
        let Ok(plans) = plans else {
            out.fill(f64::NAN);
            return;
        };
        let raw_row = |r: usize, mid: &mut [f64], out: &mut [f64]| match raw
            .get(r)
            .and_then(Option::as_ref)
        {
            Some(raw) => {
                let plan = &plans[raw.plan];
                let mid = &mut mid[..plan.src_shape().1];
                match &raw.values {
                    Values::Double(values) => plan.row_into(values, raw.precision, i, mid, out),
                    Values::Single(values) => plan.row_into(values, raw.precision, i, mid, out),
                }
            }
            None => out.fill(f64::NAN),
        };
        let Some(levels) = levels else {
            raw_row(0, mid, out);
            return;
        };
        let Some(st) = levels.targets.get(k).copied().flatten() else {
            out.fill(f64::NAN);
            return;
        };
        raw_row(st.lo, mid, lo);
        raw_row(st.hi, mid, hi);
        // Stencil::lerp along the level axis, in double precision.
        lerp_rows(out, lo, hi, st.span, st.offset, false, false);
    }

    /// Target level `k` as a whole field (tests and diagnostics; scoring uses [`Self::row_into`]).
    pub fn level(&mut self, k: usize) -> Result<Field2, InterpError> {
        self.check()?;
        let (ni, nj) = self.shape();
        let mut values = Array2::<f64>::zeros((ni, nj));
        for (i, mut row) in values.outer_iter_mut().enumerate() {
            if let Some(row) = row.as_slice_mut() {
                self.row_into(k, i, row);
            }
        }
        Ok(Field2 {
            grid: Arc::clone(&self.target),
            values,
            precision: Precision::F64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regrid::{interp_levels, interp_to_grid};

    /// Row by row equals interpolating whole fields (grid, then level), bit for bit, on an
    /// identical and on a different grid, with the surface and the level plan.
    #[test]
    fn rows_equal_whole_field_interpolation() {
        let src = Arc::new(Grid::new(vec![2.0, 1.0, 0.0], vec![0.0, 1.0, 2.0, 3.0]).unwrap());
        let other = Arc::new(Grid::new(vec![1.5, 0.5], vec![0.5, 1.0, 2.5]).unwrap());
        let raw: Vec<Field2> = (0..3)
            .map(|l| {
                let v = Array2::from_shape_fn((3, 4), |(i, j)| {
                    f64::from((i * 4 + j) as f32 * 1.3 + l as f32 * 7.1)
                });
                Field2::new(Arc::clone(&src), v)
                    .unwrap()
                    .stored_as(Precision::F32)
            })
            .collect();
        let plan = LevelPlan::new(&[1000.0, 500.0, 100.0], &[100.0, 300.0, 1000.0, 5.0]).unwrap();
        for target in [&src, &other] {
            let mut rows = ForecastOnTruth::levels(&raw, plan.clone(), target);
            for (k, st) in plan.targets.iter().enumerate() {
                let got = rows.level(k).unwrap();
                match st {
                    Some(st) => {
                        let lo = interp_to_grid(&raw[st.lo], target).unwrap();
                        let hi = interp_to_grid(&raw[st.hi], target).unwrap();
                        let want = interp_levels(&lo, &hi, st);
                        assert_eq!(got.values, want.values, "level {k}");
                    }
                    None => assert!(got.values.iter().all(|v| v.is_nan())),
                }
            }
            let mut surface = ForecastOnTruth::surface(&raw[1], target);
            let want = interp_to_grid(&raw[1], target).unwrap();
            assert_eq!(surface.level(0).unwrap().values, want.values);
        }
    }

    /// Fields handed over one by one give the rows of the fields given up front, whatever
    /// their memory layout; a released field reads as NaN; a field on another grid is planned
    /// on its own, and one that cannot be interpolated fails the check.
    #[test]
    fn fields_handed_over_one_by_one_give_the_same_rows() {
        let src = Arc::new(Grid::new(vec![2.0, 1.0, 0.0], vec![0.0, 1.0, 2.0, 3.0]).unwrap());
        let target = Arc::new(Grid::new(vec![1.5, 0.5], vec![0.5, 1.0, 2.5]).unwrap());
        // Levels 0 and 1 stored in single precision (held as f32), level 2 in double.
        let raw: Vec<Field2> = (0..3)
            .map(|l| {
                let v = Array2::from_shape_fn((3, 4), |(i, j)| {
                    f64::from((i * 4 + j) as f32 * 1.3 + l as f32)
                });
                let field = Field2::new(Arc::clone(&src), v).unwrap();
                match l {
                    2 => field,
                    _ => field.stored_as(Precision::F32),
                }
            })
            .collect();
        let plan = LevelPlan::new(&[1000.0, 500.0, 100.0], &[1000.0, 300.0, 100.0]).unwrap();
        let mut up_front = ForecastOnTruth::levels(&raw, plan.clone(), &target);
        let mut lazy = ForecastOnTruth::levels_to_load(&src, 3, plan.clone(), &target);
        for (r, field) in raw.iter().enumerate() {
            let mut field = field.clone();
            if r == 1 {
                // Column-major values (not a contiguous row-major slice).
                let t = field.values.t().as_standard_layout().into_owned();
                field.values = t.reversed_axes();
                assert!(field.values.as_slice().is_none());
            }
            if r == 2 {
                // A view that starts inside its buffer.
                let mut wide = Array2::<f64>::zeros((4, 4));
                wide.slice_mut(ndarray::s![1.., ..]).assign(&field.values);
                field.values = wide.slice_move(ndarray::s![1.., ..]);
            }
            lazy.insert(r, field);
        }
        assert_eq!(lazy.held(), 3);
        for k in 0..3 {
            assert_eq!(
                lazy.level(k).unwrap().values,
                up_front.level(k).unwrap().values
            );
        }
        lazy.release(0);
        assert_eq!(lazy.held(), 2);
        assert!(lazy.level(0).unwrap().values.iter().all(|v| v.is_nan()));
        // Out-of-range indices are ignored.
        lazy.release(7);
        lazy.insert(7, raw[0].clone());
        assert_eq!(lazy.held(), 2);
        // Another grid gets its own plan; a grid of one row cannot be interpolated.
        let other = Arc::new(Grid::new(vec![2.0, 0.0], vec![0.0, 3.0]).unwrap());
        let coarse = Field2::new(other, Array2::from_elem((2, 2), 1.0)).unwrap();
        lazy.insert(0, coarse);
        assert!(lazy.check().is_ok());
        let flat = Arc::new(Grid::new(vec![1.0], vec![0.0, 3.0]).unwrap());
        lazy.insert(1, Field2::new(flat, Array2::zeros((1, 2))).unwrap());
        assert!(lazy.check().is_err());
    }

    #[test]
    fn an_uninterpolable_grid_is_reported_by_check_and_rows_are_nan() {
        let one = Arc::new(Grid::new(vec![0.0], vec![0.0, 1.0]).unwrap());
        let target = Arc::new(Grid::new(vec![1.0, 0.0], vec![0.0, 1.0]).unwrap());
        let raw = Field2::new(one, Array2::zeros((1, 2))).unwrap();
        let mut f = ForecastOnTruth::surface(&raw, &target);
        assert_eq!(
            f.check().unwrap_err(),
            InterpError::TooFewPoints {
                dim: "lat",
                points: 1
            }
        );
        let mut row = [0.0; 2];
        f.row_into(0, 0, &mut row);
        assert!(row.iter().all(|v| v.is_nan()));
        assert!(f.level(0).is_err());
        assert!(ForecastOnTruth::surface_of_nothing(&target)
            .check()
            .is_err());
        let mut none = ForecastOnTruth::levels(
            &[],
            LevelPlan {
                targets: vec![None],
            },
            &target,
        );
        assert!(none.check().is_ok());
        assert!(none.level(0).unwrap().values.iter().all(|v| v.is_nan()));
    }
}
