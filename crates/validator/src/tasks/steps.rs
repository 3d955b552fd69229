//! The typed catalogue of ledger steps: every kind of step the validator queues in the work
//! ledger, with its job type, key, priority and payload in one place.
//!
//! A step is built as a [`Step`] value and queued with [`Step::new_job`]; a claimed job is read
//! back with [`Step::from_job`] and handled by one exhaustive `match`. The key — which makes a
//! repeated enqueue a no-op — is a function of the step alone, and this file is the only place a
//! job type or key is spelled. Payload field names are those stored by earlier versions, so
//! existing ledgers read back unchanged.
//!
//! | step | job type | key | priority |
//! |---|---|---|---|
//! | [`WeatherStep::Run`] | `weather.run` | `weather.run:<YYYYmmddHH of the GFS init>` | 50 |
//! | [`WeatherStep::Query`] | `weather.query` | `weather.query:<run>:<uid>` | 80 |
//! | [`WeatherStep::Day1`] | `weather.day1` | `weather.day1:<response>` | 60 |
//! | [`WeatherStep::Era5`] | `weather.era5` | `weather.era5:<response>:<lead>` | 100 |
//! | [`WeatherStep::Overall`] | `weather.overall` | `weather.overall:<response>` | 100 |
//! | [`WeatherStep::Finalize`] | `weather.finalize` | `weather.finalize:<run>` | 100 |
//! | [`WeatherStep::Recompute`] | `weather.recompute` | `weather.recompute:<YYYYmmddTHHMM>` | 50 |
//! | [`Step::SyncMetagraph`] | `metagraph.sync` | `metagraph.sync:<YYYYmmddTHHMM>` | 50 |
//! | [`Step::SetWeights`] | `weights.set` | `weights.set:<YYYYmmddTHHMM>` or `weights.set:run:<run>` | 50 |

use chrono::{DateTime, Utc};
use gaia_store::{Job, NewJob};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Job type of [`WeatherStep::Run`].
pub const WEATHER_RUN: &str = "weather.run";
/// Job type of [`WeatherStep::Query`].
pub const WEATHER_QUERY: &str = "weather.query";
/// Job type of [`WeatherStep::Day1`].
pub const WEATHER_DAY1: &str = "weather.day1";
/// Job type of [`WeatherStep::Era5`].
pub const WEATHER_ERA5: &str = "weather.era5";
/// Job type of [`WeatherStep::Overall`].
pub const WEATHER_OVERALL: &str = "weather.overall";
/// Job type of [`WeatherStep::Finalize`].
pub const WEATHER_FINALIZE: &str = "weather.finalize";
/// Job type of [`WeatherStep::Recompute`].
pub const WEATHER_RECOMPUTE: &str = "weather.recompute";
/// The job types of the weather lifecycle, in the order of a response's life.
pub const WEATHER_JOB_TYPES: [&str; 7] = [
    WEATHER_RUN,
    WEATHER_QUERY,
    WEATHER_DAY1,
    WEATHER_ERA5,
    WEATHER_OVERALL,
    WEATHER_FINALIZE,
    WEATHER_RECOMPUTE,
];
/// Job type of the metagraph sync.
pub const SYNC_METAGRAPH: &str = "metagraph.sync";
/// Job type of a weight setting.
pub const SET_WEIGHTS: &str = "weights.set";

/// Every step of the work ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A step of the weather lifecycle.
    Weather(WeatherStep),
    /// Mirror the metagraph into `node_table`.
    SyncMetagraph(Occurrence),
    /// Compute and set (or record) weights.
    SetWeights(WeightsTrigger),
}

/// The steps of the weather lifecycle (spec §1).
#[derive(Debug, Clone, PartialEq)]
pub enum WeatherStep {
    /// Create the run of a GFS cycle, seed its miners, queue their queries and the finalize step.
    Run(RunPayload),
    /// Ask one miner for its forecast and verify its manifest.
    Query(MinerRef),
    /// Score one response's Day-1 forecast.
    Day1(ResponseRef),
    /// Score one ERA5 lead of one response.
    Era5(LeadRef),
    /// Aggregate one response's ERA5 leads into its overall score.
    Overall(ResponseRef),
    /// Close the run once every miner is settled.
    Finalize(RunRef),
    /// Rebuild the recent runs' score rows.
    Recompute(Occurrence),
}

/// Payload of `weather.run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPayload {
    /// The GFS cycle (00Z of the run's day).
    pub gfs_init: DateTime<Utc>,
}

/// Payload of a step about one miner of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinerRef {
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    pub uid: u8,
}

/// Payload of a step about one miner's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRef {
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    pub uid: u8,
    /// The response.
    pub response_id: i64,
}

/// Payload of one ERA5 lead of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadRef {
    /// The run.
    pub run_id: i64,
    /// The miner's UID.
    pub uid: u8,
    /// The response.
    pub response_id: i64,
    /// The lead time in hours.
    pub lead_hours: u32,
}

impl From<ResponseRef> for LeadRef {
    /// The lead 0 of a response (set `lead_hours` with struct update syntax).
    fn from(r: ResponseRef) -> Self {
        Self {
            run_id: r.run_id,
            uid: r.uid,
            response_id: r.response_id,
            lead_hours: 0,
        }
    }
}

/// Payload of a step about a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRef {
    /// The run.
    pub run_id: i64,
}

/// Payload of a step queued at a cron occurrence. Ledgers written before this field existed
/// stored `{}`: such a step reads back without its occurrence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occurrence {
    /// The cron time the step stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<DateTime<Utc>>,
}

impl Occurrence {
    /// The occurrence at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            occurrence: Some(at),
        }
    }

    fn key(&self, job_type: &str) -> String {
        match self.occurrence {
            Some(t) => format!("{job_type}:{}", t.format("%Y%m%dT%H%M")),
            None => format!("{job_type}:unscheduled"),
        }
    }
}

/// Why weights are set: the payload of `weights.set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsTrigger {
    /// Why, for people (`cadence`, `run 7 completed`).
    pub reason: String,
    /// The weights check's cron occurrence that found weights due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<DateTime<Utc>>,
    /// The run whose completion asked for weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}

impl WeightsTrigger {
    /// Weights found due by the cadence check at `occurrence`.
    pub fn cadence(occurrence: DateTime<Utc>) -> Self {
        Self {
            reason: "cadence".into(),
            occurrence: Some(occurrence),
            run_id: None,
        }
    }

    /// Weights asked for by the completion of run `run_id`.
    pub fn run_completed(run_id: i64) -> Self {
        Self {
            reason: format!("run {run_id} completed"),
            occurrence: None,
            run_id: Some(run_id),
        }
    }
}

/// A claimed job that is not a step of this catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {job_id} ({job_type}): {reason}")]
pub struct StepParseError {
    /// The job's id.
    pub job_id: i64,
    /// The job's type.
    pub job_type: String,
    /// What is wrong.
    pub reason: String,
}

impl Step {
    /// The job type.
    pub fn job_type(&self) -> &'static str {
        match self {
            Step::Weather(w) => w.job_type(),
            Step::SyncMetagraph(_) => SYNC_METAGRAPH,
            Step::SetWeights(_) => SET_WEIGHTS,
        }
    }

    /// The ledger key: queueing a step whose key exists is a no-op.
    pub fn key(&self) -> String {
        let t = self.job_type();
        match self {
            Step::Weather(WeatherStep::Run(p)) => {
                format!("{t}:{}", p.gfs_init.format("%Y%m%d%H"))
            }
            Step::Weather(WeatherStep::Query(m)) => format!("{t}:{}:{}", m.run_id, m.uid),
            Step::Weather(WeatherStep::Day1(r) | WeatherStep::Overall(r)) => {
                format!("{t}:{}", r.response_id)
            }
            Step::Weather(WeatherStep::Era5(l)) => {
                format!("{t}:{}:{}", l.response_id, l.lead_hours)
            }
            Step::Weather(WeatherStep::Finalize(r)) => format!("{t}:{}", r.run_id),
            Step::Weather(WeatherStep::Recompute(o)) | Step::SyncMetagraph(o) => o.key(t),
            Step::SetWeights(w) => match (w.run_id, w.occurrence) {
                (Some(run), _) => format!("{t}:run:{run}"),
                (None, Some(at)) => format!("{t}:{}", at.format("%Y%m%dT%H%M")),
                (None, None) => format!("{t}:{}", w.reason),
            },
        }
    }

    /// Claim order: a lower number is claimed first among due steps.
    pub fn priority(&self) -> i32 {
        match self {
            Step::Weather(WeatherStep::Run(_) | WeatherStep::Recompute(_)) => 50,
            Step::Weather(WeatherStep::Query(_)) => 80,
            Step::Weather(WeatherStep::Day1(_)) => 60,
            // Closing a response or a run takes its turn among the ERA5 leads by schedule (it
            // falls due with the run's last lead, and a step that waits keeps its place): under
            // an ERA5 backlog (a slow miner's yielding leads, a day of catch-up) the older runs
            // still complete, oldest first, instead of waiting until no lead of any run is due.
            // A waiting closing step does not poll: the steps it waits for wake it (`waiter`).
            Step::Weather(
                WeatherStep::Era5(_) | WeatherStep::Overall(_) | WeatherStep::Finalize(_),
            ) => 100,
            Step::SyncMetagraph(_) | Step::SetWeights(_) => 50,
        }
    }

    /// The run the step belongs to (run retention deletes its steps with it).
    pub fn run_id(&self) -> Option<i64> {
        match self {
            Step::Weather(WeatherStep::Query(m)) => Some(m.run_id),
            Step::Weather(WeatherStep::Day1(r) | WeatherStep::Overall(r)) => Some(r.run_id),
            Step::Weather(WeatherStep::Era5(l)) => Some(l.run_id),
            Step::Weather(WeatherStep::Finalize(r)) => Some(r.run_id),
            Step::Weather(WeatherStep::Run(_) | WeatherStep::Recompute(_))
            | Step::SyncMetagraph(_)
            | Step::SetWeights(_) => None,
        }
    }

    /// The miner a step is about, if it is about one.
    pub fn miner_uid(&self) -> Option<u8> {
        match self {
            Step::Weather(WeatherStep::Query(m)) => Some(m.uid),
            Step::Weather(WeatherStep::Day1(r) | WeatherStep::Overall(r)) => Some(r.uid),
            Step::Weather(WeatherStep::Era5(l)) => Some(l.uid),
            Step::Weather(
                WeatherStep::Run(_) | WeatherStep::Finalize(_) | WeatherStep::Recompute(_),
            )
            | Step::SyncMetagraph(_)
            | Step::SetWeights(_) => None,
        }
    }

    /// The stored payload.
    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            Step::Weather(WeatherStep::Run(p)) => serde_json::to_value(p),
            Step::Weather(WeatherStep::Query(m)) => serde_json::to_value(m),
            Step::Weather(WeatherStep::Day1(r) | WeatherStep::Overall(r)) => {
                serde_json::to_value(r)
            }
            Step::Weather(WeatherStep::Era5(l)) => serde_json::to_value(l),
            Step::Weather(WeatherStep::Finalize(r)) => serde_json::to_value(r),
            Step::Weather(WeatherStep::Recompute(o)) | Step::SyncMetagraph(o) => {
                serde_json::to_value(o)
            }
            Step::SetWeights(w) => serde_json::to_value(w),
        };
        // Plain structs of numbers, strings and timestamps always serialise.
        value.unwrap_or_default()
    }

    /// The step that waits for this one to end, woken (`Store::wake_job`) when it does: a
    /// response's closing aggregation waits for its ERA5 leads, the run's finalize for its
    /// responses' aggregations. They wait long instead of polling, so an ERA5 backlog is not
    /// slowed by closing steps asking every second whether their leads are done.
    pub fn waiter(&self) -> Option<Step> {
        match self {
            Step::Weather(WeatherStep::Era5(l)) => {
                Some(Step::Weather(WeatherStep::Overall(ResponseRef {
                    run_id: l.run_id,
                    uid: l.uid,
                    response_id: l.response_id,
                })))
            }
            Step::Weather(WeatherStep::Overall(r)) => {
                Some(Step::Weather(WeatherStep::Finalize(RunRef {
                    run_id: r.run_id,
                })))
            }
            _ => None,
        }
    }

    /// The ledger row that queues this step at `at`, tried at most `max_attempts` times.
    pub fn new_job(&self, max_attempts: u32, at: DateTime<Utc>) -> NewJob {
        NewJob {
            job_key: self.key(),
            job_type: self.job_type().to_string(),
            priority: self.priority(),
            payload: self.payload(),
            max_attempts: i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX),
            scheduled_at: at,
            run_id: self.run_id(),
        }
    }

    /// Read a claimed job back as a step.
    pub fn from_job(job: &Job) -> Result<Step, StepParseError> {
        fn decode<T: DeserializeOwned>(job: &Job) -> Result<T, StepParseError> {
            serde_json::from_value(job.payload.clone()).map_err(|e| StepParseError {
                job_id: job.id,
                job_type: job.job_type.clone(),
                reason: format!("bad payload: {e}"),
            })
        }
        let weather = |w: WeatherStep| Ok(Step::Weather(w));
        match job.job_type.as_str() {
            WEATHER_RUN => weather(WeatherStep::Run(decode(job)?)),
            WEATHER_QUERY => weather(WeatherStep::Query(decode(job)?)),
            WEATHER_DAY1 => weather(WeatherStep::Day1(decode(job)?)),
            WEATHER_ERA5 => weather(WeatherStep::Era5(decode(job)?)),
            WEATHER_OVERALL => weather(WeatherStep::Overall(decode(job)?)),
            WEATHER_FINALIZE => weather(WeatherStep::Finalize(decode(job)?)),
            WEATHER_RECOMPUTE => weather(WeatherStep::Recompute(decode(job)?)),
            SYNC_METAGRAPH => Ok(Step::SyncMetagraph(decode(job)?)),
            SET_WEIGHTS => Ok(Step::SetWeights(decode(job)?)),
            other => Err(StepParseError {
                job_id: job.id,
                job_type: other.to_string(),
                reason: "not a step of this validator".into(),
            }),
        }
    }
}

/// The jobs among `jobs` whose step is about miner `uid` (jobs that do not parse are skipped).
pub fn steps_of_miner(jobs: &[Job], uid: u8) -> impl Iterator<Item = &Job> {
    jobs.iter()
        .filter(move |j| Step::from_job(j).ok().and_then(|s| s.miner_uid()) == Some(uid))
}

impl WeatherStep {
    /// The job type.
    pub fn job_type(&self) -> &'static str {
        match self {
            WeatherStep::Run(_) => WEATHER_RUN,
            WeatherStep::Query(_) => WEATHER_QUERY,
            WeatherStep::Day1(_) => WEATHER_DAY1,
            WeatherStep::Era5(_) => WEATHER_ERA5,
            WeatherStep::Overall(_) => WEATHER_OVERALL,
            WeatherStep::Finalize(_) => WEATHER_FINALIZE,
            WeatherStep::Recompute(_) => WEATHER_RECOMPUTE,
        }
    }

    /// The step as a ledger [`Step`].
    pub fn step(self) -> Step {
        Step::Weather(self)
    }
}

#[cfg(test)]
#[path = "steps_tests.rs"]
pub(crate) mod tests;
