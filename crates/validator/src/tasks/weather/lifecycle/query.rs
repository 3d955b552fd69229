//! The query step (`weather.query`, spec §1.1, §1.4, §2.2): ask a miner for its forecast,
//! poll until it is ready, then verify and freeze its manifest and queue the Day-1 score.
//!
//! One ledger job carries the whole exchange; each run of it does one thing (initiate, or one
//! poll, or the verification) and asks to run again after the poll interval. Its attempts are
//! bounded by the retries of initiate-fetch plus the poll limit; on the last one the miner is
//! settled with a named status, so no miner is left open.

use chrono::{Duration, Utc};
use gaia_protocol::VerifyManifestReport;
use gaia_scoring::verify::RemoteManifestRequest;
use gaia_store::{
    Job, MinerResponse, NewResponse, ResponseMilestone, ResponseStatus, Run, Verification,
};
use serde_json::json;

use super::context::SETTLED;
use super::WeatherContext;
use crate::jobs::weather::{ManifestSource, VerifyManifest};
use crate::miners::client::{MinerError, StoreLocation};
use crate::miners::url_policy::MinerAddress;
use crate::tasks::ledger::{StepError, StepOutcome};
use crate::tasks::steps::{MinerRef, ResponseRef, WeatherStep};

/// Poll answers meaning "still working" (spec §1.4).
const PROCESSING: [&str; 5] = [
    "processing",
    "received",
    "running",
    "running_inference",
    "processing_output",
];
/// Poll answers meaning the miner gave up.
const FAILED: [&str; 6] = [
    "failed",
    "error",
    "fetch_error",
    "input_hash_mismatch",
    "input_hash_timeout",
    "input_poll_error",
];

pub(super) async fn query_step(
    ctx: &WeatherContext,
    job: &Job,
    p: MinerRef,
) -> Result<StepOutcome, StepError> {
    let run = ctx.run(p.run_id).await?;
    let response = ctx.response_of(p.run_id, p.uid).await?;
    let done_states = [
        ResponseStatus::VerifiedManifestStoreOpened,
        ResponseStatus::Day1Scored,
        ResponseStatus::Era5Scoring,
    ];
    if response.status == ResponseStatus::VerifiedManifestStoreOpened {
        // Verified before a crash cut the step short: make sure Day-1 is queued.
        queue_day1(ctx, &run, &response).await?;
        return Ok(StepOutcome::Done(None));
    }
    if SETTLED.contains(&response.status) || done_states.contains(&response.status) {
        return Ok(StepOutcome::Done(None));
    }
    let node = ctx
        .store
        .list_nodes()
        .await?
        .into_iter()
        .find(|n| n.uid == p.uid && n.hotkey == response.miner_hotkey);
    let Some(node) = node else {
        ctx.settle(
            &response,
            ResponseStatus::Failed,
            Some("miner deregistered or hotkey changed"),
        )
        .await?;
        return Ok(StepOutcome::Done(None));
    };
    let address = match ctx.miner_address(&node) {
        Ok(a) => a,
        Err(reason) => {
            ctx.settle(&response, ResponseStatus::Failed, Some(&reason))
                .await?;
            return Ok(StepOutcome::Done(None));
        }
    };
    let last_attempt = job.attempts >= job.max_attempts;
    match response.job_id.clone() {
        None => initiate(ctx, job, &run, &response, &address).await,
        Some(job_id) => poll(ctx, &run, &response, &address, &job_id, last_attempt).await,
    }
}

async fn initiate(
    ctx: &WeatherContext,
    job: &Job,
    run: &Run,
    response: &MinerResponse,
    address: &MinerAddress,
) -> Result<StepOutcome, StepError> {
    let answer = ctx
        .client
        .initiate_fetch(
            address,
            run.gfs_init_time_utc,
            &ctx.validator_hotkey,
            &response.miner_hotkey,
        )
        .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            let delays = &ctx.weather.query_retry_delays_s;
            let tried = usize::try_from(job.attempts).unwrap_or(usize::MAX);
            if tried <= delays.len() {
                let delay = Duration::seconds(i64::try_from(delays[tried - 1]).unwrap_or(60));
                return Ok(StepOutcome::Again {
                    at: Utc::now() + delay,
                    reason: format!("initiate-fetch attempt {tried}: {e}"),
                });
            }
            let reason = format!("no answer to initiate-fetch after {tried} attempts: {e}");
            ctx.settle(response, ResponseStatus::MinerOffline, Some(&reason))
                .await?;
            return Ok(StepOutcome::Done(None));
        }
    };
    let status = answer.status.as_deref().unwrap_or("");
    let Some(job_id) = answer.job_id.clone().filter(|j| !j.trim().is_empty()) else {
        let reason = format!(
            "initiate-fetch answered {status:?} without a job id: {}",
            answer.message.as_deref().unwrap_or("")
        );
        ctx.settle(response, ResponseStatus::Failed, Some(&reason))
            .await?;
        return Ok(StepOutcome::Done(None));
    };
    let others = ctx.store.list_response_states(run.id).await?;
    if let Some(other) = others
        .iter()
        .find(|r| r.miner_uid != response.miner_uid && r.job_id.as_deref() == Some(&job_id))
    {
        let reason = format!(
            "job id {job_id} already belongs to uid {} (same IP:port serving several miners)",
            other.miner_uid
        );
        ctx.settle(response, ResponseStatus::Failed, Some(&reason))
            .await?;
        return Ok(StepOutcome::Done(None));
    }
    let expected = gaia_protocol::weather_job_id(run.gfs_init_time_utc, &response.miner_hotkey);
    if job_id != expected {
        tracing::info!(miner_uid = response.miner_uid, %job_id, %expected, "miner job id is not the deterministic one");
    }
    ctx.store
        .upsert_response(&NewResponse {
            run_id: run.id,
            miner_uid: response.miner_uid,
            miner_hotkey: response.miner_hotkey.clone(),
            job_id: Some(job_id.clone()),
            zarr_url: None,
            verification_hash_claimed: None,
            status: ResponseStatus::InferenceRunning,
            response_time: Utc::now(),
        })
        .await?;
    ctx.store
        .mark_response_milestone(response.id, ResponseMilestone::JobAccepted, Utc::now())
        .await?;
    if status == "completed" || status == "forecast_ready" {
        let address = address.clone();
        return verify(ctx, run, response, &address, &job_id, false).await;
    }
    Ok(StepOutcome::Again {
        at: Utc::now() + poll_interval(ctx),
        reason: format!("miner accepted job {job_id}; first poll after the interval"),
    })
}

/// When the poll budget runs out: `max_poll_attempts` intervals after the job was accepted.
fn poll_deadline(ctx: &WeatherContext, response: &MinerResponse) -> chrono::DateTime<Utc> {
    let start = response.job_accepted_at.unwrap_or(response.response_time);
    start + poll_interval(ctx) * i32::try_from(ctx.weather.max_poll_attempts).unwrap_or(i32::MAX)
}

fn poll_interval(ctx: &WeatherContext) -> Duration {
    Duration::seconds(i64::try_from(ctx.weather.poll_interval_s).unwrap_or(300))
}

async fn poll(
    ctx: &WeatherContext,
    run: &Run,
    response: &MinerResponse,
    address: &MinerAddress,
    job_id: &str,
    last_attempt: bool,
) -> Result<StepOutcome, StepError> {
    let polls = response.retry_count + 1;
    let answer = ctx.client.poll(address, job_id).await;
    // A failed job answers with HTTP 500 `{"error": "Internal server error: FETCH_ERROR"}`,
    // never a `fetch_error` status: that answer is terminal (issue "real miners", item 4).
    if let Err(MinerError::Status {
        status: 500,
        detail,
        ..
    }) = &answer
    {
        if detail.contains("FETCH_ERROR") {
            let reason = format!("miner reported fetch_error: {detail}");
            ctx.settle(response, ResponseStatus::Failed, Some(&reason))
                .await?;
            return Ok(StepOutcome::Done(None));
        }
    }
    let status = match &answer {
        Ok(a) => a.status.clone().unwrap_or_default(),
        Err(e) => format!("no answer ({e})"),
    };
    if status == "completed" {
        return verify(ctx, run, response, address, job_id, last_attempt).await;
    }
    if FAILED.contains(&status.as_str()) {
        let message = answer.ok().and_then(|a| a.message).unwrap_or_default();
        let reason = format!("miner reported {status}: {message}");
        ctx.settle(response, ResponseStatus::Failed, Some(&reason))
            .await?;
        return Ok(StepOutcome::Done(None));
    }
    if !PROCESSING.contains(&status.as_str()) {
        tracing::info!(miner_uid = response.miner_uid, %status, "unexpected poll answer; polling again");
    }
    let max = i32::try_from(ctx.weather.max_poll_attempts).unwrap_or(i32::MAX);
    // A miner busy building its store may answer a poll late: without an answer the budget
    // ends at its deadline (polls × interval after the job was accepted), not at the count.
    let deadline = poll_deadline(ctx, response);
    let unanswered = answer.is_err();
    if polls >= max && unanswered && !last_attempt && Utc::now() < deadline {
        let next = deadline.min(Utc::now() + poll_interval(ctx));
        ctx.store
            .set_response_retry(response.id, polls, Some(next))
            .await?;
        return Ok(StepOutcome::Again {
            at: next,
            reason: format!("poll {polls}/{max}: {status}; waiting for an answer until {deadline}"),
        });
    }
    if polls >= max || last_attempt {
        let reason = format!("no forecast after {polls} polls (last answer: {status})");
        ctx.settle(response, ResponseStatus::Failed, Some(&reason))
            .await?;
        return Ok(StepOutcome::Done(None));
    }
    let next = Utc::now() + poll_interval(ctx);
    ctx.store
        .set_response_retry(response.id, polls, Some(next))
        .await?;
    Ok(StepOutcome::Again {
        at: next,
        reason: format!("poll {polls}/{max}: {status}"),
    })
}

/// The miner reports its forecast ready: locate its store, check the freeze window, then verify
/// and freeze the manifest.
async fn verify(
    ctx: &WeatherContext,
    run: &Run,
    response: &MinerResponse,
    address: &MinerAddress,
    job_id: &str,
    last_attempt: bool,
) -> Result<StepOutcome, StepError> {
    ctx.store
        .mark_response_milestone(
            response.id,
            ResponseMilestone::InferenceCompleted,
            Utc::now(),
        )
        .await?;
    let location = match locate_store(ctx, response, address, job_id, last_attempt).await? {
        Ok(location) => location,
        Err(outcome) => return Ok(outcome),
    };
    let window = Duration::milliseconds((ctx.weather.manifest_freeze_window_hours * 3.6e6) as i64);
    if crate::clock::now() > run.run_initiation_time + window {
        let reason = format!(
            "manifest not frozen within {} h of the run start",
            ctx.weather.manifest_freeze_window_hours
        );
        ctx.settle(response, ResponseStatus::VerificationError, Some(&reason))
            .await?;
        return Ok(StepOutcome::Done(None));
    }
    ctx.store
        .upsert_response(&NewResponse {
            run_id: run.id,
            miner_uid: response.miner_uid,
            miner_hotkey: response.miner_hotkey.clone(),
            job_id: Some(job_id.to_string()),
            zarr_url: Some(location.url.clone()),
            verification_hash_claimed: Some(location.claimed_hash.clone()),
            status: ResponseStatus::VerifyingManifest,
            response_time: Utc::now(),
        })
        .await?;
    verify_and_freeze(ctx, run, response, &location).await
}

/// Ask the miner where its finished store is (kerchunk) and check the answer against the URL
/// policy; `Err(outcome)` when the step ends or runs again here.
async fn locate_store(
    ctx: &WeatherContext,
    response: &MinerResponse,
    address: &MinerAddress,
    job_id: &str,
    last_attempt: bool,
) -> Result<Result<StoreLocation, StepOutcome>, StepError> {
    let answer = match ctx.client.kerchunk(address, job_id).await {
        Ok(a) if a.status.as_deref() == Some("completed") => a,
        other => {
            let reason = match other {
                Ok(a) => format!(
                    "kerchunk answered {:?} after the miner reported completed",
                    a.status
                ),
                Err(e) => format!("kerchunk: {e}"),
            };
            if last_attempt {
                ctx.settle(response, ResponseStatus::Failed, Some(&reason))
                    .await?;
                return Ok(Err(StepOutcome::Done(None)));
            }
            ctx.settle(
                response,
                ResponseStatus::AwaitingMinerCompletion,
                Some(&reason),
            )
            .await?;
            return Ok(Err(StepOutcome::Again {
                at: Utc::now() + poll_interval(ctx),
                reason,
            }));
        }
    };
    match ctx.client.store_location(address, &answer) {
        Ok(location) => Ok(Ok(location)),
        Err(e) => {
            let reason = format!("store location refused: {e}");
            ctx.settle(response, ResponseStatus::VerificationFailed, Some(&reason))
                .await?;
            Ok(Err(StepOutcome::Done(None)))
        }
    }
}

/// Verify the manifest in the pool (hash, signer, signature, policy) and freeze it; a verified
/// response gets its Day-1 step.
async fn verify_and_freeze(
    ctx: &WeatherContext,
    run: &Run,
    response: &MinerResponse,
    location: &StoreLocation,
) -> Result<StepOutcome, StepError> {
    let request = ManifestSource::Remote(RemoteManifestRequest {
        store_url: location.url.clone(),
        bearer_token: Some(location.token.clone()),
        claimed_hash: location.claimed_hash.clone(),
        miner_hotkey_ss58: response.miner_hotkey.clone(),
        require_sha256: ctx.weather.require_sha256_manifests,
        timeout_seconds: Some(60),
    });
    let result = ctx
        .compute::<VerifyManifest>(format!("verify-{}", response.id), &request)
        .await;
    let report: VerifyManifestReport = match result {
        Ok(report) => report,
        Err(f) if f.is_transient() => {
            return Err(StepError::retry(
                format!("manifest verification: {}", f.message),
                poll_interval(ctx),
            ))
        }
        Err(f) => {
            ctx.store
                .record_verification(
                    response.id,
                    &Verification {
                        hash_computed: None,
                        passed: false,
                        frozen_manifest: None,
                        manifest_frozen_at: None,
                    },
                )
                .await?;
            ctx.settle(
                response,
                ResponseStatus::VerificationFailed,
                Some(&f.message),
            )
            .await?;
            return Ok(StepOutcome::Done(None));
        }
    };
    let frozen = serde_json::to_value(&report.frozen)
        .map_err(|e| StepError::fatal(format!("frozen manifest: {e}")))?;
    ctx.store
        .record_verification(
            response.id,
            &Verification {
                hash_computed: Some(report.verification_hash.clone()),
                passed: true,
                frozen_manifest: Some(frozen),
                manifest_frozen_at: Some(Utc::now()),
            },
        )
        .await?;
    ctx.store
        .update_response_status(
            response.id,
            ResponseStatus::VerifiedManifestStoreOpened,
            None,
        )
        .await?;
    queue_day1(ctx, run, response).await?;
    Ok(StepOutcome::Done(Some(json!({
        "verification_hash": report.verification_hash,
        "files": report.file_count,
    }))))
}

/// Queue the Day-1 step of a verified response (a no-op when it is queued already).
async fn queue_day1(
    ctx: &WeatherContext,
    run: &Run,
    response: &MinerResponse,
) -> Result<(), StepError> {
    let day1 = WeatherStep::Day1(ResponseRef {
        run_id: run.id,
        uid: response.miner_uid,
        response_id: response.id,
    });
    ctx.enqueue(day1, ctx.weather.scoring_max_attempts, Utc::now())
        .await
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
