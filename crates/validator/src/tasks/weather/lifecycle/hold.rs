//! Holding a run whose day failed on the validator's side (issue 15): a run is not completed,
//! and no weights are asked for on its completion, when not a single miner failed for a reason
//! of its own. A miner's own reasons are the named outcomes (offline, verification failed,
//! scoring failed, ...), which its steps record and then end as succeeded. A response that
//! ended `failed` because its steps failed for good (retries spent, quarantined) carries no such
//! reason: the step could not tell whose fault it was. When every response of a run ended that
//! way — the pattern of a full disk, a lost truth source or a broken worker pool — the finalize
//! step waits and says why instead of writing an all-zero day into the 15-day window.

use gaia_store::{Job, JobStatus, ResponseState, ResponseStatus};

use crate::tasks::steps::steps_of_miner;

/// Why the run must not be finalized, when every response of it failed for good without a
/// named outcome; `None` when at least one miner scored or failed for a reason of its own.
pub(super) fn validator_side_day(responses: &[ResponseState], jobs: &[Job]) -> Option<String> {
    if responses.is_empty() {
        return None;
    }
    let mut latest: Option<&Job> = None;
    for response in responses {
        if response.status != ResponseStatus::Failed {
            return None;
        }
        let failed_step = steps_of_miner(jobs, response.miner_uid)
            .filter(|j| matches!(j.status, JobStatus::Failed | JobStatus::Quarantined))
            .max_by_key(|j| j.updated_at)?;
        if latest.is_none_or(|l| failed_step.updated_at > l.updated_at) {
            latest = Some(failed_step);
        }
    }
    let last = latest?;
    Some(format!(
        "held: all {} miners failed without a reason of their own (their steps failed for good; \
         latest {} {}: {}): a validator-side fault is likely, so the run is not completed and no \
         weights are set from it; fix the cause (logs, `gaia-validator status`) — the run stays \
         held, checked every WEATHER__WAIT_RETRY_S",
        responses.len(),
        last.job_type,
        last.job_key,
        last.last_error.as_deref().unwrap_or("no error recorded"),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::tasks::ledger::StepOutcome;
    use crate::tasks::steps::{MinerRef, RunRef, Step, WeatherStep, WeightsTrigger};
    use crate::tasks::weather::lifecycle::test_support::{add_miner, create_run, job};

    #[tokio::test]
    async fn only_a_day_without_any_miner_outcome_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = super::super::test_context(dir.path()).await;
        let now = Utc::now();
        let run = create_run(&ctx).await;
        for uid in [1u8, 2] {
            add_miner(&ctx, &run, uid, 1, ResponseStatus::InferenceRunning).await;
            let query = WeatherStep::Query(MinerRef {
                run_id: run.id,
                uid,
            })
            .step();
            ctx.store
                .enqueue_job(&query.new_job(1, now), now)
                .await
                .unwrap();
            let claimed = ctx
                .store
                .claim_job("t", now, std::time::Duration::from_secs(60))
                .await
                .unwrap()
                .unwrap();
            ctx.store
                .fail_job(claimed.id, "t", "database: disk full", None, now)
                .await
                .unwrap();
        }
        let responses = || async { ctx.store.list_response_states(run.id).await.unwrap() };
        let jobs = ctx.store.list_jobs_for_run(run.id).await.unwrap();
        // Still open: nothing to say yet.
        assert_eq!(validator_side_day(&responses().await, &jobs), None);
        assert_eq!(validator_side_day(&[], &jobs), None);
        let settle = |uid: u8, status: ResponseStatus| {
            let ctx = &ctx;
            async move {
                let r = ctx.response_of(run.id, uid).await.unwrap();
                ctx.settle(&r, status, Some("why")).await.unwrap();
            }
        };
        settle(1, ResponseStatus::Failed).await;
        settle(2, ResponseStatus::Failed).await;
        let why = validator_side_day(&responses().await, &jobs).expect("held");
        assert!(
            why.contains("all 2 miners") && why.contains("database: disk full"),
            "{why}"
        );
        // The finalize step waits and says why; the run is not completed, no weights asked.
        let finalize = job(WeatherStep::Finalize(RunRef { run_id: run.id }), 1);
        match super::super::handle(&ctx, &finalize).await {
            Ok(StepOutcome::Again { reason, .. }) => {
                assert!(reason.starts_with("held:"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let held = ctx.store.get_run(run.id).await.unwrap().unwrap();
        assert_ne!(held.status, gaia_store::RunStatus::Completed);
        assert!(held.error_message.unwrap_or_default().starts_with("held:"));
        let weights = Step::SetWeights(WeightsTrigger::run_completed(run.id)).key();
        assert!(
            ctx.store
                .find_job_by_key(weights.as_str())
                .await
                .unwrap()
                .is_none(),
            "no weights asked for from a held run"
        );
        // One miner with a reason of its own (here: offline) and the day is the miners'.
        settle(2, ResponseStatus::MinerOffline).await;
        assert_eq!(validator_side_day(&responses().await, &jobs), None);
        // A failed response whose steps all succeeded failed for a named reason.
        settle(2, ResponseStatus::Failed).await;
        let succeeded: Vec<Job> = jobs
            .iter()
            .cloned()
            .map(|mut j| {
                if j.job_key.ends_with(":2") {
                    j.status = JobStatus::Succeeded;
                }
                j
            })
            .collect();
        assert_eq!(validator_side_day(&responses().await, &succeeded), None);
    }
}
