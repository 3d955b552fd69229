//! Interpolation along the pressure-level axis (spec §12-7): the ERA5 score interpolates a
//! miner's pressure-level field onto the truth's levels with the same interp1d rule as latitude
//! and longitude, after those two passes (the order of a Zarr store's coordinates: `lat`, `lon`,
//! then the level), so in double precision. On identical levels every level but the first reads
//! the level below it in pressure, and the first reads the second: a NaN at one level reaches the
//! next level too. A level missing from the store is interpolated linearly in pressure; target
//! levels outside the store's range (levels given in Pa, say) come out all-NaN.

use std::sync::Arc;

use ndarray::{Array2, Zip};

use super::interp::{stencils, InterpError, Stencil};
use crate::field::{Field2, Precision};

/// Which stored levels make each target level.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelPlan {
    /// Per target level: the interval, with `lo`/`hi` as indices into the store's level axis;
    /// `None` when the target lies outside the stored levels.
    pub targets: Vec<Option<Stencil>>,
}

impl LevelPlan {
    /// Plan the interpolation of `targets` (hPa) from a store whose level axis holds
    /// `store_levels` (in store order, any direction).
    pub fn new(store_levels: &[f64], targets: &[f64]) -> Result<Self, InterpError> {
        if store_levels.len() < 2 {
            return Err(InterpError::TooFewPoints {
                dim: "level",
                points: store_levels.len(),
            });
        }
        // interp1d sorts the source ascending (a stable sort).
        let mut order: Vec<usize> = (0..store_levels.len()).collect();
        order.sort_by(|&a, &b| store_levels[a].total_cmp(&store_levels[b]));
        let ascending: Vec<f64> = order.iter().map(|&i| store_levels[i]).collect();
        let targets = stencils(&ascending, targets)
            .into_iter()
            .map(|st| {
                st.map(|st| Stencil {
                    lo: order[st.lo],
                    hi: order[st.hi],
                    ..st
                })
            })
            .collect();
        Ok(Self { targets })
    }

    /// The store level indices the plan reads, ascending, each once.
    pub fn needed(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .targets
            .iter()
            .flatten()
            .flat_map(|st| [st.lo, st.hi])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// One target level from its two stored levels, both already on the target lat/lon grid.
pub fn interp_levels(lo: &Field2, hi: &Field2, st: &Stencil) -> Field2 {
    let mut values = Array2::<f64>::zeros(lo.values.dim());
    Zip::from(&mut values)
        .and(&lo.values)
        .and(&hi.values)
        .for_each(|out, &a, &b| *out = st.lerp(a, b));
    Field2 {
        grid: Arc::clone(&lo.grid),
        values,
        precision: Precision::F64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Grid;
    use ndarray::array;

    fn field(v: f64, nan_at: Option<(usize, usize)>) -> Field2 {
        let g = Arc::new(Grid::new(vec![1.0, 0.0], vec![0.0, 1.0]).unwrap());
        let mut values = Array2::from_elem((2, 2), v);
        if let Some(ix) = nan_at {
            values[ix] = f64::NAN;
        }
        Field2::new(g, values).unwrap()
    }

    #[test]
    fn identical_levels_read_the_level_below_and_the_first_reads_the_second() {
        // Store order descending in pressure: 1000, 500, 100.
        let plan = LevelPlan::new(&[1000.0, 500.0, 100.0], &[100.0, 500.0, 1000.0]).unwrap();
        let [a, b, c] = [&plan.targets[0], &plan.targets[1], &plan.targets[2]].map(|s| s.unwrap());
        assert_eq!((a.lo, a.hi, a.offset), (2, 1, 0.0));
        assert_eq!((b.lo, b.hi, b.offset, b.span), (2, 1, 400.0, 400.0));
        assert_eq!((c.lo, c.hi, c.offset, c.span), (1, 0, 500.0, 500.0));
        assert_eq!(plan.needed(), vec![0, 1, 2]);
        // A NaN at 500 hPa reaches 500 and 1000 (which reads 500), and 100 reads 500 too.
        let levels = [field(1.0, None), field(2.0, Some((0, 0))), field(3.0, None)];
        for st in [a, b, c] {
            let out = interp_levels(&levels[st.lo], &levels[st.hi], &st);
            assert!(out.values[[0, 0]].is_nan());
            assert!(!out.values[[1, 1]].is_nan());
        }
        let mid = interp_levels(&levels[b.lo], &levels[b.hi], &b);
        assert_eq!(mid.values[[1, 1]], 2.0);
    }

    #[test]
    fn a_missing_level_is_linear_in_pressure_and_out_of_range_is_none() {
        let plan = LevelPlan::new(&[100.0, 300.0], &[200.0, 50.0, 50000.0]).unwrap();
        let st = plan.targets[0].unwrap();
        let out = interp_levels(&field(10.0, None), &field(20.0, None), &st);
        assert_eq!(out.values, array![[15.0, 15.0], [15.0, 15.0]]);
        assert_eq!(plan.targets[1], None);
        assert_eq!(plan.targets[2], None);
        assert_eq!(
            LevelPlan::new(&[500.0], &[500.0]).unwrap_err(),
            InterpError::TooFewPoints {
                dim: "level",
                points: 1
            }
        );
    }
}
