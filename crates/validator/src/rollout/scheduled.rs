//! The scheduled comparison with the control validator (`ROLLOUT__COMPARE_CRON`, off by
//! default): at every occurrence the IO-Engine compares our newest recorded weight vector with
//! the control's `Weights` on the chain (`compare --control chain:…`), logs the figures and
//! sets `gaia_control_agreement{control}` to the cosine. A failed comparison is logged and
//! leaves the gauge at its last value (the alert's `absent`/staleness rule covers a stuck one).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use gaia_store::Store;

use super::compare::{compare_with_chain, CompareOptions};
use crate::chain::online::OnlineChain;
use crate::tasks::{GaiaTask, JobFuture, TaskError};
use crate::telemetry::metrics::Metrics;

/// The task.
pub struct ControlCompareTask {
    /// Our database.
    pub store: Store,
    /// A read-only client of the chain (no hotkey).
    pub chain: Arc<OnlineChain>,
    /// The subnet.
    pub netuid: u16,
    /// `ROLLOUT__COMPARE_CONTROL` (`chain:<uid or hotkey>`).
    pub control: String,
    /// `ROLLOUT__COMPARE_CRON`.
    pub cron: String,
    /// Thresholds and profiles.
    pub options: CompareOptions,
    /// Where the gauge lives.
    pub metrics: Arc<Metrics>,
}

impl ControlCompareTask {
    /// One comparison; the cosine is recorded and returned.
    pub async fn compare_once(&self) -> Result<f64, TaskError> {
        let who = self.control.strip_prefix("chain:").unwrap_or(&self.control);
        let report = compare_with_chain(&self.store, &self.chain, self.netuid, who, &self.options)
            .await
            .map_err(|e| TaskError::Failed {
                task: "control_compare".into(),
                reason: e.to_string(),
            })?;
        let a = &report.agreement;
        self.metrics.rollout.set_agreement(&self.control, a.cosine);
        tracing::info!(
            control = %self.control,
            cosine = a.cosine,
            l1 = a.l1,
            max_abs_delta = a.max_abs_delta,
            spearman = ?a.spearman,
            top_k_overlap = a.top_k_overlap,
            verdict = report.verdict,
            "compared with the control validator"
        );
        Ok(a.cosine)
    }
}

impl GaiaTask for ControlCompareTask {
    fn name(&self) -> &str {
        "control_compare"
    }
    fn cron_schedule(&self) -> &str {
        &self.cron
    }
    fn run_scheduled_job(&self, _occurrence: DateTime<Utc>) -> JobFuture<'_> {
        async move { self.compare_once().await.map(|_| ()) }.boxed()
    }
}

/// The task of the settings, or `None` when `ROLLOUT__COMPARE_CRON` is empty (the default).
///
/// # Errors
/// The chain client cannot be built for `CHAIN__ENDPOINT`.
pub fn from_settings(
    settings: &crate::config::Settings,
    store: &Store,
    metrics: &Arc<Metrics>,
) -> Result<Option<Arc<dyn GaiaTask>>, crate::chain::ChainError> {
    let r = &settings.rollout;
    if r.compare_cron.trim().is_empty() {
        return Ok(None);
    }
    let c = &settings.chain;
    let options = crate::chain::rpc::RpcOptions {
        timeout: std::time::Duration::from_secs(c.rpc_timeout_s),
        metrics: Some(metrics.calls.chain.clone()),
        ..crate::chain::rpc::RpcOptions::default()
    };
    let chain = OnlineChain::new(&c.endpoint, options, c.netuid, None)?;
    Ok(Some(Arc::new(ControlCompareTask {
        store: store.clone(),
        chain: Arc::new(chain),
        netuid: c.netuid,
        control: r.compare_control.clone(),
        cron: r.compare_cron.clone(),
        options: CompareOptions {
            thresholds: Default::default(),
            top_k: 10,
            our_profile: settings.weather.scoring_profile,
            control_profile: gaia_scoring::ScoringProfile::Production,
        },
        metrics: metrics.clone(),
    })))
}
