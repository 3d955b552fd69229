//! Metrics of the rollout next to the Python validator (docs/rollout.md): the agreement with the
//! control validator that the scheduled `compare` (`ROLLOUT__COMPARE_CRON`) measures.
//!
//! `gaia_control_agreement{control}` has no series until the first scheduled comparison, so
//! the `ValidatorControlDisagrees` alert stays silent on validators that do not compare.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `control` label: the control as configured (`chain:0`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControlLabel {
    /// `ROLLOUT__COMPARE_CONTROL`.
    pub control: String,
}

/// Rollout metrics.
#[derive(Debug, Clone, Default)]
pub struct RolloutMetrics {
    /// `gaia_control_agreement{control}`: cosine similarity of our newest weight vector and the
    /// control's on the chain at the last scheduled comparison (1 = same direction).
    pub control_agreement: Family<ControlLabel, Gauge<f64, AtomicU64>>,
}

impl RolloutMetrics {
    /// Register the families in `reg`.
    pub fn register(&self, reg: &mut Registry) {
        reg.register(
            "gaia_control_agreement",
            "Cosine similarity of this validator's weights and the control validator's, at the \
             last scheduled comparison",
            self.control_agreement.clone(),
        );
    }

    /// Record the cosine of a comparison with `control`.
    pub fn set_agreement(&self, control: &str, cosine: f64) {
        self.control_agreement
            .get_or_create(&ControlLabel {
                control: control.to_string(),
            })
            .set(cosine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_exported_only_once_set() {
        let m = RolloutMetrics::default();
        let mut reg = Registry::default();
        m.register(&mut reg);
        let before = crate::telemetry::metrics::render(&reg);
        assert!(!before.contains("gaia_control_agreement{"), "{before}");
        m.set_agreement("chain:0", 0.97);
        let after = crate::telemetry::metrics::render(&reg);
        assert!(
            after.contains("gaia_control_agreement{control=\"chain:0\"} 0.97"),
            "{after}"
        );
    }
}
