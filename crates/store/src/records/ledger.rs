//! Records of the work ledger: the durable queue of scheduled steps and compute jobs.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::status::JobStatus;

/// A job to enqueue; `job_key` is its identity (enqueueing the same key again is a no-op).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Unique key, e.g. `weather.day1:run=12:uid=7`.
    pub job_key: String,
    /// Job type (task name), e.g. `weather.day1`.
    pub job_type: String,
    /// Lower runs first.
    pub priority: i32,
    /// Input of the job.
    pub payload: Value,
    /// Claims allowed before the job ends `failed`/`quarantined`; at least 1.
    pub max_attempts: i32,
    /// Not claimable before this time.
    pub scheduled_at: DateTime<Utc>,
    /// Run the job belongs to (the job is deleted with the run).
    pub run_id: Option<i64>,
}

/// A row of `work_ledger`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Job {
    /// Primary key.
    pub id: i64,
    /// Unique key.
    pub job_key: String,
    /// Job type.
    pub job_type: String,
    /// Lower runs first.
    pub priority: i32,
    /// Input.
    #[sqlx(json)]
    pub payload: Value,
    /// State.
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    /// Claims so far.
    pub attempts: i32,
    /// Claims allowed.
    pub max_attempts: i32,
    /// Earliest claim time.
    pub scheduled_at: DateTime<Utc>,
    /// Earliest time of the next claim after a failure.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// End of the current lease.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Current (or last) lease holder.
    pub claimed_by: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Output, once succeeded.
    #[sqlx(json(nullable))]
    pub result: Option<Value>,
    /// Owning run.
    pub run_id: Option<i64>,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Outcome of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job with that key.
    pub job_id: i64,
    /// False when a job with that key already existed (nothing was written).
    pub created: bool,
}

/// What [`crate::Store::reap_expired_leases`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReapReport {
    /// Expired leases put back to `retry_scheduled`.
    pub requeued: u64,
    /// Expired leases whose attempts were exhausted, now `quarantined`.
    pub quarantined: u64,
}

/// What [`crate::Store::apply_retention`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Runs deleted (their responses, scores, stats, score rows and jobs went with them).
    pub runs: u64,
    /// Finished jobs not tied to a run, deleted because they were older than the cut-off.
    pub jobs: u64,
}

/// How a lease-checked finish (complete or fail) went, before it becomes a result or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The update applied; the job is now in this state.
    Applied(JobStatus),
    /// The job was already finished by this claimer (a retried call): nothing changed.
    AlreadyDone(JobStatus),
    /// Another claimer holds the job, or it is no longer in progress.
    LeaseLost,
    /// No such job.
    Missing,
}

/// Decide a finish whose conditional update touched no row, from the job's current state.
pub(crate) fn classify_unapplied(
    current: Option<(String, Option<String>)>,
    claimer: &str,
    done_states: &[JobStatus],
) -> Finish {
    match current {
        None => Finish::Missing,
        Some((status, holder)) => match status.parse::<JobStatus>() {
            Ok(s) if done_states.contains(&s) && holder.as_deref() == Some(claimer) => {
                Finish::AlreadyDone(s)
            }
            _ => Finish::LeaseLost,
        },
    }
}
