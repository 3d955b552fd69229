//! The ERA5 entry point over stores for one (miner, lead): open the forecast (verify-on-read),
//! ERA5 and the climatology, require the exact valid time, then read and score every variable
//! as one unit of work on up to `config.threads` threads (with more than one, a pressure-level
//! variable whose levels are not in one stored chunk is two units, one per half of its target
//! levels). A unit goes through its target levels in order — the stored forecast levels read as
//! the level needs them ([`super::stored_levels`]: a chunk holding all 13 levels is fetched and
//! decoded once), truth and climatology read level by level, the fused kernel, only the level's
//! statistics kept. The outcomes are combined in configuration order with the error precedence
//! of a sequential read-then-score; once a variable has failed, variables after it are skipped.

use chrono::{DateTime, TimeDelta, Utc};
use gaia_protocol::FrozenManifest;
use serde::{Deserialize, Serialize};

use crate::regrid::{nearest_level, nearest_time};
use crate::zarr::{Climatology, Dataset, OpenOptions, ZarrError};

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::day1::parallel_map;
use crate::field::Field2;
use crate::regrid::{LevelPlan, Stencil};

use super::config::Era5Config;
use super::identity::{identity_error, resolve_name};
use super::kernel::LevelStats;
use super::report::{Era5LeadReport, Era5VariableResult};
use super::stored_levels::StoredLevels;
use super::units::check_units;
use super::variable::{assemble, variable_stats, variable_stats_loading, ForecastOnTruth};
use super::Era5Error;

/// Everything needed to score one miner at one lead against ERA5.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Era5Request {
    /// The miner's forecast store (directory or http(s) URL).
    pub forecast: String,
    /// The ERA5 truth store (holds the valid time).
    pub truth: String,
    /// The WeatherBench2 climatology store.
    pub climatology: String,
    /// Bearer token for the miner's `/forecasts` endpoint.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// The frozen manifest: every forecast key read is verified against it.
    #[serde(default)]
    pub frozen_manifest: Option<FrozenManifest>,
    /// GFS initialisation time of the run.
    pub gfs_init_time: DateTime<Utc>,
    /// Lead time in hours (24, 48, …, 240).
    pub lead_hours: u32,
    /// Settings (defaults = production).
    #[serde(default)]
    pub config: Era5Config,
}

impl std::fmt::Debug for Era5Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Era5Request")
            .field("forecast", &self.forecast)
            .field("truth", &self.truth)
            .field("climatology", &self.climatology)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("gfs_init_time", &self.gfs_init_time)
            .field("lead_hours", &self.lead_hours)
            .finish()
    }
}

impl Era5Request {
    /// `gfs_init_time + lead_hours`.
    pub fn valid_time(&self) -> DateTime<Utc> {
        self.gfs_init_time + TimeDelta::hours(i64::from(self.lead_hours))
    }
}

struct Source {
    ds: Dataset,
    which: &'static str,
    time_index: usize,
    /// Levels in hPa (a coordinate in Pa converted): what the truth is selected by.
    levels: Vec<f64>,
    /// The level coordinate as stored: what a forecast is interpolated from (§12-7).
    stored_levels: Vec<f64>,
}

impl Source {
    fn open(
        location: &str,
        options: &OpenOptions,
        which: &'static str,
        valid: DateTime<Utc>,
    ) -> Result<Self, Era5Error> {
        let read = |source| Era5Error::Read { which, source };
        let ds = Dataset::open(location, options).map_err(read)?;
        let times = ds.times().map_err(read)?;
        let time_index = nearest_time(&times, valid, TimeDelta::zero())
            .map_err(|source| Era5Error::Select { which, source })?;
        let levels = ds.pressure_levels().map_err(read)?.unwrap_or_default();
        let stored_levels = ds.level_coordinate().map_err(read)?.unwrap_or_default();
        Ok(Self {
            ds,
            which,
            time_index,
            levels,
            stored_levels,
        })
    }

    /// The array that holds `var` in this store (§12-13: the first accepted name present).
    fn array_name(&self, var: &str) -> Option<String> {
        resolve_name(var, &self.ds.variable_names())
    }

    fn has(&self, var: &str) -> bool {
        self.array_name(var).is_some()
    }

    fn units(&self, var: &str) -> Option<String> {
        self.ds.units(&self.array_name(var)?)
    }

    fn read_err(&self) -> impl Fn(ZarrError) -> Era5Error {
        let which = self.which;
        move |source| Era5Error::Read { which, source }
    }

    /// §12-14 and §12-15 on this store's array of `var`: its GRIB identity, then its units.
    fn check_identity(&self, var: &str) -> Result<(), Era5Error> {
        let which = self.which;
        let Some(name) = self.array_name(var) else {
            return Ok(());
        };
        let attrs = self.ds.array(&name).map_err(self.read_err())?.attrs.clone();
        if let Some(reason) = identity_error(var, &attrs) {
            return Err(Era5Error::WrongVariable { which, reason });
        }
        if let Err(expected) = check_units(var, self.units(var).as_deref()) {
            return Err(Era5Error::WrongUnits {
                which,
                variable: var.to_string(),
                found: self.units(var).unwrap_or_default(),
                expected,
            });
        }
        Ok(())
    }

    fn name_of(&self, var: &str) -> Result<String, Era5Error> {
        self.array_name(var)
            .ok_or_else(|| Era5Error::MissingVariable {
                variable: var.to_string(),
                which: self.which,
            })
    }

    /// The field of `var` at `level` hPa exactly (the truth).
    fn field(&self, var: &str, level: Option<f64>) -> Result<Field2, Era5Error> {
        let which = self.which;
        let name = self.name_of(var)?;
        let level_index = match level {
            None => None,
            Some(l) => Some(
                nearest_level(&self.levels, l, 0.0)
                    .map_err(|source| Era5Error::Select { which, source })?,
            ),
        };
        self.ds
            .read_field(&name, self.time_index, level_index)
            .map_err(self.read_err())
    }
}

/// One variable, or a part of its target levels, to read and score.
struct Unit<'a> {
    /// The variable's position in the configuration.
    index: usize,
    var: &'a str,
    /// The variable's target levels in hPa; `[None]` for a surface variable.
    levels: Vec<Option<f64>>,
    /// The target levels (indices into `levels`) this unit scores.
    part: Range<usize>,
}

struct Inputs<'a> {
    forecast: &'a Source,
    truth: &'a Source,
    clim: &'a Climatology,
    valid: DateTime<Utc>,
    config: &'a Era5Config,
}

/// `plan` with its indices moved from stored levels to positions in `needed`.
fn plan_over(plan: LevelPlan, needed: &[usize]) -> LevelPlan {
    let at = |i: usize| needed.iter().position(|&n| n == i).unwrap_or(usize::MAX);
    LevelPlan {
        targets: plan
            .targets
            .into_iter()
            .map(|st| {
                st.map(|st| Stencil {
                    lo: at(st.lo),
                    hi: at(st.hi),
                    ..st
                })
            })
            .collect(),
    }
}

impl Inputs<'_> {
    fn truth_and_climatology(
        &self,
        var: &str,
        level: Option<f64>,
    ) -> Result<(Field2, Field2), Era5Error> {
        let truth = self.truth.field(var, level)?;
        let climatology =
            self.clim
                .field(var, level, self.valid)
                .map_err(|source| Era5Error::Read {
                    which: "climatology",
                    source,
                })?;
        Ok((truth, climatology))
    }

    /// The statistics of the unit's target levels.
    fn stats(&self, unit: &Unit<'_>) -> Result<Vec<LevelStats>, Era5Error> {
        let var = unit.var;
        let target = self.truth.ds.grid().map_err(self.truth.read_err())?;
        let interp = |source| Era5Error::Interp {
            variable: var.to_string(),
            source,
        };
        let levels = unit.levels.get(unit.part.clone()).unwrap_or_default();
        let truth_and_climatology = |k: usize| self.truth_and_climatology(var, levels[k]);
        if levels.first().is_some_and(Option::is_none) {
            let raw = self.forecast.field(var, None)?;
            let mut forecast = ForecastOnTruth::surface(&raw, &target);
            return variable_stats(
                var,
                &mut forecast,
                levels,
                truth_and_climatology,
                self.config,
            );
        }
        let targets: Vec<f64> = levels.iter().flatten().copied().collect();
        let plan = LevelPlan::new(&self.forecast.stored_levels, &targets).map_err(interp)?;
        let needed = plan.needed();
        let plan = plan_over(plan, &needed);
        let source = self.forecast;
        let name = source.name_of(var)?;
        let grid = source.ds.grid().map_err(source.read_err())?;
        let mut stored =
            StoredLevels::new(&source.ds, name, source.time_index, needed.clone(), &plan)
                .map_err(source.read_err())?;
        let mut forecast = ForecastOnTruth::levels_to_load(&grid, needed.len(), plan, &target);
        variable_stats_loading(
            var,
            &mut forecast,
            levels,
            |f, k| stored.load(f, k),
            truth_and_climatology,
            self.config,
        )
    }

    /// A variable's result from the statistics of all its target levels.
    fn result(
        &self,
        unit: &Unit<'_>,
        stats: Result<Vec<LevelStats>, Era5Error>,
    ) -> Result<Era5VariableResult, Era5Error> {
        // A forecast read fails the miner whatever the variable's other checks say, as when the
        // whole forecast was read before anything else.
        let stats = match stats {
            Err(e) if is_forecast_read(&e) => return Err(e),
            other => other,
        };
        assemble(
            unit.var,
            self.forecast.units(unit.var),
            self.truth.units(unit.var),
            &unit.levels,
            Some(stats),
            self.config,
        )
    }

    /// Whether a unit may be split in two parts of its target levels scored on their own:
    /// with more than one thread, a pressure-level variable whose stored levels are not all in
    /// one chunk (a part re-reads only the stored level the two parts share; production
    /// miners' 13-level chunks are not split, as each part would decode the whole chunk).
    fn splits(&self, var: &str, levels: usize) -> bool {
        let Some(name) = self.forecast.array_name(var) else {
            return false;
        };
        let all: Vec<usize> = (0..self.forecast.stored_levels.len()).collect();
        self.config.threads > 1
            && levels >= 2
            && self
                .forecast
                .ds
                .level_read_groups(&name, &all)
                .is_ok_and(|groups| groups.len() > 1)
    }
}

fn is_forecast_read(e: &Era5Error) -> bool {
    matches!(
        e,
        Era5Error::Read {
            which: "forecast",
            ..
        }
    )
}

/// The statistics of a variable from those of its parts (in level order): a forecast read
/// error in any part is the variable's (the whole forecast used to be read first), else the
/// first failure in level order.
fn combine_parts(
    parts: Vec<Result<Vec<LevelStats>, Era5Error>>,
) -> Result<Vec<LevelStats>, Era5Error> {
    let mut first = None;
    let mut all = Vec::new();
    for part in parts {
        match part {
            Err(e) if is_forecast_read(&e) => return Err(e),
            Err(e) => {
                first.get_or_insert(e);
            }
            Ok(stats) => all.extend(stats),
        }
    }
    first.map_or(Ok(all), Err)
}

/// Score one (miner, lead) against ERA5. Any error fails the miner for this lead (among them an
/// array whose GRIB attributes or units say it is something else, §12-14/15); a variable's own
/// problem (a NaN level ACC) is in that variable's `error`.
pub fn score_era5_lead(request: &Era5Request) -> Result<Era5LeadReport, Era5Error> {
    let config = &request.config;
    let valid = request.valid_time();
    let miner = OpenOptions {
        bearer_token: request.bearer_token.clone(),
        verify: request.frozen_manifest.clone(),
        requests_per_minute: config.miner_requests_per_minute,
        download_deadline: crate::zarr::deadline(config.miner_download_deadline_s),
        ..OpenOptions::default()
    };
    let plain = OpenOptions::default();
    let forecast = Source::open(&request.forecast, &miner, "forecast", valid)?;
    let truth = Source::open(&request.truth, &plain, "truth", valid)?;
    let clim =
        Climatology::open(&request.climatology, &plain).map_err(|source| Era5Error::Read {
            which: "climatology",
            source,
        })?;

    let wanted: Vec<(&String, bool)> = config
        .surface_variables
        .iter()
        .map(|v| (v, false))
        .chain(config.atmospheric_variables.iter().map(|v| (v, true)))
        .collect();
    // Completeness first: a missing variable fails the whole miner before any data is read.
    for (var, _) in &wanted {
        for src in [&forecast, &truth] {
            if !src.has(var) {
                return Err(Era5Error::MissingVariable {
                    variable: var.to_string(),
                    which: src.which,
                });
            }
        }
    }
    // §12-14/15: an array that says it is another quantity, or is in another unit, fails the
    // lead before any data is read.
    for (var, _) in &wanted {
        for src in [&forecast, &truth] {
            src.check_identity(var)?;
        }
    }
    let inputs = Inputs {
        forecast: &forecast,
        truth: &truth,
        clim: &clim,
        valid,
        config,
    };
    let mut units: Vec<Unit<'_>> = Vec::new();
    for (index, (var, atmospheric)) in wanted.iter().enumerate() {
        let levels: Vec<Option<f64>> = if *atmospheric {
            config.levels_hpa.iter().map(|&l| Some(l)).collect()
        } else {
            vec![None]
        };
        let n = levels.len();
        // Two parts of a variable's levels on two threads balance 5 pressure-level variables
        // and 4 surface ones (one part each: 39 of 69 level-units on one thread, ~35 split).
        let half = if *atmospheric && inputs.splits(var, n) {
            n.div_ceil(2)
        } else {
            n
        };
        for part in [0..half, half..n].into_iter().filter(|p| !p.is_empty()) {
            units.push(Unit {
                index,
                var: var.as_str(),
                levels: levels.clone(),
                part,
            });
        }
    }
    // The costly units first, so that the threads finish together; the results are put back
    // in configuration order.
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(units[i].part.len()));
    let scheduled: Vec<&Unit<'_>> = order.iter().map(|&i| &units[i]).collect();
    // Variables after a failed one cannot change the outcome (the first failure in
    // configuration order is the result).
    let cutoff = AtomicUsize::new(usize::MAX);
    let done = parallel_map(&scheduled, config.threads, |unit| {
        if unit.index > cutoff.load(Ordering::Relaxed) {
            return None;
        }
        let outcome = inputs.stats(unit);
        if outcome.is_err() {
            cutoff.fetch_min(unit.index, Ordering::Relaxed);
        }
        Some(outcome)
    });
    let mut outcomes: Vec<Option<Result<Vec<LevelStats>, Era5Error>>> =
        (0..units.len()).map(|_| None).collect();
    for (&i, outcome) in order.iter().zip(done) {
        outcomes[i] = outcome;
    }
    let mut variables = Vec::with_capacity(wanted.len());
    let mut outcomes = units.iter().zip(outcomes).peekable();
    while let Some((unit, outcome)) = outcomes.next() {
        // A skipped unit comes after a failed variable; run it only if the failure vanished.
        let mut parts = vec![outcome.unwrap_or_else(|| inputs.stats(unit))];
        while let Some((part, outcome)) = outcomes.next_if(|(next, _)| next.index == unit.index) {
            parts.push(outcome.unwrap_or_else(|| inputs.stats(part)));
        }
        variables.push(inputs.result(unit, combine_parts(parts))?);
    }
    Ok(Era5LeadReport {
        lead_hours: request.lead_hours,
        valid_time: valid,
        variables,
        transfer: forecast.ds.transfer(),
    })
}
