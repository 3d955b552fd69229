//! The IO-Engine's ledger runner: claims lifecycle steps from the durable work ledger, runs each
//! with the handler registered for its `job_type`, and records the outcome (done, "again at",
//! or failed with a bounded retry).
//!
//! Every step of the weather lifecycle is a ledger record, so a restarted IO-Engine resumes where
//! it stopped: claimers have stable names (`io-engine/<slot>`), and the ledger hands a claimer
//! the job it held before the crash again. A lease keeps two claimers off the same step. Steps
//! are written to be repeatable: what they store is keyed, so running one twice writes the same
//! rows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use gaia_store::{Job, Store};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::tasks::steps::Step;
use crate::telemetry::metrics::Metrics;

/// How a step ended when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Finished; the value is kept as the job's result.
    Done(Option<Value>),
    /// Not finished: run it again at `at` (counts an attempt, bounded by `max_attempts`).
    Again {
        /// When to run again.
        at: DateTime<Utc>,
        /// Why (kept as the job's last error).
        reason: String,
    },
    /// Not started: what the step needs is busy (another step of the same miner reads its
    /// store). The slot is given back for other work and the step runs again at `at` without
    /// spending an attempt.
    Yield {
        /// When to try again.
        at: DateTime<Utc>,
        /// What it waits for (kept as the job's last error).
        reason: String,
    },
}

/// A failed step: retried at `retry_at` while attempts remain, else it ends `failed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct StepError {
    /// What went wrong.
    pub reason: String,
    /// When to retry (`None`: do not).
    pub retry_at: Option<DateTime<Utc>>,
    /// A fault of the validator's own infrastructure (the database or its disk): retried at
    /// `retry_at` without spending an attempt, however often it happens.
    pub infrastructure: bool,
}

impl StepError {
    /// A failure worth retrying after `delay`.
    pub fn retry(reason: impl ToString, delay: chrono::Duration) -> Self {
        Self {
            reason: reason.to_string(),
            retry_at: Some(Utc::now() + delay),
            infrastructure: false,
        }
    }

    /// A failure not worth retrying.
    pub fn fatal(reason: impl ToString) -> Self {
        Self {
            reason: reason.to_string(),
            retry_at: None,
            infrastructure: false,
        }
    }
}

impl From<gaia_store::StoreError> for StepError {
    fn from(e: gaia_store::StoreError) -> Self {
        let infrastructure = e.is_infrastructure();
        StepError {
            infrastructure,
            ..StepError::retry(format!("database: {e}"), chrono::Duration::seconds(30))
        }
    }
}

/// The future a step returns.
pub type StepFuture<'a> = BoxFuture<'a, Result<StepOutcome, StepError>>;

/// Runs the steps of some job types.
pub trait StepHandler: Send + Sync {
    /// Run one claimed job (its `attempts` already counts this run).
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a>;
}

/// Settings of the runner.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Steps run at once (one claimer each).
    pub slots: usize,
    /// Lease of a claimed step.
    pub lease: Duration,
    /// Pause after finding nothing to do.
    pub idle_poll: Duration,
    /// Job-type prefixes served by one extra slot of their own (`io-engine/reserved`), so they
    /// never wait behind steps that hold every general slot (a slow miner's scoring steps):
    /// the validator's own work, `weights.` and `metagraph.`. Empty: no reserved slot.
    pub reserved_prefixes: Vec<String>,
}

/// The ledger runner.
pub struct LedgerRunner {
    store: Store,
    handlers: HashMap<String, Arc<dyn StepHandler>>,
    config: RunnerConfig,
    metrics: Arc<Metrics>,
}

impl LedgerRunner {
    /// A runner with no handlers yet.
    pub fn new(store: Store, config: RunnerConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            handlers: HashMap::new(),
            config,
            metrics,
        }
    }

    /// Route `job_type` to `handler`.
    pub fn register(&mut self, job_type: &str, handler: Arc<dyn StepHandler>) {
        self.handlers.insert(job_type.to_string(), handler);
    }

    /// Run until `stop` turns true; in-flight steps finish first.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let mut slots = JoinSet::new();
        for slot in 0..me.config.slots.max(1) {
            slots.spawn(me.clone().slot_loop(slot, stop.clone()));
        }
        if !me.config.reserved_prefixes.is_empty() {
            slots.spawn(me.clone().reserved_loop(stop.clone()));
        }
        while slots.join_next().await.is_some() {}
    }

    async fn slot_loop(self: Arc<Self>, slot: usize, mut stop: watch::Receiver<bool>) {
        let claimer = format!("io-engine/{slot}");
        while !*stop.borrow() {
            let worked = match self
                .store
                .claim_job(&claimer, Utc::now(), self.config.lease)
                .await
            {
                Ok(Some(job)) => {
                    self.run_one(&claimer, job).await;
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    self.metrics.pipeline.db_errors.inc();
                    tracing::error!(error = %e, %claimer, "cannot claim from the work ledger");
                    false
                }
            };
            if slot == 0 {
                let (size, idle) = self.store.pool_stats();
                self.metrics.pipeline.set_db_pool(size, idle);
            }
            if !worked {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// The reserved slot: claims only jobs of the reserved prefixes, in their order.
    async fn reserved_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let claimer = "io-engine/reserved";
        while !*stop.borrow() {
            let mut worked = false;
            for prefix in &self.config.reserved_prefixes {
                match self
                    .store
                    .claim_job_of_type(claimer, prefix, Utc::now(), self.config.lease)
                    .await
                {
                    Ok(Some(job)) => {
                        self.run_one(claimer, job).await;
                        worked = true;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.metrics.pipeline.db_errors.inc();
                        tracing::error!(error = %e, claimer, "cannot claim from the work ledger");
                    }
                }
            }
            if !worked {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    async fn run_one(&self, claimer: &str, job: Job) {
        let span = tracing::info_span!(
            "step",
            job_id = job.id,
            task = %job.job_type,
            run_id = job.run_id,
            attempt = job.attempts
        );
        let outcome = match self.handlers.get(&job.job_type) {
            Some(handler) => tracing::Instrument::instrument(handler.run(&job), span.clone()).await,
            None => Err(StepError::fatal(format!(
                "no handler for job type {:?}",
                job.job_type
            ))),
        };
        let now = Utc::now();
        let (label, recorded) = match outcome {
            Ok(StepOutcome::Done(result)) => (
                "succeeded",
                self.store
                    .complete_job(job.id, claimer, result.as_ref(), now)
                    .await
                    .map(|_| ()),
            ),
            Ok(StepOutcome::Again { at, reason }) => (
                "retry",
                self.store
                    .fail_job(job.id, claimer, &reason, Some(at), now)
                    .await
                    .map(|_| ()),
            ),
            Ok(StepOutcome::Yield { at, reason }) => (
                "yielded",
                self.store
                    .defer_job(job.id, claimer, &reason, at, now)
                    .await
                    .map(|_| ()),
            ),
            Err(StepError {
                reason,
                retry_at: Some(at),
                infrastructure: true,
            }) => {
                tracing::warn!(parent: &span, error = %reason, "infrastructure fault; step deferred without spending an attempt");
                (
                    "deferred",
                    self.store
                        .defer_job(job.id, claimer, &reason, at, now)
                        .await
                        .map(|_| ()),
                )
            }
            Err(e) => {
                let last = job.attempts >= job.max_attempts || e.retry_at.is_none();
                let level_label = if last { "failed" } else { "retry" };
                if last {
                    tracing::warn!(parent: &span, error = %e.reason, "step failed for good");
                } else {
                    tracing::info!(parent: &span, error = %e.reason, "step failed; will retry");
                }
                (
                    level_label,
                    self.store
                        .fail_job(job.id, claimer, &e.reason, e.retry_at, now)
                        .await
                        .map(|_| ()),
                )
            }
        };
        self.metrics.pipeline.ledger_job(&job.job_type, label);
        match recorded {
            Ok(()) if matches!(label, "succeeded" | "failed") => {
                self.wake_waiter(&job, now, &span).await;
            }
            Ok(()) => {}
            Err(e) => {
                self.metrics.pipeline.db_errors.inc();
                tracing::error!(parent: &span, error = %e, "cannot record the step's outcome");
            }
        }
    }

    /// The step ended for good: wake the step waiting for it (see [`Step::waiter`]). A wake
    /// that cannot be written only costs time: the waiter also looks again on its own.
    async fn wake_waiter(&self, job: &Job, now: DateTime<Utc>, span: &tracing::Span) {
        let Some(waiter) = Step::from_job(job).ok().and_then(|s| s.waiter()) else {
            return;
        };
        if let Err(e) = self.store.wake_job(&waiter.key(), now).await {
            self.metrics.pipeline.db_errors.inc();
            tracing::warn!(parent: span, error = %e, waiter = %waiter.key(), "cannot wake the waiting step");
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
