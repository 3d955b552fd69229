//! Closing a miner's response and the run (spec §4.4, §5.1): the final aggregation of the ERA5
//! leads once all have settled (`weather.overall`), the run's `score_table` row, and the run's
//! completion (`weather.finalize`), which also asks for weights.

use std::collections::HashMap;

use chrono::Utc;
use gaia_scoring::aggregate::{
    RunScoreRecord, ScoreRow as ComputedRow, ScoreRowRequest, UidHotkey,
};
use gaia_store::{
    Job, ResponseState, ResponseStatus, Run, RunStatus, ScoreRow, ScoreRowStatus, UidVector,
};
use serde_json::json;

use super::aggregate::{aggregate_response, Stage};
use super::context::SETTLED;
use super::WeatherContext;
use crate::jobs::weather::BuildScoreRow;
use crate::tasks::ledger::{StepError, StepOutcome};
use crate::tasks::steps::{LeadRef, ResponseRef, RunRef, Step, WeatherStep, WeightsTrigger};

/// The `score_table` task id of a run (spec §5.1).
pub fn score_row_task_id(run: &Run) -> String {
    format!(
        "weather_scores_{}_{}",
        run.id,
        run.gfs_init_time_utc.format("%Y%m%dT%H%MZ")
    )
}

/// How many `wait_retry` periods a response's closing step waits for its ERA5 leads before it
/// looks again on its own: each lead that ends wakes it (`Step::waiter`), so this only covers a
/// wake that was never written (a crash between a lead's end and its wake, a lead whose lease
/// expired on its last attempt).
const LEADS_WAKE_FALLBACK: i32 = 30;
/// As [`LEADS_WAKE_FALLBACK`], for the run's finalize waiting for its miners: each closing step
/// that ends wakes it, but a response whose steps all failed before its closing step was queued
/// is settled only by finalize itself (`settle_abandoned`), so it looks again sooner.
const MINERS_WAKE_FALLBACK: i32 = 6;

fn wait(ctx: &WeatherContext, job: &Job, what: String) -> Result<StepOutcome, StepError> {
    wait_periods(ctx, job, what, 1)
}

/// Run again after `periods` times `wait_retry`, unless woken sooner.
fn wait_periods(
    ctx: &WeatherContext,
    job: &Job,
    what: String,
    periods: i32,
) -> Result<StepOutcome, StepError> {
    if job.attempts >= job.max_attempts {
        return Err(StepError::fatal(format!("gave up waiting: {what}")));
    }
    Ok(StepOutcome::Again {
        at: Utc::now() + ctx.wait_retry() * periods,
        reason: what,
    })
}

/// `weather.overall`: once every ERA5 lead of the response has settled, the final aggregation
/// (it also ran after each lead, see `aggregate`) completes or fails the response.
pub(super) async fn overall_step(
    ctx: &WeatherContext,
    job: &Job,
    p: ResponseRef,
) -> Result<StepOutcome, StepError> {
    let response = ctx.response(p.response_id).await?;
    if SETTLED.contains(&response.status) {
        return Ok(StepOutcome::Done(Some(
            json!({"skipped": response.status.as_str()}),
        )));
    }
    for lead in gaia_store::ERA5_LEADS {
        let key = WeatherStep::Era5(LeadRef {
            lead_hours: lead.unsigned_abs(),
            ..LeadRef::from(p)
        })
        .step()
        .key();
        let Some(lead_job) = ctx.store.find_job_by_key(&key).await? else {
            return wait_periods(
                ctx,
                job,
                format!("{key} not queued yet"),
                LEADS_WAKE_FALLBACK,
            );
        };
        if !lead_job.status.is_terminal() {
            let what = format!("{key} is {}", lead_job.status);
            return wait_periods(ctx, job, what, LEADS_WAKE_FALLBACK);
        }
    }
    let run = ctx.run(response.run_id).await?;
    let outcome =
        aggregate_response(ctx, &run, &ResponseState::from(&response), Stage::Final).await?;
    Ok(StepOutcome::Done(
        outcome.and_then(|a| serde_json::to_value(a.outcome).ok()),
    ))
}

pub(super) async fn finalize_step(
    ctx: &WeatherContext,
    job: &Job,
    p: RunRef,
) -> Result<StepOutcome, StepError> {
    let run = ctx.run(p.run_id).await?;
    settle_abandoned(ctx, run.id).await?;
    let responses = ctx.store.list_response_states(run.id).await?;
    let open: Vec<u8> = responses
        .iter()
        .filter(|r| !SETTLED.contains(&r.status))
        .map(|r| r.miner_uid)
        .collect();
    if !open.is_empty() {
        let what = format!("miners still open: {open:?}");
        return wait_periods(ctx, job, what, MINERS_WAKE_FALLBACK);
    }
    let jobs = ctx.store.list_jobs_for_run(run.id).await?;
    if let Some(why) = super::hold::validator_side_day(&responses, &jobs) {
        tracing::warn!(run_id = run.id, reason = %why, "weather run held");
        ctx.metrics.pipeline.run("held");
        ctx.store
            .update_run_status(run.id, run.status, Some(&why), None)
            .await?;
        return wait(ctx, job, why);
    }
    rebuild_score_row(ctx, &run, true).await?;
    ctx.store
        .update_run_status(run.id, RunStatus::Completed, None, Some(Utc::now()))
        .await?;
    ctx.metrics.pipeline.run("completed");
    let weights = Step::SetWeights(WeightsTrigger::run_completed(run.id));
    ctx.store
        .enqueue_job(&weights.new_job(3, Utc::now()), Utc::now())
        .await?;
    let completed = responses
        .iter()
        .filter(|r| r.status == ResponseStatus::Completed)
        .count();
    tracing::info!(
        run_id = run.id,
        miners = responses.len(),
        completed,
        "weather run completed"
    );
    Ok(StepOutcome::Done(Some(
        json!({"miners": responses.len(), "completed": completed}),
    )))
}

/// Settle every open response none of whose steps can still run (each ended `failed` or
/// `quarantined` without settling it), naming the last step error, so no miner keeps the run
/// open for ever.
async fn settle_abandoned(ctx: &WeatherContext, run_id: i64) -> Result<(), StepError> {
    let open: Vec<ResponseState> = ctx
        .store
        .list_response_states(run_id)
        .await?
        .into_iter()
        .filter(|r| !SETTLED.contains(&r.status))
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    // Each job is read once (a run has ~13 per miner; matching every open miner against every
    // job was quadratic in the fleet, on every wake of the finalize step).
    let jobs = ctx.store.list_jobs_for_run(run_id).await?;
    let mut by_miner: HashMap<u8, Vec<&Job>> = HashMap::new();
    for job in &jobs {
        if let Some(uid) = Step::from_job(job).ok().and_then(|s| s.miner_uid()) {
            by_miner.entry(uid).or_default().push(job);
        }
    }
    for response in open {
        let Some(mine) = by_miner.get(&response.miner_uid) else {
            continue;
        };
        if mine.iter().any(|j| !j.status.is_terminal()) {
            continue;
        }
        let last_error = mine
            .iter()
            .filter_map(|j| {
                j.last_error
                    .as_deref()
                    .map(|e| (j.updated_at, &j.job_type, e))
            })
            .max_by_key(|(at, _, _)| *at)
            .map(|(_, t, e)| format!("{t}: {e}"))
            .unwrap_or_else(|| "no step left to run".into());
        let reason = format!("lifecycle abandoned: {last_error}");
        ctx.settle(response, ResponseStatus::Failed, Some(&reason))
            .await?;
    }
    Ok(())
}

/// Rebuild the run's score row, logging instead of failing (the finalize step rebuilds it for
/// good; this keeps the row current while scores arrive).
pub(super) async fn refresh_score_row(ctx: &WeatherContext, run: &Run, final_scores: bool) {
    if let Err(e) = rebuild_score_row(ctx, run, final_scores).await {
        tracing::warn!(run_id = run.id, error = %e, "score row not refreshed");
    }
}

/// Compute the run's 256-UID row in the pool and store it. The run's rebuilds take turns, and
/// each reads the stats inside its turn, so the last row written holds every stat stored
/// before the last rebuild began.
pub(super) async fn rebuild_score_row(
    ctx: &WeatherContext,
    run: &Run,
    final_scores: bool,
) -> Result<(), StepError> {
    let _turn = ctx.score_row_locks.lock(run.id).await;
    let stats = ctx.store.list_forecast_stats(run.id).await?;
    let records: Vec<RunScoreRecord> = stats
        .iter()
        .map(|s| RunScoreRecord {
            hotkey: s.miner_hotkey.clone(),
            overall_score: s.overall_forecast_score,
            day1_score: s.forecast_score_initial,
            updated_at: s.updated_at,
        })
        .collect();
    let current: Vec<UidHotkey> = ctx
        .store
        .list_nodes()
        .await?
        .into_iter()
        .map(|n| UidHotkey {
            uid: u16::from(n.uid),
            hotkey: n.hotkey,
        })
        .collect();
    let request = ScoreRowRequest {
        records,
        current_hotkeys: current,
        config: Default::default(),
    };
    let id = format!("row-{}-{}", run.id, Utc::now().timestamp_micros());
    let row: ComputedRow = match ctx.compute::<BuildScoreRow>(id, &request).await {
        Ok(row) => row,
        Err(f) => return Err(StepError::retry(f.message, ctx.wait_retry())),
    };
    let scores = UidVector::new(row.scores.iter().map(|v| Some(*v)).collect())
        .map_err(|e| StepError::fatal(e.to_string()))?;
    ctx.store
        .upsert_score_row(&ScoreRow {
            task_name: "weather".into(),
            task_id: score_row_task_id(run),
            run_id: Some(run.id),
            scores,
            // §12-2: the GFS init time, so the 15-day window holds whole cycles.
            created_at: run.gfs_init_time_utc,
            status: if final_scores {
                ScoreRowStatus::FinalScoresCompiled
            } else {
                ScoreRowStatus::InitialScoresCompiled
            },
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::steps::MinerRef;
    use crate::tasks::weather::lifecycle::test_support::{add_miner, create_run, pooled_context};
    use gaia_store::{ForecastStats, ForecastStatus};

    async fn store_overall(ctx: &WeatherContext, run: &Run, uid: u8, overall: f64) {
        let mut st = ForecastStats::new(
            run.id,
            uid,
            format!("hk{uid}"),
            ForecastStatus::Era5Scoring,
            Utc::now(),
        );
        st.overall_forecast_score = Some(overall);
        ctx.store.upsert_forecast_stats(&st).await.unwrap();
    }

    async fn row_of(ctx: &WeatherContext, run: &Run) -> Option<Vec<Option<f64>>> {
        let since = run.gfs_init_time_utc - chrono::Duration::days(1);
        let rows = ctx.store.score_rows_since("weather", since).await.unwrap();
        rows.into_iter()
            .find(|r| r.run_id == Some(run.id))
            .map(|r| r.scores.as_slice().to_vec())
    }

    /// Two miners' aggregations finishing together each rebuild the row: the rebuild that
    /// waited for its turn reads the stats stored meanwhile, so it cannot write a stale row
    /// last (the window test once saw uid 1's row at 0.184 for an overall of 0.204).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rebuild_waits_its_turn_and_reads_the_stats_stored_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, pool) = pooled_context(dir.path()).await;
        let run = create_run(&ctx).await;
        for uid in [1u8, 2] {
            add_miner(&ctx, &run, uid, 1, ResponseStatus::Era5Scoring).await;
            store_overall(&ctx, &run, uid, 0.3).await;
        }
        let turn = ctx.score_row_locks.lock(run.id).await;
        let waiting = rebuild_score_row(&ctx, &run, false);
        let meanwhile = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert_eq!(row_of(&ctx, &run).await, None, "the rebuild waits its turn");
            // Another aggregation stores uid 1's new overall while holding the turn.
            store_overall(&ctx, &run, 1, 0.7).await;
            drop(turn);
        };
        let (rebuilt, ()) = tokio::join!(waiting, meanwhile);
        rebuilt.unwrap();
        let waited = row_of(&ctx, &run).await.unwrap();
        rebuild_score_row(&ctx, &run, false).await.unwrap();
        let fresh = row_of(&ctx, &run).await.unwrap();
        assert_eq!(
            waited, fresh,
            "the row after the turn holds the latest stats"
        );
        assert!(
            waited[1] > waited[2],
            "uid 1 at 0.7 above uid 2 at 0.3: {waited:?}"
        );
        pool.shutdown().await;
    }

    #[tokio::test]
    async fn a_response_whose_steps_all_ended_is_settled_with_the_last_error() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = super::super::test_context(dir.path()).await;
        let now = Utc::now();
        let run = create_run(&ctx).await;
        for uid in [1u8, 2, 3] {
            add_miner(&ctx, &run, uid, 1, ResponseStatus::InferenceRunning).await;
        }
        // uid 1: its only step failed for good; uid 2: a step still pending; uid 3: no step.
        let query = |uid| {
            WeatherStep::Query(MinerRef {
                run_id: run.id,
                uid,
            })
            .step()
        };
        for uid in [1u8, 2] {
            ctx.store
                .enqueue_job(&query(uid).new_job(1, now), now)
                .await
                .unwrap();
        }
        let claimed = ctx
            .store
            .claim_job("t", now, std::time::Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.job_key, query(1).key());
        ctx.store
            .fail_job(claimed.id, "t", "connection refused", None, now)
            .await
            .unwrap();
        settle_abandoned(&ctx, run.id).await.unwrap();
        let after = ctx.store.list_responses(run.id).await.unwrap();
        let by_uid = |u: u8| after.iter().find(|r| r.miner_uid == u).unwrap();
        assert_eq!(by_uid(1).status, ResponseStatus::Failed);
        let reason = by_uid(1).error_message.clone().unwrap();
        assert!(
            reason.contains("weather.query: connection refused"),
            "{reason}"
        );
        assert_eq!(
            by_uid(2).status,
            ResponseStatus::InferenceRunning,
            "still has a step"
        );
        assert_eq!(
            by_uid(3).status,
            ResponseStatus::InferenceRunning,
            "no step yet"
        );
        assert_eq!(
            score_row_task_id(&run),
            format!(
                "weather_scores_{}_{}",
                run.id,
                run.gfs_init_time_utc.format("%Y%m%dT%H%MZ")
            )
        );
    }
}
