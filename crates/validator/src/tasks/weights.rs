//! Setting weights (spec §5.2–5.5): the `weights.set` step reads the last 15 days of
//! `score_table` rows and the node table, runs `weights.calculate` in the compute pool, hands
//! the u16 vector to the chain layer and records the outcome in the weight history.

use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::FutureExt;
use gaia_scoring::weights::{NodeInfo, ScoreTableRow, WeightsResult};
use gaia_store::{Job, Store, UidVector, WeightOutcome, WeightRecord};
use serde_json::json;

use crate::chain::Chain;
use crate::io_engine::Dispatcher;
use crate::tasks::ledger::{StepError, StepFuture, StepHandler, StepOutcome};
use crate::telemetry::metrics::Metrics;

/// Job type of a weight setting.
pub const SET_WEIGHTS: &str = "weights.set";

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
}

impl WeightsStep {
    async fn set(&self, job: &Job) -> Result<StepOutcome, StepError> {
        let now = Utc::now();
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
            .map(|n| NodeInfo {
                uid: u16::from(n.uid),
                hotkey: n.hotkey,
                ip: Some(n.ip).filter(|ip| !ip.is_empty() && ip != "0.0.0.0"),
                coldkey: Some(n.coldkey).filter(|c| !c.is_empty()),
            })
            .collect();
        let mut unit = gaia_ipc::WorkUnit::new(
            format!("weights-{}-{}", job.id, job.attempts),
            "weights.calculate",
            json!({"now": now, "rows": rows, "nodes": nodes}),
        );
        unit.timeout_seconds = 300;
        let result = self.dispatcher.dispatch_and_wait(unit).await.map_err(|e| {
            StepError::retry(format!("weights.calculate: {e}"), Duration::seconds(60))
        })?;
        let value = result.result.unwrap_or_default();
        let weights: WeightsResult = serde_json::from_value(value)
            .map_err(|e| StepError::fatal(format!("weights result: {e}")))?;
        let vector = UidVector::new(weights.weights.iter().map(|w| Some(*w)).collect())
            .map_err(|e| StepError::fatal(e.to_string()))?;
        let (outcome, block, detail) =
            match self.chain.set_weights(&weights.uids, &weights.values).await {
                Ok(r) if r.submitted => (WeightOutcome::Submitted, Some(r.block), r.detail),
                Ok(r) => (WeightOutcome::Skipped, Some(r.block), r.detail),
                Err(e) => (WeightOutcome::Failed, None, e.to_string()),
            };
        self.store
            .record_weights(&WeightRecord {
                attempt_key: job.job_key.clone(),
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

impl StepHandler for WeightsStep {
    fn run<'a>(&'a self, job: &'a Job) -> StepFuture<'a> {
        self.set(job).boxed()
    }
}
