//! The weather lifecycle (spec §1): one daily run, per miner a chain of ledger steps.
//!
//! | job type | key | does |
//! |---|---|---|
//! | `weather.run` | `weather.run:<init>` | run row, responses and stats seeded, one query step per miner, the finalize step |
//! | `weather.query` | `weather.query:<run>:<uid>` | initiate fetch, poll, verify and freeze the manifest, queue Day-1 |
//! | `weather.day1` | `weather.day1:<response>` | Day-1 score in the pool, stored; ERA5 leads queued at eligibility |
//! | `weather.era5` | `weather.era5:<response>:<lead>` | one ERA5 lead in the pool, stored |
//! | `weather.overall` | `weather.overall:<response>` | per-lead and overall scores once every lead is settled |
//! | `weather.finalize` | `weather.finalize:<run>` | once every miner is settled: score row, run completed, weights |
//!
//! Each step reads the state it needs from the database, so it can run again after a crash;
//! everything it writes is keyed (upserts), so a repeat writes the same rows.

mod context;
mod overall;
mod query;
mod recompute;
mod run;

pub use overall::score_row_task_id;
pub use run::{run_key, RunPayload};
mod scoring;
mod store_rows;
#[cfg(test)]
mod test_support;

pub use context::{DispatchFailure, WeatherContext, SETTLED};

use std::sync::Arc;

use futures::FutureExt;
use gaia_store::Job;
use serde::de::DeserializeOwned;

use crate::tasks::ledger::{LedgerRunner, StepError, StepFuture, StepHandler};

/// Job type of the run step.
pub const RUN: &str = "weather.run";
/// Job type of the per-miner query step.
pub const QUERY: &str = "weather.query";
/// Job type of the Day-1 step.
pub const DAY1: &str = "weather.day1";
/// Job type of one ERA5 lead.
pub const ERA5: &str = "weather.era5";
/// Job type of the per-miner aggregation.
pub const OVERALL: &str = "weather.overall";
/// Job type of the run's completion.
pub const FINALIZE: &str = "weather.finalize";
/// Job type of the twice-daily rebuild of the recent runs' score rows.
pub const RECOMPUTE: &str = "weather.recompute";

/// Every job type of the lifecycle.
pub const JOB_TYPES: [&str; 7] = [RUN, QUERY, DAY1, ERA5, OVERALL, FINALIZE, RECOMPUTE];

/// The weather steps as one ledger handler.
pub struct WeatherSteps {
    ctx: Arc<WeatherContext>,
}

impl WeatherSteps {
    /// Register every lifecycle job type with `runner`.
    pub fn register(runner: &mut LedgerRunner, ctx: Arc<WeatherContext>) {
        let handler = Arc::new(WeatherSteps { ctx });
        for t in JOB_TYPES {
            runner.register(t, handler.clone());
        }
    }
}

/// A job's payload as `T`; a malformed payload is a fatal step error.
pub(crate) fn payload<T: DeserializeOwned>(job: &Job) -> Result<T, StepError> {
    serde_json::from_value(job.payload.clone()).map_err(|e| {
        StepError::fatal(format!(
            "bad payload for {} (job {}): {e}",
            job.job_type, job.id
        ))
    })
}

impl StepHandler for WeatherSteps {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        let ctx = &self.ctx;
        async move {
            match job.job_type.as_str() {
                RUN => run::run_step(ctx, job).await,
                QUERY => query::query_step(ctx, job).await,
                DAY1 => scoring::day1_step(ctx, job).await,
                ERA5 => scoring::era5_step(ctx, job).await,
                OVERALL => overall::overall_step(ctx, job).await,
                FINALIZE => overall::finalize_step(ctx, job).await,
                RECOMPUTE => recompute::recompute_step(ctx).await,
                other => Err(StepError::fatal(format!("not a weather step: {other}"))),
            }
        }
        .boxed()
    }
}

/// A context over a fresh SQLite store, with no compute workers and no miners (for unit tests
/// of the steps' database logic).
#[cfg(test)]
pub(crate) async fn test_context(dir: &std::path::Path) -> WeatherContext {
    use crate::tasks::weather::miner_client::{MinerClient, PlainJsonTransport};
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
    WeatherContext {
        store: store.clone(),
        dispatcher,
        client: MinerClient::new(
            Arc::new(PlainJsonTransport::new().unwrap()),
            Default::default(),
        ),
        sources: super::sources::DataSources::new(settings.weather.source_templates(dir)),
        chain: Arc::new(crate::chain::offline::OfflineChain::new(None, 12.0, store)),
        weather: settings.weather,
        chain_settings: settings.chain,
        metrics,
        validator_hotkey: "validator".into(),
        directory: None,
    }
}
