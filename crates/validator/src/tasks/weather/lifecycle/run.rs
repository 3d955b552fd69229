//! The run step (`weather.run`, spec §1.1 "orchestrate"): create or reuse the run row of a GFS
//! cycle, seed one response and one stats row per served node, queue a query step per miner and
//! the run's finalize step.

use chrono::Utc;
use gaia_store::{ForecastStats, ForecastStatus, NewResponse, NewRun, ResponseStatus, RunStatus};
use serde_json::json;

use super::WeatherContext;
use crate::tasks::ledger::{StepError, StepOutcome};
use crate::tasks::steps::{MinerRef, RunPayload, RunRef, WeatherStep};

/// Checks of the finalize step before it gives up (it waits for every miner to settle).
const FINALIZE_MAX_ATTEMPTS: u32 = 10_000;

pub(super) async fn run_step(
    ctx: &WeatherContext,
    p: &RunPayload,
) -> Result<StepOutcome, StepError> {
    // The run is stamped in business time; its steps are claimable now on the wall clock.
    let now = crate::clock::now();
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
    // Nodes that never served an axon (ip 0 or port 0) are not asked, as in the reference; an
    // axon ip that is set but cannot be read is named, so a metagraph decoding problem shows.
    let unreadable: Vec<serde_json::Value> = nodes
        .iter()
        .filter(|n| !n.hotkey.is_empty() && axon_ip_unreadable(&n.ip))
        .map(|n| json!({"uid": n.uid, "ip": n.ip}))
        .collect();
    for node in &unreadable {
        tracing::warn!(run_id = run.id, node = %node, "axon ip cannot be read; miner not asked");
    }
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
    let existing = ctx.store.list_response_states(run.id).await?;
    // Polls that get no answer may run past the count until the poll deadline: room for as many
    // again.
    let query_attempts =
        ctx.weather.query_retry_delays_s.len() as u32 + 1 + 2 * ctx.weather.max_poll_attempts + 1;
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
        let query = WeatherStep::Query(MinerRef {
            run_id: run.id,
            uid: node.uid,
        });
        ctx.enqueue(query, query_attempts, Utc::now()).await?;
    }
    let last_lead = *gaia_store::ERA5_LEADS.last().unwrap_or(&240);
    ctx.enqueue(
        WeatherStep::Finalize(RunRef { run_id: run.id }),
        FINALIZE_MAX_ATTEMPTS,
        crate::clock::current().to_wall(ctx.era5_eligible_at(p.gfs_init, last_lead)),
    )
    .await?;
    ctx.store
        .update_run_status(run.id, RunStatus::AwaitingResults, None, None)
        .await?;
    tracing::info!(run_id = run.id, miners = served.len(), gfs_init = %p.gfs_init, "weather run started");
    Ok(StepOutcome::Done(Some(json!({
        "run_id": run.id,
        "miners": served.len(),
        "axon_ip_unreadable": unreadable,
    }))))
}

/// An axon ip that is set (not empty, not zero) but is neither a number nor an address.
fn axon_ip_unreadable(ip: &str) -> bool {
    let t = ip.trim();
    let unset = t.is_empty() || t.bytes().all(|b| b == b'0' || b == b'.' || b == b':');
    !unset && crate::miners::fiber::axon::parse_axon_ip(t).is_none()
}

#[cfg(test)]
mod axon_tests {
    #[test]
    fn only_set_but_unreadable_axon_ips_are_named() {
        for unset in ["", "0", "0.0.0.0", "::", " 0 "] {
            assert!(!super::axon_ip_unreadable(unset), "{unset:?}");
        }
        for readable in ["1.2.3.4", "16909060", "2001:db8::1"] {
            assert!(!super::axon_ip_unreadable(readable), "{readable:?}");
        }
        for unreadable in ["1.2.3", "banana", "999.1.1.1", "-5"] {
            assert!(super::axon_ip_unreadable(unreadable), "{unreadable:?}");
        }
    }
}
