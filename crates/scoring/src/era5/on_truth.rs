//! A variable's forecast on the truth grid and levels (spec §12-6/7): latitude, longitude, then
//! the pressure level, always interpolating, one target level at a time. Each stored level is put
//! on the grid once, when the first target level needs it, and dropped after the last one that
//! reads it, so at most the plan's window of levels is held besides the raw fields.

use std::sync::Arc;

use crate::field::{Field2, Grid};
use crate::regrid::{interp_levels, interp_to_grid, missing_level, InterpError, LevelPlan};

/// A variable's forecast put on the truth grid and levels, one target level at a time.
pub struct ForecastOnTruth<'a> {
    /// The stored fields the plan reads (surface: the one field).
    raw: &'a [Field2],
    /// How each target level is made from `raw` (indices into `raw`); `None` for a surface
    /// variable.
    plan: Option<LevelPlan>,
    target: Arc<Grid>,
    /// `raw[i]` on the target lat/lon grid, while a later target level still needs it.
    on_grid: Vec<Option<Field2>>,
    /// The last target level that reads `raw[i]`.
    last_use: Vec<Option<usize>>,
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

    fn new(raw: &'a [Field2], plan: Option<LevelPlan>, target: &Arc<Grid>) -> Self {
        let mut last_use = vec![None; raw.len()];
        if let Some(plan) = &plan {
            for (k, st) in plan.targets.iter().enumerate() {
                for i in st.iter().flat_map(|st| [st.lo, st.hi]) {
                    if let Some(slot) = last_use.get_mut(i) {
                        *slot = Some(k);
                    }
                }
            }
        }
        Self {
            raw,
            plan,
            target: Arc::clone(target),
            on_grid: vec![None; raw.len()],
            last_use,
        }
    }

    fn raw_on_grid(&mut self, i: usize) -> Result<(), InterpError> {
        if self.on_grid[i].is_none() {
            let raw = self.raw.get(i).ok_or(InterpError::TooFewPoints {
                dim: "level",
                points: self.raw.len(),
            })?;
            self.on_grid[i] = Some(interp_to_grid(raw, &self.target)?);
        }
        Ok(())
    }

    /// The forecast at target level `k` on the truth grid (for a surface variable, `k` = 0).
    pub fn level(&mut self, k: usize) -> Result<Field2, InterpError> {
        let Some(plan) = &self.plan else {
            return self
                .raw
                .first()
                .ok_or(InterpError::TooFewPoints {
                    dim: "lat",
                    points: 0,
                })
                .and_then(|raw| interp_to_grid(raw, &self.target));
        };
        let Some(st) = plan.targets.get(k).copied().flatten() else {
            return Ok(missing_level(&self.target));
        };
        self.raw_on_grid(st.lo)?;
        self.raw_on_grid(st.hi)?;
        let out = match (&self.on_grid[st.lo], &self.on_grid[st.hi]) {
            (Some(lo), Some(hi)) => interp_levels(lo, hi, &st),
            _ => missing_level(&self.target),
        };
        for (slot, last) in self.on_grid.iter_mut().zip(&self.last_use) {
            if last.is_some_and(|last| last <= k) {
                *slot = None;
            }
        }
        Ok(out)
    }
}
