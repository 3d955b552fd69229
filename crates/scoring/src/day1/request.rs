//! The Day-1 entry point over stores: open the forecast (verify-on-read with the frozen
//! manifest), the GFS truth and reference and the climatology, select the valid time and levels
//! with the production tolerances, read the fields and score them.
//!
//! The request is a serde struct so the IO-Engine can send it as a work-unit payload.

use chrono::{DateTime, TimeDelta, Utc};
use gaia_protocol::FrozenManifest;
use serde::{Deserialize, Serialize};

use crate::metrics::nan_sum_count_2d;
use crate::regrid::{nearest_level, nearest_time};
use crate::zarr::{deadline, Climatology, Dataset, OpenOptions, ZarrError};

use super::config::{Day1Config, VariableSpec};
use super::report::Day1Report;
use super::report::Day1VariableResult;
use super::score::aggregate;
use super::variable::{score_variable, Day1Fields};
use super::Day1Error;

fn default_lead() -> f64 {
    12.0
}

/// Everything needed to compute one miner's Day-1 score.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Day1Request {
    /// The miner's forecast store (directory or http(s) URL).
    pub forecast: String,
    /// The GFS analysis store (truth).
    pub truth: String,
    /// The GFS 00Z forecast store (reference).
    pub reference: String,
    /// The WeatherBench2 climatology store.
    pub climatology: String,
    /// Bearer token for the miner's `/forecasts` endpoint (forecast store only).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// The frozen manifest: every forecast key read is verified against it.
    #[serde(default)]
    pub frozen_manifest: Option<FrozenManifest>,
    /// The GFS initialisation time of the run (00Z).
    pub gfs_init_time: DateTime<Utc>,
    /// Lead time in hours (production: 12).
    #[serde(default = "default_lead")]
    pub lead_hours: f64,
    /// Valid time; defaults to `gfs_init_time + lead_hours`.
    #[serde(default)]
    pub valid_time: Option<DateTime<Utc>>,
    /// Settings (defaults = production).
    #[serde(default)]
    pub config: Day1Config,
    /// Variables read and scored concurrently (1 = sequential; a compute worker on a 2-core
    /// box should use at most cores ÷ workers).
    #[serde(default = "one")]
    pub threads: usize,
    /// Request budget for the miner's store per minute (production miners allow 500).
    #[serde(default = "default_budget")]
    pub miner_requests_per_minute: u32,
    /// Seconds all reads of the miner's store may take together (0: no deadline, only the
    /// per-request timeout); well below the job's timeout.
    #[serde(default = "default_deadline")]
    pub miner_download_deadline_s: u64,
}

fn default_deadline() -> u64 {
    crate::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs()
}

fn one() -> usize {
    1
}

fn default_budget() -> u32 {
    crate::zarr::DEFAULT_REQUESTS_PER_MINUTE
}

impl std::fmt::Debug for Day1Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Day1Request")
            .field("forecast", &self.forecast)
            .field("truth", &self.truth)
            .field("reference", &self.reference)
            .field("climatology", &self.climatology)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "frozen_manifest",
                &self.frozen_manifest.as_ref().map(|m| m.files.len()),
            )
            .field("gfs_init_time", &self.gfs_init_time)
            .field("lead_hours", &self.lead_hours)
            .field("valid_time", &self.valid_time)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Day1Request {
    /// The valid time scored.
    pub fn valid_time(&self) -> DateTime<Utc> {
        self.valid_time
            .unwrap_or_else(|| self.gfs_init_time + hours(self.lead_hours))
    }
}

fn hours(h: f64) -> TimeDelta {
    TimeDelta::milliseconds((h * 3_600_000.0).round() as i64)
}

/// One opened dataset with its selected time index.
struct Source {
    ds: Dataset,
    which: &'static str,
    time_index: usize,
}

impl Source {
    fn open(
        location: &str,
        options: &OpenOptions,
        which: &'static str,
        valid: DateTime<Utc>,
        tolerance_hours: f64,
    ) -> Result<Self, Day1Error> {
        let read = |source| Day1Error::Read { which, source };
        let ds = Dataset::open(location, options).map_err(read)?;
        let times = ds.times().map_err(read)?;
        let time_index = nearest_time(&times, valid, hours(tolerance_hours))
            .map_err(|source| Day1Error::Select { which, source })?;
        Ok(Self {
            ds,
            which,
            time_index,
        })
    }

    fn field(&self, spec: &VariableSpec, config: &Day1Config) -> Result<crate::Field2, Day1Error> {
        let which = self.which;
        if !self.ds.variable_names().iter().any(|n| n == &spec.name) {
            return Err(Day1Error::MissingVariable {
                variable: spec.name.clone(),
                which,
            });
        }
        let read = |source: ZarrError| Day1Error::Read { which, source };
        let level_index = match spec.level_hpa {
            None => None,
            Some(level) => {
                let levels = self.ds.pressure_levels().map_err(read)?.unwrap_or_default();
                Some(
                    nearest_level(&levels, level, config.level_tolerance_hpa)
                        .map_err(|source| Day1Error::Select { which, source })?,
                )
            }
        };
        self.ds
            .read_field(&spec.name, self.time_index, level_index)
            .map_err(read)
    }

    /// §12-18: the NaN-skipping mean of a pressure-level variable over all its levels at the
    /// selected time (a stored chunk at a time: a chunk holding every level is decoded once);
    /// `None` for a surface variable.
    fn mean_all_levels(&self, spec: &VariableSpec) -> Result<Option<f64>, Day1Error> {
        if spec.level_hpa.is_none() {
            return Ok(None);
        }
        let read = |source: ZarrError| Day1Error::Read {
            which: self.which,
            source,
        };
        let n = self
            .ds
            .pressure_levels()
            .map_err(read)?
            .unwrap_or_default()
            .len();
        let all: Vec<usize> = (0..n).collect();
        // Read group by group (one stored chunk each) and sum each level while it is still in
        // cache; only one group is held at a time.
        let (mut sum, mut count) = (0.0, 0usize);
        for group in self.ds.level_read_groups(&spec.name, &all).map_err(read)? {
            let fields = self
                .ds
                .read_field_levels(&spec.name, self.time_index, &group)
                .map_err(read)?;
            for field in &fields {
                let (s, c) = nan_sum_count_2d(&field.values.view());
                sum += s;
                count += c;
            }
        }
        Ok(Some(sum / count as f64))
    }
}

/// Compute one miner's Day-1 score from the stores named in `request`.
pub fn score_day1(request: &Day1Request) -> Result<Day1Report, Day1Error> {
    let config = &request.config;
    let valid = request.valid_time();
    let miner_options = OpenOptions {
        bearer_token: request.bearer_token.clone(),
        verify: request.frozen_manifest.clone(),
        requests_per_minute: request.miner_requests_per_minute,
        download_deadline: deadline(request.miner_download_deadline_s),
        ..OpenOptions::default()
    };
    let plain = OpenOptions::default();
    let truth_tol = config.truth_time_tolerance_hours;
    let forecast_tol = config.forecast_tolerance_hours(request.lead_hours);
    let forecast = Source::open(
        &request.forecast,
        &miner_options,
        "forecast",
        valid,
        forecast_tol,
    )?;
    let truth = Source::open(&request.truth, &plain, "truth", valid, truth_tol)?;
    let reference = Source::open(&request.reference, &plain, "reference", valid, truth_tol)?;
    let clim =
        Climatology::open(&request.climatology, &plain).map_err(|source| Day1Error::Read {
            which: "climatology",
            source,
        })?;

    let score_one = |spec: &VariableSpec| -> Result<Day1VariableResult, Day1Error> {
        let input = Day1Fields {
            spec: spec.clone(),
            forecast: forecast.field(spec, config)?,
            forecast_mean_all_levels: forecast.mean_all_levels(spec)?,
            truth: truth.field(spec, config)?,
            reference: reference.field(spec, config)?,
            climatology: clim
                .field(&spec.name, spec.level_hpa, valid)
                .map_err(|source| Day1Error::Read {
                    which: "climatology",
                    source,
                })?,
        };
        score_variable(&input, config)
    };
    if config.variables.is_empty() {
        return Err(Day1Error::NoVariables);
    }
    let variables = parallel_map(&config.variables, request.threads, score_one)
        .into_iter()
        .zip(&config.variables)
        .map(|(outcome, spec)| match outcome {
            Err(e) if e.confined_to_variable() => {
                Ok(Day1VariableResult::skipped(spec, e.to_string()))
            }
            other => other,
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(aggregate(
        variables,
        config,
        Some(request.lead_hours),
        Some(valid),
    ))
}

/// Apply `f` to every item on up to `threads` scoped threads, keeping the input order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        // A worker can only panic through `f`; propagate it as the sequential path would.
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
