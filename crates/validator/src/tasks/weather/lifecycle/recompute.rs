//! `weather.recompute` (spec §1 schedule: `ops.recompute_scores_and_weights` at 00:00 and 12:00
//! UTC): for the most recent runs, re-aggregate every response's overall score from its stored
//! ERA5 leads (so a change to the aggregation rules is replayed over history, and rows written by
//! versions that aggregated only after the last lead catch up), then rebuild the run's score row.
//! A row maps each UID's *current* hotkey to that hotkey's latest score, so it goes stale when a
//! UID changes hands after the run's last step; the weights read these rows.
//!
//! It reads the responses' states, not their frozen manifests, and writes back only the results
//! that come out different from what is stored (`rewritten` in its outcome): at 256 miners it
//! goes over ~8 000 responses, and reading every manifest and rewriting every result twice a day
//! took longer than a soak's two-minute lease (docs/soak.md, the long run).

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
    let (mut responses, mut rewritten) = (0, 0);
    for run in &runs {
        // States only: the frozen manifests (tens of KB each) are not needed here, and the
        // recompute reads every response of 32 runs.
        for response in ctx.store.list_response_states(run.id).await? {
            if let Some(a) = aggregate_response(ctx, run, &response, Stage::Recompute).await? {
                responses += 1;
                rewritten += usize::from(a.written);
            }
        }
        rebuild_score_row(ctx, run, run.status == RunStatus::Completed).await?;
    }
    tracing::info!(
        runs = runs.len(),
        responses,
        rewritten,
        "overall scores and score rows of the recent runs rebuilt"
    );
    Ok(StepOutcome::Done(Some(json!({
        "rebuilt": runs.len(),
        "reaggregated": responses,
        "rewritten": rewritten,
    }))))
}
