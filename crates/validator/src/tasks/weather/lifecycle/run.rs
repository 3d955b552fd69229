//! The run step (`weather.run`, spec §1.1 "orchestrate"): create or reuse the run row of a GFS
//! cycle, seed one response and one stats row per served node, queue a query step per miner and
//! the run's finalize step.

use chrono::{DateTime, Utc};
use gaia_store::{
    ForecastStats, ForecastStatus, Job, NewResponse, NewRun, ResponseStatus, RunStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{payload, WeatherContext, FINALIZE, QUERY};
use crate::tasks::ledger::{StepError, StepOutcome};

/// Payload of `weather.run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPayload {
    /// The GFS cycle (00Z of the run's day).
    pub gfs_init: DateTime<Utc>,
}

/// The ledger key of the run step of a cycle.
pub fn run_key(gfs_init: DateTime<Utc>) -> String {
    format!("weather.run:{}", gfs_init.format("%Y%m%d%H"))
}

/// Priority of the query steps (spec §1.6: 80).
const QUERY_PRIORITY: i32 = 80;
/// Priority of the finalize step.
const FINALIZE_PRIORITY: i32 = 110;
/// Checks of the finalize step before it gives up (it waits for every miner to settle).
const FINALIZE_MAX_ATTEMPTS: u32 = 10_000;

pub(super) async fn run_step(ctx: &WeatherContext, job: &Job) -> Result<StepOutcome, StepError> {
    let p: RunPayload = payload(job)?;
    let now = Utc::now();
    let run = ctx
        .store
        .create_run(&NewRun {
            run_initiation_time: now,
            target_forecast_time_utc: p.gfs_init,
            gfs_init_time_utc: p.gfs_init,
            gfs_input_metadata: None,
        })
        .await?;
    if run.status == RunStatus::Created {
        ctx.metrics.pipeline.run("created");
    }
    // Sync the metagraph to completion first: listing `node_table` while a concurrent sync is
    // still upserting would seed only part of the miners.
    if let Err(e) = crate::tasks::metagraph::sync_metagraph(ctx.chain.as_ref(), &ctx.store).await {
        tracing::warn!(error = %e, "metagraph sync before the run failed; using node_table as is");
    }
    let nodes = ctx.store.list_nodes().await?;
    let served: Vec<_> = nodes
        .iter()
        .filter(|n| !n.hotkey.is_empty() && ctx.miner_address(n).is_ok())
        .collect();
    if served.is_empty() {
        ctx.store
            .update_run_status(
                run.id,
                RunStatus::Failed,
                Some("no miners in node_table"),
                None,
            )
            .await?;
        ctx.metrics.pipeline.run("failed");
        return Ok(StepOutcome::Done(Some(
            json!({"run_id": run.id, "miners": 0}),
        )));
    }
    ctx.store
        .update_run_status(run.id, RunStatus::QueryingMiners, None, None)
        .await?;
    let existing = ctx.store.list_responses(run.id).await?;
    let query_attempts =
        ctx.weather.query_retry_delays_s.len() as u32 + 1 + ctx.weather.max_poll_attempts + 1;
    for node in &served {
        if !existing.iter().any(|r| r.miner_uid == node.uid) {
            ctx.store
                .upsert_response(&NewResponse {
                    run_id: run.id,
                    miner_uid: node.uid,
                    miner_hotkey: node.hotkey.clone(),
                    job_id: None,
                    zarr_url: None,
                    verification_hash_claimed: None,
                    status: ResponseStatus::Received,
                    response_time: now,
                })
                .await?;
            ctx.store
                .upsert_forecast_stats(&ForecastStats::new(
                    run.id,
                    node.uid,
                    &node.hotkey,
                    ForecastStatus::Seeded,
                    now,
                ))
                .await?;
        }
        ctx.enqueue(
            format!("weather.query:{}:{}", run.id, node.uid),
            QUERY,
            json!({"run_id": run.id, "uid": node.uid}),
            QUERY_PRIORITY,
            query_attempts,
            now,
            Some(run.id),
        )
        .await?;
    }
    let last_lead = *gaia_store::ERA5_LEADS.last().unwrap_or(&240);
    ctx.enqueue(
        format!("weather.finalize:{}", run.id),
        FINALIZE,
        json!({"run_id": run.id}),
        FINALIZE_PRIORITY,
        FINALIZE_MAX_ATTEMPTS,
        ctx.era5_eligible_at(p.gfs_init, last_lead),
        Some(run.id),
    )
    .await?;
    ctx.store
        .update_run_status(run.id, RunStatus::AwaitingResults, None, None)
        .await?;
    tracing::info!(run_id = run.id, miners = served.len(), gfs_init = %p.gfs_init, "weather run started");
    Ok(StepOutcome::Done(Some(
        json!({"run_id": run.id, "miners": served.len()}),
    )))
}
