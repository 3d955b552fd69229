//! `weather.recompute` (spec §1 schedule: `ops.recompute_scores_and_weights` at 00:00 and 12:00
//! UTC): for the most recent runs, re-aggregate every response's overall score from its stored
//! ERA5 leads (so a change to the aggregation rules is replayed over history, and rows written by
//! versions that aggregated only after the last lead catch up), then rebuild the run's score row.
//! A row maps each UID's *current* hotkey to that hotkey's latest score, so it goes stale when a
//! UID changes hands after the run's last step; the weights read these rows.

use chrono::Duration;
use gaia_store::RunStatus;
use serde_json::json;

use super::aggregate::{aggregate_response, Stage};
use super::overall::rebuild_score_row;
use super::WeatherContext;
use crate::tasks::ledger::{StepError, StepOutcome};

/// How many recent runs are rebuilt (production: 32).
pub(crate) const RECENT_RUNS: usize = 32;

pub(super) async fn recompute_step(ctx: &WeatherContext) -> Result<StepOutcome, StepError> {
    // 32 daily runs fit in 40 days; the rows older than the 15-day weights window no longer count.
    let mut runs = ctx
        .store
        .list_runs_since(crate::clock::now() - Duration::days(40))
        .await?;
    runs.sort_by_key(|r| std::cmp::Reverse(r.gfs_init_time_utc));
    runs.truncate(RECENT_RUNS);
    let mut responses = 0;
    for run in &runs {
        for response in ctx.store.list_responses(run.id).await? {
            if aggregate_response(ctx, run, &response, Stage::Recompute)
                .await?
                .is_some()
            {
                responses += 1;
            }
        }
        rebuild_score_row(ctx, run, run.status == RunStatus::Completed).await?;
    }
    tracing::info!(
        runs = runs.len(),
        responses,
        "overall scores and score rows of the recent runs rebuilt"
    );
    Ok(StepOutcome::Done(Some(
        json!({ "rebuilt": runs.len(), "reaggregated": responses }),
    )))
}
