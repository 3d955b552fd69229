//! Settings of the rollout next to the Python validator (`ROLLOUT__*`, docs/rollout.md): what
//! `preflight` requires, and the scheduled `compare` that exports `gaia_control_agreement`.

use serde::{Deserialize, Serialize};

use super::load::invalid;
use super::tasks::{parse_cron, positive};
use super::ConfigError;

/// Settings of the rollout (`ROLLOUT__<NAME>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RolloutSettings {
    /// Cron (UTC) of the scheduled comparison with the control validator; empty (the default)
    /// turns it off. Each run exports `gaia_control_agreement` (the cosine similarity).
    pub compare_cron: String,
    /// The control of the scheduled comparison: `chain:<uid or SS58 hotkey>` (a Python
    /// validator's weights on the chain). Required when `compare_cron` is set.
    pub compare_control: String,
    /// Free space (GiB) `preflight` requires on the filesystem of DATA_DIR, which holds the
    /// truth cache and the embedded database.
    pub min_free_disk_gb: f64,
    /// Largest difference (seconds) `preflight` accepts between this machine's clock and the
    /// chain's `Timestamp.Now` of the best block (blocks are 12 s apart).
    pub max_clock_skew_s: f64,
    /// Miners `preflight` asks for the fiber handshake (the first served axons of the
    /// metagraph); 0 skips the check.
    pub preflight_miner_sample: usize,
}

impl Default for RolloutSettings {
    fn default() -> Self {
        Self {
            compare_cron: String::new(),
            compare_control: String::new(),
            min_free_disk_gb: 20.0,
            max_clock_skew_s: 60.0,
            preflight_miner_sample: 3,
        }
    }
}

/// Check the `ROLLOUT__*` rules.
pub(super) fn validate(r: &RolloutSettings) -> Result<(), ConfigError> {
    if !(r.min_free_disk_gb.is_finite() && r.min_free_disk_gb >= 0.0) {
        return Err(invalid(
            "ROLLOUT__MIN_FREE_DISK_GB",
            r.min_free_disk_gb,
            "must be >= 0",
        ));
    }
    positive("ROLLOUT__MAX_CLOCK_SKEW_S", r.max_clock_skew_s)?;
    if r.compare_cron.trim().is_empty() {
        return Ok(());
    }
    if let Err(reason) = parse_cron(&r.compare_cron) {
        return Err(invalid("ROLLOUT__COMPARE_CRON", &r.compare_cron, &reason));
    }
    if !r.compare_control.starts_with("chain:") || r.compare_control.len() <= "chain:".len() {
        return Err(invalid(
            "ROLLOUT__COMPARE_CONTROL",
            &r.compare_control,
            "must be `chain:<uid or SS58 hotkey>` when ROLLOUT__COMPARE_CRON is set",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load_with_env;
    use super::super::tests::env;

    #[test]
    fn rollout_settings_load_and_are_checked() {
        let s = load_with_env(None, env(&[])).unwrap().settings.rollout;
        assert!(s.compare_cron.is_empty());
        assert_eq!(s.min_free_disk_gb, 20.0);
        let s = load_with_env(
            None,
            env(&[
                ("ROLLOUT__COMPARE_CRON", "30 6 * * *"),
                ("ROLLOUT__COMPARE_CONTROL", "chain:0"),
                ("ROLLOUT__MIN_FREE_DISK_GB", "0"),
            ]),
        )
        .unwrap()
        .settings
        .rollout;
        assert_eq!(s.compare_control, "chain:0");
        for (pairs, key) in [
            (
                vec![("ROLLOUT__COMPARE_CRON", "daily")],
                "ROLLOUT__COMPARE_CRON",
            ),
            (
                vec![("ROLLOUT__COMPARE_CRON", "0 6 * * *")],
                "ROLLOUT__COMPARE_CONTROL",
            ),
            (
                vec![("ROLLOUT__MIN_FREE_DISK_GB", "-1")],
                "ROLLOUT__MIN_FREE_DISK_GB",
            ),
            (
                vec![("ROLLOUT__MAX_CLOCK_SKEW_S", "0")],
                "ROLLOUT__MAX_CLOCK_SKEW_S",
            ),
        ] {
            let err = load_with_env(None, env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
