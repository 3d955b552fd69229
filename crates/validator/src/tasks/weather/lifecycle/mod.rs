//! The weather lifecycle (spec §1): one daily run, per miner a chain of ledger steps.
//!
//! | step ([`crate::tasks::steps::WeatherStep`]) | does |
//! |---|---|
//! | `Run` | run row, responses and stats seeded, one query step per miner, the finalize step |
//! | `Query` | initiate fetch, poll, verify and freeze the manifest, queue Day-1 |
//! | `Day1` | Day-1 score in the pool, stored; ERA5 leads queued at eligibility |
//! | `Era5` | one ERA5 lead in the pool, stored; the overall score and score row updated (§12-1) |
//! | `Overall` | the final aggregation once every lead has settled: response completed or failed |
//! | `Finalize` | once every miner is settled: score row, run completed, weights (held when every miner failed on the validator's side, `hold`) |
//! | `Recompute` | recent runs: overall scores re-aggregated, score rows rebuilt for current hotkeys |
//!
//! Keys, job types, priorities and payloads are the step catalogue's (`crate::tasks::steps`).
//! Each step reads the state it needs from the database, so it can run again after a crash;
//! everything it writes is keyed (upserts), so a repeat writes the same rows.

mod aggregate;
mod context;
mod hold;
mod overall;
mod query;
mod recompute;
mod run;
mod scoring;
mod store_rows;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod window_compare_tests;
#[cfg(test)]
mod window_tests;

pub use context::{DownloadSlots, DownloadTurn, StripedLocks, WeatherContext, SETTLED};
pub use overall::score_row_task_id;

use std::sync::Arc;

use futures::FutureExt;
use gaia_store::Job;

use crate::tasks::ledger::{LedgerRunner, StepError, StepFuture, StepHandler, StepOutcome};
use crate::tasks::steps::{Step, WeatherStep, WEATHER_JOB_TYPES};

/// The weather steps as one ledger handler.
pub struct WeatherSteps {
    ctx: Arc<WeatherContext>,
}

impl WeatherSteps {
    /// Register every lifecycle job type with `runner`.
    pub fn register(runner: &mut LedgerRunner, ctx: Arc<WeatherContext>) {
        let handler = Arc::new(WeatherSteps { ctx });
        for t in WEATHER_JOB_TYPES {
            runner.register(t, handler.clone());
        }
    }
}

/// Run one claimed weather step: read it back from the catalogue (a malformed payload is a
/// fatal step error) and hand it to its step function.
pub(crate) async fn handle(ctx: &WeatherContext, job: &Job) -> Result<StepOutcome, StepError> {
    let step = Step::from_job(job).map_err(|e| StepError::fatal(e.to_string()))?;
    let Step::Weather(step) = step else {
        return Err(StepError::fatal(format!(
            "not a weather step: {}",
            job.job_type
        )));
    };
    match step {
        WeatherStep::Run(p) => run::run_step(ctx, &p).await,
        WeatherStep::Query(p) => query::query_step(ctx, job, p).await,
        WeatherStep::Day1(p) => scoring::day1_step(ctx, job, p).await,
        WeatherStep::Era5(p) => scoring::era5_step(ctx, job, p).await,
        WeatherStep::Overall(p) => overall::overall_step(ctx, job, p).await,
        WeatherStep::Finalize(p) => overall::finalize_step(ctx, job, p).await,
        WeatherStep::Recompute(_) => recompute::recompute_step(ctx).await,
    }
}

impl StepHandler for WeatherSteps {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        handle(&self.ctx, job).boxed()
    }
}

/// A context over a fresh SQLite store, with no compute workers and no miners (for unit tests
/// of the steps' database logic).
#[cfg(test)]
pub(crate) async fn test_context(dir: &std::path::Path) -> WeatherContext {
    use crate::miners::client::{MinerClient, PlainJsonTransport};
    let url = format!("sqlite://{}/ctx.db", dir.display());
    let store = gaia_store::Store::open(&gaia_store::StoreConfig::new(url))
        .await
        .unwrap();
    let (metrics, _) = crate::telemetry::metrics::Metrics::new(None);
    let dispatcher = crate::io_engine::Dispatcher::new(
        4,
        metrics.clone(),
        dir.to_path_buf(),
        std::process::id(),
    );
    let settings = crate::config::Settings::default();
    let downloads = settings.weather.max_concurrent_miner_downloads;
    WeatherContext {
        store: store.clone(),
        dispatcher,
        client: MinerClient::new(
            Arc::new(PlainJsonTransport::new().unwrap()),
            Default::default(),
        ),
        sources: crate::truth::sources::DataSources::new(settings.weather.source_templates(dir)),
        chain: Arc::new(crate::chain::offline::OfflineChain::new(None, 12.0, store)),
        weather: settings.weather,
        chain_settings: settings.chain,
        metrics,
        validator_hotkey: "validator".into(),
        directory: None,
        aggregation_locks: Default::default(),
        score_row_locks: Default::default(),
        download_slots: Arc::new(context::DownloadSlots::new(downloads)),
    }
}
