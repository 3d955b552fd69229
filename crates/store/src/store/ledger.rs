//! Work-ledger operations of [`Store`]: enqueue by key, claim with a lease, complete, fail with
//! retry, and reclaim expired leases.
//!
//! `max_attempts` is enforced: a job is claimable only while `attempts < max_attempts`; a
//! failure on the last attempt ends `failed`, and a lease that expires on the last attempt ends
//! `quarantined`. See docs/storage.md for the state diagram.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{on_backend, Store};
use crate::error::{StoreError, StoreResult};
use crate::records::ledger::{Enqueued, Finish, Job, NewJob, ReapReport};
use crate::records::status::JobStatus;

fn check_claimer(claimer: &str) -> StoreResult<()> {
    if claimer.trim().is_empty() {
        return Err(StoreError::InvalidInput {
            field: "claimer",
            reason: "must not be empty".into(),
        });
    }
    Ok(())
}

impl Store {
    /// Queue a job unless one with the same `job_key` exists (in any state); returns its id.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty key or type, or `max_attempts < 1`;
    /// [`StoreError::Query`] when the database fails.
    pub async fn enqueue_job(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Enqueued> {
        if job.job_key.trim().is_empty() {
            return Err(StoreError::InvalidInput {
                field: "NewJob.job_key",
                reason: "must not be empty".into(),
            });
        }
        if job.job_type.trim().is_empty() {
            return Err(StoreError::InvalidInput {
                field: "NewJob.job_type",
                reason: "must not be empty".into(),
            });
        }
        if job.max_attempts < 1 {
            return Err(StoreError::InvalidInput {
                field: "NewJob.max_attempts",
                reason: format!("must be at least 1, got {}", job.max_attempts),
            });
        }
        on_backend!(self, "enqueue_job", |q, p| q::enqueue_job(p, job, now))
    }

    /// Claim the most urgent claimable job for `claimer`, leased until `now + lease`.
    ///
    /// Claimable: `pending`/`retry_scheduled` and due, or `in_progress` with an expired lease,
    /// and `attempts < max_attempts`. Claiming counts an attempt. Ordered by priority (lower
    /// first), then `scheduled_at`, then id. A claimer holds at most one live lease: if it
    /// already holds one, that job is returned again (so a retried claim never strands a
    /// lease). Expired leases on their last attempt are quarantined first.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty claimer or a zero lease;
    /// [`StoreError::Query`] when the database fails.
    pub async fn claim_job(
        &self,
        claimer: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Option<Job>> {
        self.claim_job_of_type(claimer, "", now, lease).await
    }

    /// As [`Store::claim_job`], but only jobs whose `job_type` starts with `type_prefix` (e.g.
    /// `"weather."` for a heavy worker; `""` matches every job). The prefix is compared exactly
    /// (case-sensitive, no wildcards) on both backends.
    ///
    /// # Errors
    /// As [`Store::claim_job`].
    pub async fn claim_job_of_type(
        &self,
        claimer: &str,
        type_prefix: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Option<Job>> {
        check_claimer(claimer)?;
        let lease = chrono::Duration::from_std(lease)
            .ok()
            .filter(|d| *d > chrono::Duration::zero())
            .ok_or_else(|| StoreError::InvalidInput {
                field: "lease",
                reason: format!("must be positive and representable, got {lease:?}"),
            })?;
        let until = now + lease;
        on_backend!(self, "claim_job", |q, p| q::claim_job(
            p,
            claimer,
            type_prefix,
            now,
            until
        ))
    }

    /// Mark a job `succeeded` with an optional result. Repeating the call is harmless.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `claimer` no longer holds the job;
    /// [`StoreError::NotFound`] for an unknown job.
    pub async fn complete_job(
        &self,
        job_id: i64,
        claimer: &str,
        result: Option<&Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        check_claimer(claimer)?;
        let finish = on_backend!(self, "complete_job", |q, p| q::complete_job(
            p, job_id, claimer, result, now
        ))?;
        self.finish_outcome(finish, job_id, claimer).map(|_| ())
    }

    /// Record a failure. With `retry_at` and attempts left the job becomes `retry_scheduled`
    /// (claimable from `retry_at`, or from the earlier time a [`Store::wake_job`] set while it
    /// ran); otherwise it ends `failed`. Returns the new state.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `claimer` no longer holds the job;
    /// [`StoreError::NotFound`] for an unknown job.
    pub async fn fail_job(
        &self,
        job_id: i64,
        claimer: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<JobStatus> {
        check_claimer(claimer)?;
        let finish = on_backend!(self, "fail_job", |q, p| q::fail_job(
            p, job_id, claimer, error, retry_at, now
        ))?;
        self.finish_outcome(finish, job_id, claimer)
    }

    /// Put a claimed job back for `retry_at` **without spending the attempt its claim counted**:
    /// for failures of the validator's own infrastructure (a full disk, a database outage), which
    /// say nothing about the job and must not use up its `max_attempts`. The job becomes
    /// `retry_scheduled` with `error` as its last error.
    ///
    /// # Errors
    /// As [`Store::fail_job`].
    pub async fn defer_job(
        &self,
        job_id: i64,
        claimer: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<JobStatus> {
        check_claimer(claimer)?;
        let finish = on_backend!(self, "defer_job", |q, p| q::defer_job(
            p, job_id, claimer, error, retry_at, now
        ))?;
        self.finish_outcome(finish, job_id, claimer)
    }

    fn finish_outcome(&self, finish: Finish, job_id: i64, claimer: &str) -> StoreResult<JobStatus> {
        match finish {
            Finish::Applied(s) | Finish::AlreadyDone(s) => Ok(s),
            Finish::LeaseLost => Err(StoreError::LeaseLost {
                job_id,
                claimer: claimer.to_owned(),
            }),
            Finish::Missing => Err(StoreError::NotFound {
                what: format!("work_ledger id {job_id}"),
            }),
        }
    }

    /// Wake the job `job_key` because what it waits for has happened: a `retry_scheduled` job
    /// due later becomes due at `now`, and a job `in_progress` is marked so that, if its step
    /// then asks to run again later ([`Store::fail_job`] with a retry), it runs again from `now`
    /// instead (the wake is not lost to a step that looked a moment too early). A pending job
    /// keeps its schedule, and a finished one is left alone. Returns whether a job was woken.
    ///
    /// Steps that wait for other steps (a response's closing aggregation for its ERA5 leads)
    /// use this to wait long instead of polling.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn wake_job(&self, job_key: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        on_backend!(self, "wake_job", |q, p| q::wake_job(p, job_key, now))
    }

    /// Release every lease expired at `now`: back to `retry_scheduled` when attempts remain,
    /// else `quarantined`. (Claiming also takes over expired leases; this makes them visible.)
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn reap_expired_leases(&self, now: DateTime<Utc>) -> StoreResult<ReapReport> {
        on_backend!(self, "reap_expired_leases", |q, p| q::reap_expired_leases(
            p, now
        ))
    }

    /// The job with this id, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn get_job(&self, job_id: i64) -> StoreResult<Option<Job>> {
        on_backend!(self, "get_job", |q, p| q::get_job(p, job_id))
    }

    /// The job with this key, if any (keys are unique, whatever the job's state).
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn find_job_by_key(&self, job_key: &str) -> StoreResult<Option<Job>> {
        on_backend!(self, "find_job_by_key", |q, p| q::find_job_by_key(
            p, job_key
        ))
    }

    /// Every job tied to a run, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn list_jobs_for_run(&self, run_id: i64) -> StoreResult<Vec<Job>> {
        on_backend!(self, "list_jobs_for_run", |q, p| q::list_jobs_for_run(
            p, run_id
        ))
    }

    /// Number of jobs in a state.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn count_jobs(&self, status: JobStatus) -> StoreResult<i64> {
        on_backend!(self, "count_jobs", |q, p| q::count_jobs(p, status))
    }
}
