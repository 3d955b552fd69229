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
}

/// A failed step: retried at `retry_at` while attempts remain, else it ends `failed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct StepError {
    /// What went wrong.
    pub reason: String,
    /// When to retry (`None`: do not).
    pub retry_at: Option<DateTime<Utc>>,
}

impl StepError {
    /// A failure worth retrying after `delay`.
    pub fn retry(reason: impl ToString, delay: chrono::Duration) -> Self {
        Self {
            reason: reason.to_string(),
            retry_at: Some(Utc::now() + delay),
        }
    }

    /// A failure not worth retrying.
    pub fn fatal(reason: impl ToString) -> Self {
        Self {
            reason: reason.to_string(),
            retry_at: None,
        }
    }
}

impl From<gaia_store::StoreError> for StepError {
    fn from(e: gaia_store::StoreError) -> Self {
        StepError::retry(format!("database: {e}"), chrono::Duration::seconds(30))
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
        if let Err(e) = recorded {
            self.metrics.pipeline.db_errors.inc();
            tracing::error!(parent: &span, error = %e, "cannot record the step's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use gaia_store::{JobStatus, NewJob, StoreConfig};
    use serde_json::json;

    /// Finishes `done`, asks `again` to run twice, fails `fatal` for good and `flaky` once.
    struct Script;

    impl StepHandler for Script {
        fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
            async move {
                match job.payload["kind"].as_str().unwrap_or("") {
                    "done" => Ok(StepOutcome::Done(Some(json!({"ok": job.id})))),
                    "again" if job.attempts < 2 => Ok(StepOutcome::Again {
                        at: Utc::now(),
                        reason: "not yet".into(),
                    }),
                    "again" => Ok(StepOutcome::Done(None)),
                    "flaky" if job.attempts < 2 => {
                        Err(StepError::retry("flaky", chrono::Duration::zero()))
                    }
                    "flaky" => Ok(StepOutcome::Done(None)),
                    _ => Err(StepError::fatal("broken")),
                }
            }
            .boxed()
        }
    }

    fn job(key: &str, job_type: &str, kind: &str) -> NewJob {
        NewJob {
            job_key: key.into(),
            job_type: job_type.into(),
            priority: 1,
            payload: json!({ "kind": kind }),
            max_attempts: 3,
            scheduled_at: Utc::now() - chrono::Duration::seconds(1),
            run_id: None,
        }
    }

    #[tokio::test]
    async fn steps_end_done_again_retried_or_failed_with_their_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/l.db", dir.path().display());
        let store = Store::open(&StoreConfig::new(url)).await.unwrap();
        let (metrics, _registry) = Metrics::new(None);
        let mut runner = LedgerRunner::new(
            store.clone(),
            RunnerConfig {
                slots: 2,
                lease: Duration::from_secs(30),
                idle_poll: Duration::from_millis(10),
            },
            metrics.clone(),
        );
        runner.register("t.script", Arc::new(Script));
        let mut ids = Vec::new();
        for (key, ty, kind) in [
            ("a", "t.script", "done"),
            ("b", "t.script", "again"),
            ("c", "t.script", "flaky"),
            ("d", "t.script", "fatal"),
            ("e", "t.unknown", "done"),
        ] {
            ids.push(
                store
                    .enqueue_job(&job(key, ty, kind), Utc::now())
                    .await
                    .unwrap()
                    .job_id,
            );
        }
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(runner.run(rx));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut done = true;
            for id in &ids {
                done &= store
                    .get_job(*id)
                    .await
                    .unwrap()
                    .unwrap()
                    .status
                    .is_terminal();
            }
            if done {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "jobs did not settle");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        handle.await.unwrap();
        let get = |i: usize| {
            let store = store.clone();
            let id = ids[i];
            async move { store.get_job(id).await.unwrap().unwrap() }
        };
        let a = get(0).await;
        assert_eq!(a.status, JobStatus::Succeeded);
        assert_eq!(a.result, Some(json!({"ok": a.id})));
        assert_eq!(get(1).await.status, JobStatus::Succeeded);
        assert_eq!(get(1).await.attempts, 2);
        assert_eq!(get(2).await.status, JobStatus::Succeeded);
        let d = get(3).await;
        assert_eq!(d.status, JobStatus::Failed);
        assert_eq!(d.last_error.as_deref(), Some("broken"));
        let e = get(4).await;
        assert_eq!(e.status, JobStatus::Failed);
        assert!(e.last_error.unwrap().contains("no handler for job type"));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &_registry).unwrap();
        assert!(
            text.contains(
                "gaia_weather_ledger_jobs_total{job_type=\"t.script\",outcome=\"failed\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn store_errors_become_retryable_step_errors() {
        let e: StepError = gaia_store::StoreError::NotFound { what: "x".into() }.into();
        assert!(e.retry_at.is_some() && e.reason.contains("database"));
        assert!(StepError::fatal("f").retry_at.is_none());
    }
}
