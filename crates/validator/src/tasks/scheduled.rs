//! The validator's scheduled tasks and the loop that fires them. Each [`GaiaTask`] only queues a
//! keyed step in the work ledger (the ledger runner does the work), so firing an occurrence
//! twice — at start-up catch-up and again on time — queues it once.
//!
//! | task | default cron (UTC) | queues |
//! |---|---|---|
//! | `weather` | `0 18 * * *` (+ jitter) | `weather.run:<day's 00Z>` |
//! | `weights` | every minute | `weights.set:<minute>` when ≥ 250 blocks since the last update |
//! | `metagraph` | every 20 min | `metagraph.sync:<minute>` |
//! | `maintenance` | every 5 min | nothing: reaps expired leases, applies run retention |

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use gaia_store::{Enqueued, Store};
use rand::Rng;
use tokio::sync::watch;

use super::schedule::Schedule;
use super::steps::{Occurrence, RunPayload, Step, WeatherStep, WeightsTrigger};
use super::weights::{WeightsMode, SHADOW_DETAIL};
use super::{GaiaTask, JobFuture, TaskError};
use crate::chain::offline::latest_weights_block;
use crate::chain::Chain;
use crate::truth::cache::TruthCache;

fn failed(task: &str, e: impl ToString) -> TaskError {
    TaskError::Failed {
        task: task.to_string(),
        reason: e.to_string(),
    }
}

async fn enqueue(
    store: &Store,
    task: &str,
    step: Step,
    at: DateTime<Utc>,
    max_attempts: u32,
) -> Result<(), TaskError> {
    store
        .enqueue_job(&step.new_job(max_attempts, at), Utc::now())
        .await
        .map(|_| ())
        .map_err(|e| failed(task, e))
}

/// Queue the weather run of the cycle of `day` (that day's 00Z GFS init), claimable from `at`:
/// what the daily `weather` task does, and `gaia-validator run-now`. Keyed by the cycle, so a
/// run already queued (in any state) is not queued again. Returns the step's key and the
/// ledger's answer.
///
/// # Errors
/// [`TaskError::Failed`] when the database refuses the job.
pub async fn queue_weather_run(
    store: &Store,
    day: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(String, Enqueued), TaskError> {
    let gfs_init = day
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| failed("weather", "no midnight on that day"))?;
    let run = WeatherStep::Run(RunPayload { gfs_init }).step();
    let key = run.key();
    let enqueued = store
        .enqueue_job(&run.new_job(WEATHER_RUN_ATTEMPTS, at), Utc::now())
        .await
        .map_err(|e| failed("weather", e))?;
    Ok((key, enqueued))
}

/// Claims a weather run step gets.
const WEATHER_RUN_ATTEMPTS: u32 = 5;

/// The daily weather run.
pub struct WeatherRunTask {
    /// The database.
    pub store: Store,
    /// Cron pattern.
    pub cron: String,
    /// Jitter bound (minutes).
    pub jitter_minutes: u32,
}

impl GaiaTask for WeatherRunTask {
    fn name(&self) -> &str {
        "weather"
    }
    fn cron_schedule(&self) -> &str {
        &self.cron
    }
    fn run_scheduled_job(&self, occurrence: DateTime<Utc>) -> JobFuture<'_> {
        async move {
            let jitter = rand::rng().random_range(0..=i64::from(self.jitter_minutes) * 60);
            // The occurrence is business time; the ledger claims it on the wall clock.
            let at = crate::clock::current().to_wall(occurrence + Duration::seconds(jitter));
            queue_weather_run(&self.store, occurrence, at)
                .await
                .map(|_| ())
        }
        .boxed()
    }
}

/// The weights check: queues a weight setting when the chain says it is due.
pub struct WeightsCheckTask {
    /// The database.
    pub store: Store,
    /// The chain.
    pub chain: Arc<dyn Chain>,
    /// Cron pattern.
    pub cron: String,
    /// Blocks between two settings.
    pub interval_blocks: u64,
    /// Off, shadow or on.
    pub mode: WeightsMode,
}

impl WeightsCheckTask {
    /// The block of the latest weights recorded in shadow mode (0: none).
    async fn last_shadow_block(&self) -> Result<u64, TaskError> {
        let shadow = |r: &gaia_store::WeightRecord| {
            r.outcome == gaia_store::WeightOutcome::Skipped
                && r.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with(SHADOW_DETAIL))
        };
        latest_weights_block(&self.store, shadow)
            .await
            .map_err(|e| failed("weights", e))
    }
}

impl GaiaTask for WeightsCheckTask {
    fn name(&self) -> &str {
        "weights"
    }
    fn cron_schedule(&self) -> &str {
        &self.cron
    }
    fn run_scheduled_job(&self, occurrence: DateTime<Utc>) -> JobFuture<'_> {
        async move {
            let current = self
                .chain
                .current_block()
                .await
                .map_err(|e| failed("weights", e))?;
            let mut last = self
                .chain
                .last_update_block()
                .await
                .map_err(|e| failed("weights", e))?;
            if self.mode == WeightsMode::Shadow {
                // Nothing reaches the chain in shadow mode, so LastUpdate never moves: the
                // cadence follows the last weights recorded in shadow instead.
                last = last.max(self.last_shadow_block().await?);
            }
            if !gaia_scoring::weights::weights_due(current, last, 0, self.interval_blocks) {
                return Ok(());
            }
            let step = Step::SetWeights(WeightsTrigger::cadence(occurrence));
            enqueue(&self.store, "weights", step, Utc::now(), 3).await
        }
        .boxed()
    }
}

/// A ledger step queued at every occurrence of a cron pattern, keyed by the occurrence so a
/// repeated occurrence queues nothing twice: the metagraph sync, the twice-daily score-row
/// recompute.
pub struct PeriodicStepTask {
    /// The database.
    pub store: Store,
    /// Cron pattern.
    pub cron: String,
    /// Task name (logs, errors).
    pub name: &'static str,
    /// The ledger step queued for an occurrence.
    pub step: fn(Occurrence) -> Step,
}

impl GaiaTask for PeriodicStepTask {
    fn name(&self) -> &str {
        self.name
    }
    fn cron_schedule(&self) -> &str {
        &self.cron
    }
    fn run_scheduled_job(&self, occurrence: DateTime<Utc>) -> JobFuture<'_> {
        async move {
            let step = (self.step)(Occurrence::at(occurrence));
            enqueue(&self.store, self.name, step, Utc::now(), 3).await
        }
        .boxed()
    }
}

/// Lease reaping and run retention.
pub struct MaintenanceTask {
    /// The database.
    pub store: Store,
    /// Cron pattern (production: every 5 minutes).
    pub cron: String,
    /// Runs older than this many days are deleted.
    pub retention_days: u32,
    /// Mirrored truth stores and how long they are kept.
    pub truth_cache: Option<(TruthCache, std::time::Duration)>,
}

impl GaiaTask for MaintenanceTask {
    fn name(&self) -> &str {
        "maintenance"
    }
    fn cron_schedule(&self) -> &str {
        &self.cron
    }
    fn run_scheduled_job(&self, _occurrence: DateTime<Utc>) -> JobFuture<'_> {
        async move {
            // Leases are wall time; run retention counts business days.
            let reaped = self
                .store
                .reap_expired_leases(Utc::now())
                .await
                .map_err(|e| failed("maintenance", e))?;
            let removed = self
                .store
                .apply_retention(self.retention_days, crate::clock::now())
                .await
                .map_err(|e| failed("maintenance", e))?;
            let pruned = self
                .truth_cache
                .as_ref()
                .map_or(0, |(cache, keep)| cache.prune(*keep));
            tracing::debug!(?reaped, ?removed, pruned, "maintenance done");
            Ok(())
        }
        .boxed()
    }
}

/// Fire `task` on its schedule until `stop`: once at start-up for a missed occurrence within
/// `catch_up`, then at every occurrence.
pub async fn drive(task: Arc<dyn GaiaTask>, catch_up: Duration, mut stop: watch::Receiver<bool>) {
    let schedule = match Schedule::new(task.cron_schedule(), catch_up) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(task = task.name(), error = %e, "task not scheduled");
            return;
        }
    };
    // Occurrences are business time (the clock may run faster than the wall clock).
    let clock = crate::clock::current();
    if let Some(missed) = schedule.missed(clock.now(), None) {
        fire(task.as_ref(), missed).await;
    }
    while !*stop.borrow() {
        let Some(next) = schedule.next_after(clock.now()) else {
            return;
        };
        let wait = clock.wall_duration(next - clock.now());
        tokio::select! {
            _ = tokio::time::sleep(wait) => fire(task.as_ref(), next).await,
            _ = stop.changed() => {}
        }
    }
}

async fn fire(task: &dyn GaiaTask, occurrence: DateTime<Utc>) {
    match task.run_scheduled_job(occurrence).await {
        Ok(()) => tracing::debug!(task = task.name(), %occurrence, "scheduled job ran"),
        Err(e) => {
            tracing::warn!(task = task.name(), %occurrence, error = %e, "scheduled job failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::offline::OfflineChain;
    use gaia_store::{JobStatus, StoreConfig};

    async fn store(dir: &std::path::Path) -> Store {
        let url = format!("sqlite://{}/s.db", dir.display());
        Store::open(&StoreConfig::new(url)).await.unwrap()
    }

    #[tokio::test]
    async fn the_daily_run_is_queued_once_per_cycle_with_jitter() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let task = WeatherRunTask {
            store: store.clone(),
            cron: "0 18 * * *".into(),
            jitter_minutes: 30,
        };
        let at: DateTime<Utc> = "2026-11-28T18:00:00Z".parse().unwrap();
        task.run_scheduled_job(at).await.unwrap();
        task.run_scheduled_job(at).await.unwrap();
        let job = store
            .find_job_by_key("weather.run:2026112800")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.payload["gfs_init"], "2026-11-28T00:00:00Z");
        assert!(job.scheduled_at >= at && job.scheduled_at <= at + Duration::minutes(30));
        assert_eq!(store.count_jobs(JobStatus::Pending).await.unwrap(), 1);
        assert_eq!(
            (task.name(), task.cron_schedule()),
            ("weather", "0 18 * * *")
        );
    }

    #[tokio::test]
    async fn weights_are_queued_only_when_due_and_maintenance_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let chain: Arc<dyn Chain> = Arc::new(OfflineChain::new(None, 12.0, store.clone()));
        let mk = |interval_blocks| WeightsCheckTask {
            store: store.clone(),
            chain: chain.clone(),
            cron: "* * * * *".into(),
            interval_blocks,
            mode: WeightsMode::On,
        };
        let at: DateTime<Utc> = "2026-11-28T18:01:00Z".parse().unwrap();
        mk(250).run_scheduled_job(at).await.unwrap();
        assert!(store
            .find_job_by_key("weights.set:20261128T1801")
            .await
            .unwrap()
            .is_some());
        let vector = gaia_store::UidVector::empty();
        store
            .record_weights(&gaia_store::WeightRecord {
                attempt_key: "w".into(),
                created_at: Utc::now(),
                block: i64::try_from(chain.current_block().await.unwrap()).ok(),
                weights: vector,
                outcome: gaia_store::WeightOutcome::Submitted,
                detail: None,
            })
            .await
            .unwrap();
        let later: DateTime<Utc> = "2026-11-28T18:02:00Z".parse().unwrap();
        mk(250).run_scheduled_job(later).await.unwrap();
        assert!(
            store
                .find_job_by_key("weights.set:20261128T1802")
                .await
                .unwrap()
                .is_none(),
            "set this block: not due"
        );
        let m = MaintenanceTask {
            cron: "*/5 * * * *".into(),
            store: store.clone(),
            retention_days: 90,
            truth_cache: None,
        };
        m.run_scheduled_job(later).await.unwrap();
        let g = PeriodicStepTask {
            store: store.clone(),
            cron: "*/20 * * * *".into(),
            name: "metagraph",
            step: Step::SyncMetagraph,
        };
        g.run_scheduled_job(later).await.unwrap();
        assert!(store
            .find_job_by_key("metagraph.sync:20261128T1802")
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn in_shadow_mode_the_cadence_follows_the_shadow_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let chain: Arc<dyn Chain> = Arc::new(OfflineChain::new(None, 12.0, store.clone()));
        let task = |mode| WeightsCheckTask {
            store: store.clone(),
            chain: chain.clone(),
            cron: "* * * * *".into(),
            interval_blocks: 250,
            mode,
        };
        let queued = |key: &'static str| {
            let store = store.clone();
            async move { store.find_job_by_key(key).await.unwrap().is_some() }
        };
        let first: DateTime<Utc> = "2026-11-28T18:01:00Z".parse().unwrap();
        task(WeightsMode::Shadow)
            .run_scheduled_job(first)
            .await
            .unwrap();
        assert!(queued("weights.set:20261128T1801").await, "never set: due");
        store
            .record_weights(&gaia_store::WeightRecord {
                attempt_key: "s".into(),
                created_at: Utc::now(),
                block: i64::try_from(chain.current_block().await.unwrap()).ok(),
                weights: gaia_store::UidVector::empty(),
                outcome: gaia_store::WeightOutcome::Skipped,
                detail: Some(format!("{SHADOW_DETAIL}: SubtensorModule.set_weights(..)")),
            })
            .await
            .unwrap();
        let next: DateTime<Utc> = "2026-11-28T18:02:00Z".parse().unwrap();
        task(WeightsMode::Shadow)
            .run_scheduled_job(next)
            .await
            .unwrap();
        assert!(
            !queued("weights.set:20261128T1802").await,
            "shadow weights recorded this block: not due"
        );
        // Turned on, the shadow record does not count: nothing reached the chain yet.
        task(WeightsMode::On).run_scheduled_job(next).await.unwrap();
        assert!(queued("weights.set:20261128T1802").await);
    }

    #[tokio::test]
    async fn drive_fires_a_missed_occurrence_at_start_and_stops_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let task: Arc<dyn GaiaTask> = Arc::new(PeriodicStepTask {
            store: store.clone(),
            cron: "* * * * *".into(),
            name: "metagraph",
            step: Step::SyncMetagraph,
        });
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(drive(task, Duration::hours(1), rx));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.count_jobs(JobStatus::Pending).await.unwrap() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "missed occurrence not fired"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), handle)
            .await
            .unwrap()
            .unwrap();
        let bad: Arc<dyn GaiaTask> = Arc::new(PeriodicStepTask {
            store,
            cron: "never".into(),
            name: "metagraph",
            step: Step::SyncMetagraph,
        });
        let (_s, rx) = watch::channel(false);
        drive(bad, Duration::hours(1), rx).await;
    }
}
