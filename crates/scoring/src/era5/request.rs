//! The ERA5 entry point over stores for one (miner, lead): open the forecast (verify-on-read),
//! ERA5 and the climatology, require the exact valid time and every level, then score the
//! variables one at a time (so at most one variable's levels are held in memory).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::regrid::{nearest_level, nearest_time};
use crate::verify::FrozenManifest;
use crate::zarr::{Climatology, Dataset, OpenOptions, ZarrError};

use super::config::Era5Config;
use super::report::{Era5LeadReport, Era5VariableResult};
use super::variable::{score_era5_variable, Era5LevelFields, Era5VariableInput};
use super::Era5Error;

/// Everything needed to score one miner at one lead against ERA5.
#[derive(Clone, Serialize, Deserialize)]
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

    fn has(&self, var: &str) -> bool {
        self.ds.variable_names().iter().any(|n| n == var)
    }

    fn field(&self, var: &str, level: Option<f64>) -> Result<crate::Field2, Era5Error> {
        let which = self.which;
        let level_index = match level {
            None => None,
            Some(l) => Some(
                nearest_level(&self.levels, l, 0.0)
                    .map_err(|source| Era5Error::Select { which, source })?,
            ),
        };
        self.ds
            .read_field(var, self.time_index, level_index)
            .map_err(|source: ZarrError| Era5Error::Read { which, source })
    }
}

/// Score one (miner, lead) against ERA5. Any error fails the miner for this lead; a variable's
/// own problem (unit mismatch, NaN level ACC) is in that variable's `error`.
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
    let mut variables: Vec<Era5VariableResult> = Vec::with_capacity(wanted.len());
    for (var, atmospheric) in wanted {
        let levels: Vec<Option<f64>> = if atmospheric {
            config.levels_hpa.iter().map(|&l| Some(l)).collect()
        } else {
            vec![None]
        };
        let mut fields = Vec::with_capacity(levels.len());
        for level in levels {
            fields.push(Era5LevelFields {
                level_hpa: level,
                forecast: forecast.field(var, level)?,
                truth: truth.field(var, level)?,
                climatology: clim
                    .field(var, level, valid)
                    .map_err(|source| Era5Error::Read {
                        which: "climatology",
                        source,
                    })?,
            });
        }
        let input = Era5VariableInput {
            variable: var.clone(),
            forecast_units: forecast.ds.units(var),
            truth_units: truth.ds.units(var),
            levels: fields,
        };
        variables.push(score_era5_variable(&input, config)?);
    }
    Ok(Era5LeadReport {
        lead_hours: request.lead_hours,
        valid_time: valid,
        variables,
    })
}
