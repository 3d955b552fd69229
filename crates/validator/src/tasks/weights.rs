//! Setting weights (spec §5.2–5.5): the `weights.set` step reads the last 15 days of
//! `score_table` rows and the node table, runs `weights.calculate` in the compute pool, hands
//! the u16 vector to the chain layer and records the outcome in the weight history.

use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::FutureExt;
use gaia_scoring::weights::{NodeInfo, ScoreTableRow, WeightsRequest, WeightsResult};
use gaia_store::{Job, Store, UidVector, WeightOutcome, WeightRecord};
use serde_json::json;

use crate::chain::extrinsic::require_commit_reveal_disabled;
use crate::chain::Chain;
use crate::io_engine::Dispatcher;
use crate::jobs::weights::CalculateWeights;
use crate::jobs::ComputeJob;
use crate::tasks::ledger::{StepError, StepFuture, StepHandler, StepOutcome};
use crate::telemetry::metrics::Metrics;

/// How the weight history's detail of a shadow-mode record begins (the weights check reads it
/// back for its cadence).
pub const SHADOW_DETAIL: &str = "shadow mode, not submitted";

/// A node of the metagraph mirror as the weight calculation sees it: an unserved axon
/// (`0.0.0.0`, empty) has no IP and gets no weight (spec §5.2 step 3).
pub fn node_info(n: gaia_store::NodeRecord) -> NodeInfo {
    NodeInfo {
        uid: u16::from(n.uid),
        hotkey: n.hotkey,
        ip: Some(n.ip).filter(|ip| !ip.is_empty() && ip != "0.0.0.0"),
        coldkey: Some(n.coldkey).filter(|c| !c.is_empty()),
    }
}

/// `CHAIN__WEIGHTS_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsMode {
    /// Weights are not computed.
    Off,
    /// Computed and recorded with the call that would be sent; nothing is submitted.
    Shadow,
    /// Computed and submitted.
    On,
}

impl WeightsMode {
    /// From the setting (`off`, `shadow`, `on`; anything else is `shadow`, the safe choice).
    pub fn from_setting(s: &str) -> Self {
        match s {
            "off" => WeightsMode::Off,
            "on" => WeightsMode::On,
            _ => WeightsMode::Shadow,
        }
    }
}

/// How far back score rows are read (the calculation filters to its own 15-day window).
const WINDOW_DAYS: i64 = 16;

/// The `weights.set` step.
pub struct WeightsStep {
    /// The chain.
    pub chain: Arc<dyn Chain>,
    /// The database.
    pub store: Store,
    /// The compute pool.
    pub dispatcher: Arc<Dispatcher>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Off, shadow or on.
    pub mode: WeightsMode,
    /// The subnet.
    pub netuid: u16,
}

impl WeightsStep {
    async fn set(&self, job: &Job) -> Result<StepOutcome, StepError> {
        self.set_at(job, crate::clock::now()).await
    }

    /// The step as it runs at `now` (the window of score rows ends there).
    pub(crate) async fn set_at(
        &self,
        job: &Job,
        now: chrono::DateTime<Utc>,
    ) -> Result<StepOutcome, StepError> {
        if self.mode == WeightsMode::Off {
            return Ok(StepOutcome::Done(Some(json!({ "outcome": "off" }))));
        }
        let rows: Vec<ScoreTableRow> = self
            .store
            .score_rows_since("weather", now - Duration::days(WINDOW_DAYS))
            .await?
            .into_iter()
            .map(|r| ScoreTableRow {
                task_name: r.task_name,
                task_id: r.task_id,
                created_at: r.created_at,
                scores: r.scores.as_slice().to_vec(),
            })
            .collect();
        let nodes: Vec<NodeInfo> = self
            .store
            .list_nodes()
            .await?
            .into_iter()
            .map(node_info)
            .collect();
        // As the reference does, a failed read zeroes nobody rather than skipping the weights.
        let active_validators = self.chain.active_validators().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "active validators not read; none zeroed");
            Vec::new()
        });
        let request = WeightsRequest {
            now,
            rows,
            nodes,
            active_validators,
            config: Default::default(),
        };
        let id = format!("weights-{}-{}", job.id, job.attempts);
        let weights = self
            .dispatcher
            .run::<CalculateWeights>(id, &request, 300)
            .await
            .map_err(|f| {
                let task = CalculateWeights::TASK;
                StepError::retry(format!("{task}: {f}"), Duration::seconds(60))
            })?;
        self.apply(&job.job_key, &weights, now).await
    }

    /// Hand computed weights to the chain (mode `on`) or only record them (`shadow`), and keep
    /// the outcome in the weight history and the metrics.
    pub async fn apply(
        &self,
        attempt_key: &str,
        weights: &WeightsResult,
        now: chrono::DateTime<Utc>,
    ) -> Result<StepOutcome, StepError> {
        let vector = UidVector::new(weights.weights.iter().map(|w| Some(*w)).collect())
            .map_err(|e| StepError::fatal(e.to_string()))?;
        let (outcome, block, detail) = if self.mode == WeightsMode::Shadow {
            let block = self.chain.current_block().await.ok();
            let call = format!(
                "{SHADOW_DETAIL}: SubtensorModule.set_weights(dests={:?}, weights={:?})",
                weights.uids, weights.values
            );
            (WeightOutcome::Skipped, block, call)
        } else {
            self.submit(weights).await
        };
        self.store
            .record_weights(&WeightRecord {
                attempt_key: attempt_key.to_string(),
                created_at: now,
                block: block.and_then(|b| i64::try_from(b).ok()),
                weights: vector,
                outcome,
                detail: Some(detail.clone()),
            })
            .await?;
        self.metrics
            .pipeline
            .weights_set
            .get_or_create(&crate::telemetry::pipeline::OutcomeLabel {
                outcome: outcome.as_str().into(),
            })
            .inc();
        if outcome == WeightOutcome::Submitted {
            self.metrics.pipeline.weights_last_set.set(now.timestamp());
        }
        tracing::info!(outcome = outcome.as_str(), rows = weights.rows_used, fallback = ?weights.fallback, %detail, "weights set");
        Ok(StepOutcome::Done(Some(json!({
            "outcome": outcome.as_str(), "uids": weights.uids, "values": weights.values,
            "rows_used": weights.rows_used, "fallback": weights.fallback,
        }))))
    }
}

impl WeightsStep {
    /// Submit unless the subnet uses commit-reveal (a plain `set_weights` would be rejected).
    async fn submit(&self, weights: &WeightsResult) -> (WeightOutcome, Option<u64>, String) {
        let refused = match self.chain.commit_reveal_enabled().await {
            Ok(enabled) => require_commit_reveal_disabled(self.netuid, enabled).err(),
            Err(e) => Some(e),
        };
        if let Some(e) = refused {
            tracing::error!(error = %e, "weights not submitted");
            return (WeightOutcome::Failed, None, e.to_string());
        }
        match self.chain.set_weights(&weights.uids, &weights.values).await {
            Ok(r) if r.submitted => (WeightOutcome::Submitted, Some(r.block), r.detail),
            Ok(r) => (WeightOutcome::Skipped, Some(r.block), r.detail),
            Err(e) => (WeightOutcome::Failed, None, e.to_string()),
        }
    }
}

impl StepHandler for WeightsStep {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        self.set(job).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::offline::OfflineChain;
    use crate::chain::{ChainError, MetagraphNode, WeightsReceipt};
    use crate::tasks::steps::{Step, WeightsTrigger};
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The offline chain, counting `set_weights` calls.
    struct Counting {
        inner: OfflineChain,
        calls: AtomicUsize,
        commit_reveal: bool,
    }

    impl Chain for Counting {
        fn metagraph(&self) -> BoxFuture<'_, Result<Vec<MetagraphNode>, ChainError>> {
            self.inner.metagraph()
        }
        fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
            self.inner.current_block()
        }
        fn last_update_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
            self.inner.last_update_block()
        }
        fn set_weights<'a>(
            &'a self,
            uids: &'a [u16],
            values: &'a [u16],
        ) -> BoxFuture<'a, Result<WeightsReceipt, ChainError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.set_weights(uids, values)
        }
        fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>> {
            let on = self.commit_reveal;
            Box::pin(async move { Ok(on) })
        }
    }

    fn result() -> WeightsResult {
        let mut weights = vec![0.0; 256];
        weights[3] = 0.25;
        weights[7] = 0.75;
        WeightsResult {
            weights: weights.clone(),
            pre_burn_weights: weights.clone(),
            uids: vec![3, 7],
            values: vec![21845, 65535],
            aggregated_scores: weights,
            rows_used: 1,
            fallback: None,
            midpoint: None,
            cv: None,
            contrast_applied: false,
            burn_uid: None,
            zeroed_validators: vec![],
            warnings: vec![],
        }
    }

    async fn step(mode: WeightsMode) -> (WeightsStep, Arc<Counting>, Store, tempfile::TempDir) {
        step_with(mode, false).await
    }

    async fn step_with(
        mode: WeightsMode,
        commit_reveal: bool,
    ) -> (WeightsStep, Arc<Counting>, Store, tempfile::TempDir) {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path().to_path_buf();
        let url = format!("sqlite://{}/w.db", dir.display());
        let store = Store::open(&gaia_store::StoreConfig::new(url))
            .await
            .unwrap();
        let chain = Arc::new(Counting {
            inner: OfflineChain::new(None, 12.0, store.clone()),
            calls: AtomicUsize::new(0),
            commit_reveal,
        });
        let (metrics, _) = Metrics::new(None);
        let dispatcher = Dispatcher::new(4, metrics.clone(), dir.clone(), std::process::id());
        let s = WeightsStep {
            chain: chain.clone(),
            store: store.clone(),
            dispatcher,
            metrics,
            mode,
            netuid: 237,
        };
        (s, chain, store, guard)
    }

    #[tokio::test]
    async fn shadow_mode_records_what_it_would_set_and_never_submits() {
        let (s, chain, store, _dir) = step(WeightsMode::Shadow).await;
        s.apply("k1", &result(), Utc::now()).await.unwrap();
        assert_eq!(chain.calls.load(Ordering::SeqCst), 0, "nothing submitted");
        let h = store
            .weight_history_since(Utc::now() - Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].outcome, WeightOutcome::Skipped);
        assert_eq!(h[0].weights.get(7), Some(0.75));
        let detail = h[0].detail.clone().unwrap();
        assert!(
            detail.contains("shadow") && detail.contains("[3, 7]") && detail.contains("65535"),
            "{detail}"
        );
        assert!(h[0].block.is_some());
    }

    #[tokio::test]
    async fn on_mode_submits_and_off_mode_does_nothing() {
        let (s, chain, store, _dir) = step(WeightsMode::On).await;
        s.apply("k2", &result(), Utc::now()).await.unwrap();
        assert_eq!(chain.calls.load(Ordering::SeqCst), 1);
        let h = store
            .weight_history_since(Utc::now() - Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(h[0].outcome, WeightOutcome::Submitted);
        assert!(s.metrics.pipeline.weights_last_set.get() > 0);

        let (off, chain, store, _dir) = step(WeightsMode::Off).await;
        let job = store
            .enqueue_job(
                &Step::SetWeights(WeightsTrigger::cadence(Utc::now())).new_job(1, Utc::now()),
                Utc::now(),
            )
            .await
            .unwrap();
        let job = store.get_job(job.job_id).await.unwrap().unwrap();
        let out = off.run(&job).await.unwrap();
        assert_eq!(out, StepOutcome::Done(Some(json!({"outcome": "off"}))));
        assert_eq!(chain.calls.load(Ordering::SeqCst), 0);
        assert_eq!(WeightsMode::from_setting("on"), WeightsMode::On);
        assert_eq!(WeightsMode::from_setting("bogus"), WeightsMode::Shadow);
    }

    #[tokio::test]
    async fn commit_reveal_on_refuses_to_submit_with_a_named_failure() {
        let (s, chain, store, _dir) = step_with(WeightsMode::On, true).await;
        s.apply("k3", &result(), Utc::now()).await.unwrap();
        assert_eq!(
            chain.calls.load(Ordering::SeqCst),
            0,
            "no call the runtime rejects"
        );
        let h = store
            .weight_history_since(Utc::now() - Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(h[0].outcome, WeightOutcome::Failed);
        let detail = h[0].detail.clone().unwrap();
        assert!(
            detail.contains("237") && detail.to_lowercase().contains("commit"),
            "{detail}"
        );
    }
}
