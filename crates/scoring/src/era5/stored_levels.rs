//! The forecast's stored levels of one variable, read group by group as the target levels need
//! them and dropped when no later target level reads them.
//!
//! Reading all 13 stored levels before the first target level held 108 MB per variable at
//! 0.25° and let them go cold in the cache before the kernel streamed them; read just before
//! use, a level is still in cache when the kernel interpolates it and the process holds two or
//! three levels instead of thirteen (docs/scoring.md). A group is what one subset read decodes
//! ([`Dataset::level_read_groups`]): one level for a store with one level per chunk, all of
//! them for production miners' 13-level chunks — those are still fetched and decoded once.
//!
//! Errors keep the order of reading the whole forecast first: a failed read reports the first
//! group, in stored order, that fails; after a failure elsewhere (a truth read, a check, the
//! kernel) the groups not yet read are read, and a read error among them is the variable's.

use crate::regrid::LevelPlan;
use crate::zarr::{Dataset, ZarrError};

use super::on_truth::ForecastOnTruth;
use super::Era5Error;

/// Reads the stored levels of one variable for [`super::variable::variable_stats_loading`].
pub struct StoredLevels<'a> {
    ds: &'a Dataset,
    /// The forecast's array name.
    name: String,
    time_index: usize,
    /// Stored level indices, by position in the forecast's level list (the plan's indices).
    needed: Vec<usize>,
    /// Read groups of positions, in stored order, and whether each has been read.
    groups: Vec<(Vec<usize>, bool)>,
    /// Per position: the last target level that reads it.
    last_use: Vec<Option<usize>>,
    /// Per target level: the positions it reads.
    reads: Vec<Vec<usize>>,
}

impl<'a> StoredLevels<'a> {
    /// The stored levels `needed` (the plan's positions index it) of array `name`.
    pub fn new(
        ds: &'a Dataset,
        name: String,
        time_index: usize,
        needed: Vec<usize>,
        plan: &LevelPlan,
    ) -> Result<Self, ZarrError> {
        let position = |stored: usize| needed.iter().position(|&n| n == stored);
        let groups = ds
            .level_read_groups(&name, &needed)?
            .into_iter()
            .map(|group| (group.into_iter().filter_map(position).collect(), false))
            .collect();
        let reads: Vec<Vec<usize>> = plan
            .targets
            .iter()
            .map(|st| st.map(|st| vec![st.lo, st.hi]).unwrap_or_default())
            .collect();
        let mut last_use = vec![None; needed.len()];
        for (k, positions) in reads.iter().enumerate() {
            for &p in positions {
                if let Some(slot) = last_use.get_mut(p) {
                    *slot = Some(k);
                }
            }
        }
        Ok(Self {
            ds,
            name,
            time_index,
            needed,
            groups,
            last_use,
            reads,
        })
    }

    /// Read group `g` into `forecast` (`None`: read and drop it). A `float32` array's levels
    /// are read as stored, without widening to `f64` ([`Dataset::read_field_levels_single`]).
    fn read_group(
        &mut self,
        g: usize,
        forecast: Option<&mut ForecastOnTruth<'_>>,
    ) -> Result<(), Era5Error> {
        let positions = self.groups[g].0.clone();
        self.groups[g].1 = true;
        let stored: Vec<usize> = positions.iter().map(|&p| self.needed[p]).collect();
        let read = |source| Era5Error::Read {
            which: "forecast",
            source,
        };
        let single = self
            .ds
            .read_field_levels_single(&self.name, self.time_index, &stored)
            .map_err(read)?;
        let Some(single) = single else {
            let fields = self
                .ds
                .read_field_levels(&self.name, self.time_index, &stored)
                .map_err(read)?;
            if let Some(forecast) = forecast {
                for (p, field) in positions.into_iter().zip(fields) {
                    forecast.insert(p, field);
                }
            }
            return Ok(());
        };
        if let Some(forecast) = forecast {
            for (p, plane) in positions.into_iter().zip(single) {
                forecast.insert_single(p, plane);
            }
        }
        Ok(())
    }

    /// The first error of reading the groups before `g` not read yet, in stored order.
    fn earlier_error(&mut self, g: usize) -> Option<Era5Error> {
        let unread: Vec<usize> = (0..g).filter(|&e| !self.groups[e].1).collect();
        unread
            .into_iter()
            .find_map(|e| self.read_group(e, None).err())
    }

    /// `Some(k)`: drop the levels no target from `k` on reads, then read the groups target `k`
    /// needs into `forecast`. `None`: read every group not read yet (and drop it).
    pub fn load(
        &mut self,
        forecast: &mut ForecastOnTruth<'_>,
        target: Option<usize>,
    ) -> Result<(), Era5Error> {
        let Some(k) = target else {
            let rest = self.groups.len();
            return self.earlier_error(rest).map_or(Ok(()), Err);
        };
        for (p, last) in self.last_use.iter().enumerate() {
            if last.is_some_and(|last| last < k) {
                forecast.release(p);
            }
        }
        let wanted = self.reads.get(k).cloned().unwrap_or_default();
        for p in wanted {
            let Some(g) = self.groups.iter().position(|(group, _)| group.contains(&p)) else {
                continue;
            };
            if self.groups[g].1 {
                continue;
            }
            if let Err(e) = self.read_group(g, Some(forecast)) {
                return Err(self.earlier_error(g).unwrap_or(e));
            }
        }
        Ok(())
    }
}
