//! The operator view's records and how they are read from the database.
//!
//! Each function reads what one command or page shows, with a handful of queries whatever the
//! number of miners (counts are grouped by the database). `None` means "no such run/miner", so
//! the callers can answer 404 or a clear message. The records serialise to the commands'
//! `--json` output; field names are part of that interface.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gaia_scoring::weights::DEFAULT_BURN_HOTKEY;
use gaia_store::{
    ForecastStats, JobStatus, MinerResponse, ResponseStatus, Run, RunStatus, Store, StoreError,
    WeightOutcome, ERA5_LEADS,
};
use serde::Serialize;

use super::weights::{change, is_shadow, summarise, WeightsAttempt, WeightsChange};

/// Why a view could not be read: the database failed or returned a value it should not hold.
pub type ViewError = StoreError;

/// Settings the overview shows beside the database's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverviewContext {
    /// `CHAIN__MODE` (`offline`/`online`).
    pub chain_mode: String,
    /// `CHAIN__WEIGHTS_MODE` (`off`/`shadow`/`on`).
    pub weights_mode: String,
    /// `WEATHER__SCORING_PROFILE`.
    pub scoring_profile: String,
    /// How many recent runs the overview lists.
    pub recent_runs: u32,
}

/// A run with its miners counted per outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// The GFS cycle it forecasts from.
    pub gfs_init: DateTime<Utc>,
    /// When the validator started it.
    pub started: DateTime<Utc>,
    /// Its stage.
    pub status: RunStatus,
    /// When it reached a terminal stage.
    pub completed: Option<DateTime<Utc>>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Miners asked (responses recorded).
    pub miners: i64,
    /// Responses per status (`completed`, `miner_offline`, ...).
    pub outcomes: BTreeMap<ResponseStatus, i64>,
}

impl RunSummary {
    fn new(run: &Run, outcomes: BTreeMap<ResponseStatus, i64>) -> Self {
        Self {
            id: run.id,
            gfs_init: run.gfs_init_time_utc,
            started: run.run_initiation_time,
            status: run.status,
            completed: run.completion_time,
            error: run.error_message.clone(),
            miners: outcomes.values().sum(),
            outcomes,
        }
    }
}

/// The ledger: jobs per state and the job waiting longest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerView {
    /// Jobs per state.
    pub counts: BTreeMap<JobStatus, i64>,
    /// The waiting job enqueued first.
    pub oldest_waiting: Option<WaitingJob>,
}

/// A job that waits to be claimed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingJob {
    /// Its key.
    pub job_key: String,
    /// `pending` or `retry_scheduled`.
    pub status: JobStatus,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Not claimable before.
    pub due: DateTime<Utc>,
    /// Claims so far / allowed.
    pub attempts: i32,
    /// Claims allowed.
    pub max_attempts: i32,
    /// Last error.
    pub last_error: Option<String>,
}

/// The `status` command and the overview page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// When this was read.
    pub generated_at: DateTime<Utc>,
    /// `PostgreSQL` or `SQLite`.
    pub database: String,
    /// Chain mode, weights mode and scoring profile in force.
    pub settings: OverviewContext,
    /// The most recent runs, newest first.
    pub runs: Vec<RunSummary>,
    /// The work ledger.
    pub ledger: LedgerView,
    /// The last vector submitted to the chain.
    pub last_weights_set: Option<WeightsAttempt>,
    /// The last vector recorded in shadow mode.
    pub last_weights_shadowed: Option<WeightsAttempt>,
    /// The last attempt of any outcome.
    pub last_weights_attempt: Option<WeightsAttempt>,
}

/// One ERA5 lead's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LeadScore {
    /// Lead time, hours.
    pub lead_hours: i32,
    /// The lead's score `L_h`, if scored.
    pub score: Option<f64>,
}

/// One miner in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerLine {
    /// UID.
    pub uid: u8,
    /// Hotkey at the time.
    pub hotkey: String,
    /// Where its response ended (or stands).
    pub status: ResponseStatus,
    /// Day-1 score.
    pub day1: Option<f64>,
    /// ERA5 score per lead, 24 h … 240 h.
    pub era5: Vec<LeadScore>,
    /// Mean of the ERA5 leads.
    pub era5_combined: Option<f64>,
    /// Overall score.
    pub overall: Option<f64>,
    /// Why it failed, if it did.
    pub reason: Option<String>,
}

impl MinerLine {
    fn new(r: &MinerResponse, stats: Option<&ForecastStats>) -> Self {
        let era5 = stats.map(ForecastStats::era5_by_lead).unwrap_or([None; 10]);
        Self {
            uid: r.miner_uid,
            hotkey: r.miner_hotkey.clone(),
            status: r.status,
            day1: stats.and_then(|s| s.forecast_score_initial),
            era5: ERA5_LEADS
                .iter()
                .zip(era5)
                .map(|(&lead_hours, score)| LeadScore { lead_hours, score })
                .collect(),
            era5_combined: stats.and_then(|s| s.era5_combined_score),
            overall: stats.and_then(|s| s.overall_forecast_score),
            reason: r.error_message.clone(),
        }
    }
}

/// The `run <id>` command and the run page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// The run.
    pub run: RunSummary,
    /// Every miner asked, by UID.
    pub miners: Vec<MinerLine>,
}

/// One run of a miner's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerRunLine {
    /// Run id.
    pub run_id: i64,
    /// The run's GFS cycle.
    pub gfs_init: Option<DateTime<Utc>>,
    /// The run's stage.
    pub run_status: Option<RunStatus>,
    /// The miner's line in that run.
    #[serde(flatten)]
    pub line: MinerLine,
}

/// The `miner <uid>` command and the miner page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerHistory {
    /// UID.
    pub uid: u8,
    /// Current hotkey from the metagraph mirror, if the UID is registered.
    pub hotkey: Option<String>,
    /// Its runs, newest first.
    pub runs: Vec<MinerRunLine>,
}

/// The `weights` command and the weights page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsView {
    /// The burn hotkey's UID in the metagraph mirror, if registered.
    pub burn_uid: Option<u8>,
    /// Recorded attempts, newest first.
    pub attempts: Vec<WeightsAttempt>,
    /// How the newest vector moved since the one before it.
    pub change: Option<WeightsChange>,
}

async fn summaries(store: &Store, limit: u32) -> Result<Vec<RunSummary>, ViewError> {
    let runs = store.recent_runs(limit).await?;
    let mut counts: BTreeMap<i64, BTreeMap<ResponseStatus, i64>> = BTreeMap::new();
    for c in store.outcome_counts_of_recent_runs(limit).await? {
        counts
            .entry(c.run_id)
            .or_default()
            .insert(c.status, c.count);
    }
    Ok(runs
        .iter()
        .map(|r| RunSummary::new(r, counts.remove(&r.id).unwrap_or_default()))
        .collect())
}

/// The `limit` newest runs with their outcome counts.
///
/// # Errors
/// [`ViewError`] when the database fails or `limit` is out of range.
pub async fn runs(store: &Store, limit: u32) -> Result<Vec<RunSummary>, ViewError> {
    summaries(store, limit).await
}

async fn burn_uid(store: &Store) -> Result<Option<u8>, ViewError> {
    Ok(store
        .list_nodes()
        .await?
        .into_iter()
        .find(|n| n.hotkey == DEFAULT_BURN_HOTKEY)
        .map(|n| n.uid))
}

/// Everything the overview shows.
///
/// # Errors
/// [`ViewError`] when the database fails.
pub async fn overview(
    store: &Store,
    settings: &OverviewContext,
    now: DateTime<Utc>,
) -> Result<Overview, ViewError> {
    let runs = summaries(store, settings.recent_runs.max(1)).await?;
    let ledger = store.ledger_summary().await?;
    let burn = burn_uid(store).await?;
    let history = store.recent_weights(200).await?;
    let pick = |f: &dyn Fn(&gaia_store::WeightRecord) -> bool| {
        history.iter().find(|r| f(r)).map(|r| summarise(r, burn))
    };
    Ok(Overview {
        generated_at: now,
        database: store.backend().to_string(),
        settings: settings.clone(),
        runs,
        ledger: LedgerView {
            counts: ledger.counts.iter().copied().collect(),
            oldest_waiting: ledger.oldest_waiting.map(|j| WaitingJob {
                due: j
                    .next_retry_at
                    .unwrap_or(j.scheduled_at)
                    .max(j.scheduled_at),
                job_key: j.job_key,
                status: j.status,
                created_at: j.created_at,
                attempts: j.attempts,
                max_attempts: j.max_attempts,
                last_error: j.last_error,
            }),
        },
        last_weights_set: pick(&|r| r.outcome == WeightOutcome::Submitted),
        last_weights_shadowed: pick(&is_shadow),
        last_weights_attempt: pick(&|_| true),
    })
}

/// One run with every miner's line; `None` for an unknown id.
///
/// # Errors
/// [`ViewError`] when the database fails.
pub async fn run_detail(store: &Store, id: i64) -> Result<Option<RunDetail>, ViewError> {
    let Some(run) = store.get_run(id).await? else {
        return Ok(None);
    };
    let responses = store.list_responses(id).await?;
    let stats = store.list_forecast_stats(id).await?;
    let by_uid: BTreeMap<u8, &ForecastStats> = stats.iter().map(|s| (s.miner_uid, s)).collect();
    let mut outcomes = BTreeMap::new();
    for r in &responses {
        *outcomes.entry(r.status).or_insert(0) += 1;
    }
    Ok(Some(RunDetail {
        run: RunSummary::new(&run, outcomes),
        miners: responses
            .iter()
            .map(|r| MinerLine::new(r, by_uid.get(&r.miner_uid).copied()))
            .collect(),
    }))
}

/// A miner's `limit` newest runs; `None` when the UID is neither registered nor in any run.
///
/// # Errors
/// [`ViewError`] when the database fails or `limit` is out of range.
pub async fn miner_history(
    store: &Store,
    uid: u8,
    limit: u32,
) -> Result<Option<MinerHistory>, ViewError> {
    let hotkey = store
        .list_nodes()
        .await?
        .into_iter()
        .find(|n| n.uid == uid)
        .map(|n| n.hotkey);
    let responses = store.miner_response_history(uid, limit).await?;
    if hotkey.is_none() && responses.is_empty() {
        return Ok(None);
    }
    let stats = store.miner_stats_history(uid, limit).await?;
    let mut runs = Vec::with_capacity(responses.len());
    for r in &responses {
        let run = store.get_run(r.run_id).await?;
        runs.push(MinerRunLine {
            run_id: r.run_id,
            gfs_init: run.as_ref().map(|x| x.gfs_init_time_utc),
            run_status: run.as_ref().map(|x| x.status),
            line: MinerLine::new(r, stats.iter().find(|s| s.run_id == r.run_id)),
        });
    }
    Ok(Some(MinerHistory { uid, hotkey, runs }))
}

/// The `history` newest weight vectors, with the change of the newest since the one before.
///
/// # Errors
/// [`ViewError`] when the database fails or `history` is out of range.
pub async fn weights_view(store: &Store, history: u32) -> Result<WeightsView, ViewError> {
    let burn = burn_uid(store).await?;
    let records = store.recent_weights(history.max(2)).await?;
    let change = match records.as_slice() {
        [newest, previous, ..] => Some(change(newest, previous)),
        _ => None,
    };
    Ok(WeightsView {
        burn_uid: burn,
        attempts: records
            .iter()
            .take(usize::try_from(history).unwrap_or(usize::MAX))
            .map(|r| summarise(r, burn))
            .collect(),
        change,
    })
}
