//! The scoring steps: Day-1 (`weather.day1`, spec §3) and one ERA5 lead (`weather.era5`,
//! spec §4). Each asks the miner for a fresh token (the stored URL, hash and frozen manifest
//! stay authoritative, spec §2.3), runs the score in the compute pool and stores the result.

use chrono::{DateTime, Utc};
use gaia_protocol::FrozenManifest;
use gaia_scoring::day1::Day1Report;
use gaia_scoring::day1::Day1Request;
use gaia_scoring::era5::Era5LeadReport;
use gaia_scoring::era5::{Era5Config, Era5Request};
use gaia_store::{
    ForecastStats, ForecastStatus, Job, MinerResponse, MinerScore, ResponseMilestone,
    ResponseState, ResponseStatus, Run,
};
use serde_json::json;

use super::aggregate::{aggregate_response, Stage};
use super::context::SETTLED;
use super::{overall, store_rows, WeatherContext};
use crate::io_engine::ComputeFailure;
use crate::jobs::weather::{ScoreDay1, ScoreEra5Lead};
use crate::jobs::{ComputeJob, FailureKind};
use crate::tasks::ledger::{StepError, StepOutcome};
use crate::tasks::steps::{LeadRef, ResponseRef, WeatherStep};
use crate::truth::sources::DataKind;

/// What a scoring step needs about its response, checked.
struct Scoring {
    run: Run,
    response: MinerResponse,
    url: String,
    token: String,
    frozen: serde_json::Value,
}

/// The stored frozen manifest in its typed form; a stored manifest that does not decode fails
/// the job as a request of the wrong shape did when the worker decoded it.
fn frozen_manifest(
    task: &str,
    stored: &serde_json::Value,
) -> Result<FrozenManifest, ComputeFailure> {
    serde_json::from_value(stored.clone()).map_err(|e| ComputeFailure {
        kind: FailureKind::Internal,
        message: format!("bad payload for {task}: frozen_manifest: {e}"),
    })
}

/// Load the response and its run, refresh the token; `Err(outcome)` when the step ends here.
async fn prepare(
    ctx: &WeatherContext,
    response_id: i64,
) -> Result<Result<Scoring, StepOutcome>, StepError> {
    let response = ctx.response(response_id).await?;
    if SETTLED.contains(&response.status) {
        let skipped = json!({"skipped": response.status.as_str()});
        return Ok(Err(StepOutcome::Done(Some(skipped))));
    }
    let run = ctx.run(response.run_id).await?;
    let (Some(url), Some(frozen), Some(job_id)) = (
        response.zarr_url.clone(),
        response.frozen_manifest.clone(),
        response.job_id.clone(),
    ) else {
        ctx.settle(
            &response,
            ResponseStatus::VerificationFailed,
            Some("missing frozen manifest at scoring"),
        )
        .await?;
        return Ok(Err(StepOutcome::Done(None)));
    };
    let node = ctx
        .store
        .list_nodes()
        .await?
        .into_iter()
        .find(|n| n.uid == response.miner_uid && n.hotkey == response.miner_hotkey);
    let Some(address) = node.and_then(|n| ctx.miner_address(&n).ok()) else {
        ctx.settle(
            &response,
            ResponseStatus::Failed,
            Some("miner deregistered before scoring"),
        )
        .await?;
        return Ok(Err(StepOutcome::Done(None)));
    };
    let answer = ctx
        .client
        .kerchunk(&address, &job_id)
        .await
        .map_err(|e| StepError::retry(format!("fresh token: {e}"), ctx.scoring_retry()))?;
    let location = ctx
        .client
        .store_location(&address, &answer)
        .map_err(|e| StepError::retry(format!("fresh token: {e}"), ctx.scoring_retry()))?;
    if Some(&location.claimed_hash) != response.verification_hash_claimed.as_ref() {
        ctx.settle(
            &response,
            ResponseStatus::VerificationError,
            Some("manifest hash changed after submission"),
        )
        .await?;
        return Ok(Err(StepOutcome::Done(None)));
    }
    Ok(Ok(Scoring {
        run,
        response,
        url,
        token: location.token,
        frozen,
    }))
}

/// A dataset's location for the valid time `gfs_init + lead_hours`, or "run again later" when
/// it is not there (or not downloaded) yet.
async fn locate(
    ctx: &WeatherContext,
    kind: DataKind,
    gfs_init: DateTime<Utc>,
    lead_hours: f64,
) -> Result<Result<String, StepOutcome>, StepError> {
    let valid = gfs_init + chrono::Duration::seconds((lead_hours * 3600.0).round() as i64);
    match ctx.sources.resolve_at(kind, gfs_init, Some(valid)).await {
        Ok(l) => Ok(Ok(l)),
        Err(e) => Ok(Err(StepOutcome::Again {
            at: Utc::now() + ctx.wait_retry(),
            reason: e.to_string(),
        })),
    }
}

macro_rules! ready {
    ($e:expr) => {
        match $e? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        }
    };
}

pub(super) async fn day1_step(
    ctx: &WeatherContext,
    job: &Job,
    p: ResponseRef,
) -> Result<StepOutcome, StepError> {
    // The miner's download turn comes first: a step that finds it taken yields at once,
    // without the database reads and the fresh-token request to the miner that preparing costs
    // (a slow miner's queued leads would otherwise ask it for a token on every turn they wait).
    let _turn = match ctx.download_slots.try_acquire(p.uid) {
        Ok(turn) => turn,
        Err(busy) => return Ok(ctx.busy(busy)),
    };
    let s = ready!(prepare(ctx, p.response_id).await);
    if s.response.status == ResponseStatus::Day1Scored {
        queue_era5(ctx, &s.run, &s.response).await?;
        return Ok(StepOutcome::Done(None));
    }
    let init = s.run.gfs_init_time_utc;
    let day1_lead = ctx.weather.day1_lead_hours;
    let truth = ready!(locate(ctx, DataKind::GfsAnalysis, init, day1_lead).await);
    let reference = ready!(locate(ctx, DataKind::GfsForecast, init, day1_lead).await);
    let climatology = ready!(locate(ctx, DataKind::Climatology, init, day1_lead).await);
    let result = match frozen_manifest(ScoreDay1::TASK, &s.frozen) {
        Ok(frozen) => {
            let request = Day1Request {
                forecast: s.url.clone(),
                truth,
                reference,
                climatology,
                bearer_token: Some(s.token.clone()),
                frozen_manifest: Some(frozen),
                gfs_init_time: init,
                lead_hours: day1_lead,
                valid_time: None,
                config: Default::default(),
                threads: ctx.weather.scoring_threads,
                miner_requests_per_minute: ctx.weather.miner_requests_per_minute,
                miner_download_deadline_s: ctx.weather.miner_download_deadline_s,
            };
            let id = format!("day1-{}-{}", s.response.id, job.attempts);
            ctx.compute::<ScoreDay1>(id, &request).await
        }
        Err(f) => Err(f),
    };
    let report: Day1Report = match result {
        Ok(report) => report,
        Err(f) if f.is_transient() => return Err(StepError::retry(f.message, ctx.scoring_retry())),
        Err(f) if f.is_verification() => {
            store_rows::day1_failure(ctx, &s.response, &s.run, &f.message).await?;
            ctx.settle(
                &s.response,
                ResponseStatus::VerificationFailed,
                Some(&f.message),
            )
            .await?;
            overall::refresh_score_row(ctx, &s.run, false).await;
            return Ok(StepOutcome::Done(None));
        }
        Err(f) if job.attempts < job.max_attempts => {
            return Err(StepError::retry(f.message, ctx.scoring_retry()))
        }
        Err(f) => {
            let reason = format!("Day-1 scoring failed: {}", f.message);
            store_rows::day1_failure(ctx, &s.response, &s.run, &reason).await?;
            ctx.settle(&s.response, ResponseStatus::Failed, Some(&reason))
                .await?;
            return Ok(StepOutcome::Done(None));
        }
    };
    store_rows::day1_report(ctx, &s.response, &s.run, &report).await?;
    ctx.store
        .update_response_status(s.response.id, ResponseStatus::Day1Scored, None)
        .await?;
    ctx.store
        .mark_response_milestone(
            s.response.id,
            ResponseMilestone::Day1ScoringCompleted,
            Utc::now(),
        )
        .await?;
    ctx.metrics.pipeline.miner_outcome("day1_scored");
    ctx.metrics.pipeline.score("day1");
    overall::refresh_score_row(ctx, &s.run, false).await;
    queue_era5(ctx, &s.run, &s.response).await?;
    Ok(StepOutcome::Done(Some(
        json!({"score": report.score, "clamped": report.clamped}),
    )))
}

/// Queue every ERA5 lead at its eligibility time, and the aggregation after the last.
async fn queue_era5(
    ctx: &WeatherContext,
    run: &Run,
    response: &MinerResponse,
) -> Result<(), StepError> {
    let init = run.gfs_init_time_utc;
    for lead in gaia_store::ERA5_LEADS {
        let step = WeatherStep::Era5(LeadRef {
            run_id: run.id,
            uid: response.miner_uid,
            response_id: response.id,
            lead_hours: lead.unsigned_abs(),
        });
        let eligible = crate::clock::current().to_wall(ctx.era5_eligible_at(init, lead));
        ctx.enqueue(step, ctx.weather.scoring_max_attempts, eligible)
            .await?;
    }
    let last = *gaia_store::ERA5_LEADS.last().unwrap_or(&240);
    let overall = WeatherStep::Overall(ResponseRef {
        run_id: run.id,
        uid: response.miner_uid,
        response_id: response.id,
    });
    let eligible = crate::clock::current().to_wall(ctx.era5_eligible_at(init, last));
    ctx.enqueue(overall, 10_000, eligible).await
}

pub(super) async fn era5_step(
    ctx: &WeatherContext,
    job: &Job,
    p: LeadRef,
) -> Result<StepOutcome, StepError> {
    let lead = p.lead_hours;
    let _turn = match ctx.download_slots.try_acquire(p.uid) {
        Ok(turn) => turn,
        Err(busy) => return Ok(ctx.busy(busy)),
    };
    let s = ready!(prepare(ctx, p.response_id).await);
    let init = s.run.gfs_init_time_utc;
    let truth = ready!(locate(ctx, DataKind::Era5, init, f64::from(lead)).await);
    let climatology = ready!(locate(ctx, DataKind::Climatology, init, f64::from(lead)).await);
    let result = match frozen_manifest(ScoreEra5Lead::TASK, &s.frozen) {
        Ok(frozen) => {
            let request = Era5Request {
                forecast: s.url.clone(),
                truth,
                climatology,
                bearer_token: Some(s.token.clone()),
                frozen_manifest: Some(frozen),
                gfs_init_time: init,
                lead_hours: lead,
                config: Era5Config {
                    threads: ctx.weather.scoring_threads,
                    profile: ctx.weather.scoring_profile,
                    miner_requests_per_minute: ctx.weather.miner_requests_per_minute,
                    miner_download_deadline_s: ctx.weather.miner_download_deadline_s,
                    ..Era5Config::default()
                },
            };
            let id = format!("era5-{}-{lead}-{}", s.response.id, job.attempts);
            ctx.compute::<ScoreEra5Lead>(id, &request).await
        }
        Err(f) => Err(f),
    };
    let report: Era5LeadReport = match result {
        Ok(report) => report,
        Err(f) if f.is_transient() => return Err(StepError::retry(f.message, ctx.scoring_retry())),
        Err(f) if f.is_verification() => {
            store_rows::era5_failure(ctx, &s.response, &s.run, lead, &f.message).await?;
            ctx.settle(
                &s.response,
                ResponseStatus::VerificationFailed,
                Some(&f.message),
            )
            .await?;
            return Ok(StepOutcome::Done(None));
        }
        Err(f) => {
            // Scoring failures are not retried (spec §1.6); the lead counts as missing.
            store_rows::era5_failure(ctx, &s.response, &s.run, lead, &f.message).await?;
            return Err(StepError::fatal(format!(
                "ERA5 lead {lead} h: {}",
                f.message
            )));
        }
    };
    store_rows::era5_report(ctx, &s.response, &s.run, &report).await?;
    if s.response.status != ResponseStatus::Era5Scoring {
        ctx.store
            .update_response_status(s.response.id, ResponseStatus::Era5Scoring, None)
            .await?;
        let mut stats = ForecastStats::new(
            s.run.id,
            s.response.miner_uid,
            &s.response.miner_hotkey,
            ForecastStatus::Era5Scoring,
            Utc::now(),
        );
        stats.current_forecast_stage = Some(format!("era5_{lead}h"));
        ctx.store.upsert_forecast_stats(&stats).await?;
    }
    ctx.metrics.pipeline.score("era5");
    ctx.metrics.pipeline.fetched("era5", &report.transfer);
    // §12-1: the overall score and the run's row grow with every lead, not only after the last.
    // The lead itself is stored: if this fails, the next lead or the final pass aggregates it.
    if let Err(e) = aggregate_response(
        ctx,
        &s.run,
        &ResponseState::from(&s.response),
        Stage::AfterLead(lead),
    )
    .await
    {
        tracing::warn!(
            response_id = s.response.id,
            lead_hours = lead,
            error = %e,
            "overall score not updated after this lead"
        );
    }
    let metrics = report.to_lead_metrics();
    let keep = serde_json::to_value(&metrics)
        .map_err(|e| StepError::fatal(format!("lead metrics: {e}")))?;
    Ok(StepOutcome::Done(Some(
        json!({ "lead_metrics": keep, "fetched": report.transfer }),
    )))
}

/// A score row for the response (used by the failure paths).
pub(super) fn miner_score(
    response: &ResponseState,
    score_type: &str,
    lead_hours: i32,
    variable_level: &str,
    valid_time: DateTime<Utc>,
    score: Option<f64>,
) -> MinerScore {
    MinerScore {
        response_id: response.id,
        run_id: response.run_id,
        miner_uid: response.miner_uid,
        miner_hotkey: response.miner_hotkey.clone(),
        score_type: score_type.to_string(),
        lead_hours,
        variable_level: variable_level.to_string(),
        valid_time_utc: valid_time,
        score: score.filter(|v| v.is_finite()),
        metrics: None,
        calculation_time: Utc::now(),
        error_message: None,
    }
}

#[cfg(test)]
#[path = "scoring_tests.rs"]
mod tests;
