//! The ERA5 entry point over stores for one (miner, lead): open the forecast (verify-on-read),
//! ERA5 and the climatology, require the exact valid time and every level, then read and score
//! every (variable, level) as one unit of work on up to `config.threads` threads. A unit reads
//! its three fields, runs the fused kernel and keeps only the level's statistics, so at most
//! `threads` levels are held in memory. The units' outcomes are then combined per variable, in
//! configuration order, with the same error precedence as a sequential read-then-score of each
//! variable; once a unit has failed, units that can no longer change the outcome are skipped.

use chrono::{DateTime, TimeDelta, Utc};
use gaia_protocol::FrozenManifest;
use serde::{Deserialize, Serialize};

use crate::regrid::{nearest_level, nearest_time};
use crate::zarr::{Climatology, Dataset, OpenOptions, ZarrError};

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::day1::parallel_map;

use super::config::Era5Config;
use super::identity::{identity_error, resolve_name};
use super::kernel::LevelStats;
use super::report::{Era5LeadReport, Era5VariableResult};
use super::units::check_units;
use super::variable::{assemble, level_outcome, units_error, Era5LevelFields};
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
    levels: Vec<f64>,
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
        Ok(Self {
            ds,
            which,
            time_index,
            levels,
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

    /// §12-14 and §12-15 on this store's array of `var`: its GRIB identity, then its units.
    fn check_identity(&self, var: &str) -> Result<(), Era5Error> {
        let which = self.which;
        let Some(name) = self.array_name(var) else {
            return Ok(());
        };
        let attrs = self
            .ds
            .array(&name)
            .map_err(|source| Era5Error::Read { which, source })?
            .attrs
            .clone();
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

    fn field(&self, var: &str, level: Option<f64>) -> Result<crate::Field2, Era5Error> {
        let which = self.which;
        let name = self
            .array_name(var)
            .ok_or_else(|| Era5Error::MissingVariable {
                variable: var.to_string(),
                which,
            })?;
        let level_index = match level {
            None => None,
            Some(l) => Some(
                nearest_level(&self.levels, l, 0.0)
                    .map_err(|source| Era5Error::Select { which, source })?,
            ),
        };
        self.ds
            .read_field(&name, self.time_index, level_index)
            .map_err(|source: ZarrError| Era5Error::Read { which, source })
    }
}

/// One (variable, level) to read and score.
struct Unit<'a> {
    index: usize,
    /// Index of the last unit of the same variable.
    last_of_variable: usize,
    var: &'a str,
    level: Option<f64>,
    /// False when the variable's units are wrong: read (for the read errors) but do not score.
    compute: bool,
}

enum UnitOutcome {
    /// Not run: an earlier unit already decided the result.
    Skipped,
    /// Reading one of the three fields failed.
    ReadFailed(Era5Error),
    /// Read; the level's statistics when computed.
    Done(Option<Result<LevelStats, Era5Error>>),
}

struct Inputs<'a> {
    forecast: &'a Source,
    truth: &'a Source,
    clim: &'a Climatology,
    valid: DateTime<Utc>,
    config: &'a Era5Config,
}

impl Inputs<'_> {
    fn read(&self, var: &str, level: Option<f64>) -> Result<Era5LevelFields, Era5Error> {
        Ok(Era5LevelFields {
            level_hpa: level,
            forecast: self.forecast.field(var, level)?,
            truth: self.truth.field(var, level)?,
            climatology: self.clim.field(var, level, self.valid).map_err(|source| {
                Era5Error::Read {
                    which: "climatology",
                    source,
                }
            })?,
        })
    }

    fn run(&self, unit: &Unit<'_>) -> UnitOutcome {
        match self.read(unit.var, unit.level) {
            Err(e) => UnitOutcome::ReadFailed(e),
            Ok(fields) => UnitOutcome::Done(
                unit.compute
                    .then(|| level_outcome(unit.var, &fields, self.config)),
            ),
        }
    }
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
    struct Var<'a> {
        name: &'a str,
        levels: Vec<Option<f64>>,
        units: (Option<String>, Option<String>),
        first_unit: usize,
    }
    let mut vars = Vec::with_capacity(wanted.len());
    let mut units = Vec::new();
    for (var, atmospheric) in wanted {
        let levels: Vec<Option<f64>> = if atmospheric {
            config.levels_hpa.iter().map(|&l| Some(l)).collect()
        } else {
            vec![None]
        };
        let (fu, tu) = (forecast.units(var), truth.units(var));
        let compute = units_error(var, fu.as_deref(), tu.as_deref()).is_none();
        let first_unit = units.len();
        let last_of_variable = first_unit + levels.len().max(1) - 1;
        for &level in &levels {
            units.push(Unit {
                index: units.len(),
                last_of_variable,
                var,
                level,
                compute,
            });
        }
        vars.push(Var {
            name: var,
            levels,
            units: (fu, tu),
            first_unit,
        });
    }
    let inputs = Inputs {
        forecast: &forecast,
        truth: &truth,
        clim: &clim,
        valid,
        config,
    };
    // Units after `cutoff` cannot change the outcome: a read failure decides its variable at that
    // level, a scoring failure once the whole variable has been read.
    let cutoff = AtomicUsize::new(usize::MAX);
    let mut outcomes = parallel_map(&units, config.threads, |unit| {
        if unit.index > cutoff.load(Ordering::Relaxed) {
            return UnitOutcome::Skipped;
        }
        let outcome = inputs.run(unit);
        match &outcome {
            UnitOutcome::ReadFailed(_) => {
                cutoff.fetch_min(unit.index, Ordering::Relaxed);
            }
            UnitOutcome::Done(Some(Err(_))) => {
                cutoff.fetch_min(unit.last_of_variable, Ordering::Relaxed);
            }
            _ => {}
        }
        outcome
    })
    .into_iter();

    let mut variables: Vec<Era5VariableResult> = Vec::with_capacity(vars.len());
    for var in vars {
        let mut level_outcomes = Vec::with_capacity(var.levels.len());
        for k in 0..var.levels.len() {
            let outcome = match outcomes.next() {
                Some(UnitOutcome::Skipped) | None => inputs.run(&units[var.first_unit + k]),
                Some(o) => o,
            };
            match outcome {
                UnitOutcome::ReadFailed(e) => return Err(e),
                UnitOutcome::Done(stats) => level_outcomes.push(stats),
                UnitOutcome::Skipped => unreachable!("a unit run inline is never skipped"),
            }
        }
        variables.push(assemble(
            var.name,
            var.units.0,
            var.units.1,
            &var.levels,
            level_outcomes,
            config,
        )?);
    }
    Ok(Era5LeadReport {
        lead_hours: request.lead_hours,
        valid_time: valid,
        variables,
    })
}
