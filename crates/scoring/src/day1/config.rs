//! The Day-1 settings with the production values as defaults (spec §3.1-3.4, WT @L389-471).
//!
//! Kept in one serde struct so the IO-Engine can pass an operator override in a work unit and the
//! report can echo what was used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One variable to score: a short name (`2t`, `msl`, `10u`, `10v`, `t`, `u`, `v`, `q`, `z`) and,
/// for atmospheric variables, a pressure level in hPa.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableSpec {
    /// Short variable name as in the miner's store.
    pub name: String,
    /// Pressure level in hPa (atmospheric variables only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_hpa: Option<f64>,
}

impl VariableSpec {
    /// A surface variable.
    pub fn surface(name: &str) -> Self {
        Self {
            name: name.to_string(),
            level_hpa: None,
        }
    }

    /// An atmospheric variable on one level.
    pub fn at_level(name: &str, level_hpa: f64) -> Self {
        Self {
            name: name.to_string(),
            level_hpa: Some(level_hpa),
        }
    }

    /// The key the production code uses for thresholds and bounds: `2t`, `z500`, `t850`.
    pub fn key(&self) -> String {
        match self.level_hpa {
            Some(l) => format!("{}{}", self.name, l.round() as i64),
            None => self.name.clone(),
        }
    }
}

/// Day-1 settings (defaults = production configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Day1Config {
    /// Variables scored (`WEATHER_DAY1_VARIABLES_LEVELS_JSON`): 2t, msl, 10u, 10v, z500.
    pub variables: Vec<VariableSpec>,
    /// Weight of the skill term (`WEATHER_DAY1_ALPHA_SKILL`).
    pub alpha: f64,
    /// Weight of the ACC term (`WEATHER_DAY1_BETA_ACC`).
    pub beta: f64,
    /// Clone-distance thresholds Δ per variable key (`WEATHER_DAY1_CLONE_DELTA_THRESHOLDS_JSON`).
    pub clone_delta: BTreeMap<String, f64>,
    /// Clone penalty γ (`WEATHER_DAY1_CLONE_PENALTY_GAMMA`).
    pub clone_gamma: f64,
    /// Whether the strict clone clamp is on (`WEATHER_DAY1_STRICT_CLONE_CLAMP_ENABLED`).
    pub strict_clamp_enabled: bool,
    /// The clamp also triggers when `d < fraction·Δ`.
    pub strict_clamp_fraction: f64,
    /// The value the score is clamped to.
    pub strict_clamp_value: f64,
    /// Climatological bounds on the forecast's min/max per variable key.
    pub bounds: BTreeMap<String, (f64, f64)>,
    /// Minimum weighted pattern correlation with the reference (`..._PATTERN_CORR_THRESHOLD`).
    pub pattern_corr_threshold: f64,
    /// Day-1 pass threshold for the binary blend term (`WEATHER_DAY1_BINARY_THRESHOLD`).
    pub pass_threshold: f64,
    /// Largest allowed distance between the requested and the selected level (hPa).
    pub level_tolerance_hpa: f64,
    /// Largest allowed distance of the truth/reference time from the valid time (hours).
    pub truth_time_tolerance_hours: f64,
    /// Miner time tolerance; `None` = max(3, lead) hours (`max_time_deviation_hours`).
    pub forecast_time_tolerance_hours: Option<f64>,
}

impl Default for Day1Config {
    fn default() -> Self {
        let map = |pairs: &[(&str, f64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        Self {
            variables: vec![
                VariableSpec::surface("2t"),
                VariableSpec::surface("msl"),
                VariableSpec::surface("10u"),
                VariableSpec::surface("10v"),
                VariableSpec::at_level("z", 500.0),
            ],
            alpha: 0.6,
            beta: 0.4,
            clone_delta: map(&[
                ("2t", 0.0025),
                ("msl", 400.0),
                ("10u", 0.01),
                ("10v", 0.01),
                ("z500", 100.0),
            ]),
            clone_gamma: 1.0,
            strict_clamp_enabled: true,
            strict_clamp_fraction: 0.5,
            strict_clamp_value: 0.05,
            bounds: [
                ("2t", (180.0, 340.0)),
                ("msl", (90_000.0, 110_000.0)),
                ("t850", (220.0, 320.0)),
                ("z500", (45_000.0, 60_000.0)),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
            pattern_corr_threshold: 0.3,
            pass_threshold: 0.1,
            level_tolerance_hpa: 10.0,
            truth_time_tolerance_hours: 3.0,
            forecast_time_tolerance_hours: None,
        }
    }
}

impl Day1Config {
    /// The miner time tolerance for a lead: the configured one, else max(3, lead) hours.
    pub fn forecast_tolerance_hours(&self, lead_hours: f64) -> f64 {
        self.forecast_time_tolerance_hours
            .unwrap_or(lead_hours.max(3.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_defaults() {
        assert_eq!(VariableSpec::at_level("z", 500.0).key(), "z500");
        assert_eq!(VariableSpec::surface("2t").key(), "2t");
        let c = Day1Config::default();
        assert_eq!(c.variables.len(), 5);
        assert_eq!(c.clone_delta["z500"], 100.0);
        assert_eq!(c.forecast_tolerance_hours(12.0), 12.0);
        assert_eq!(c.forecast_tolerance_hours(1.0), 3.0);
        let json = serde_json::to_string(&c).unwrap();
        let back: Day1Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let partial: Day1Config = serde_json::from_str(r#"{"alpha": 0.5}"#).unwrap();
        assert_eq!(partial.alpha, 0.5);
        assert_eq!(partial.beta, 0.4);
    }
}
