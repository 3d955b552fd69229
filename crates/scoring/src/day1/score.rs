//! The Day-1 aggregate (spec §3.4): α·mean(max(0, S_p)) + β·mean((ACC+1)/2) over the variables
//! that passed the sanity checks, the strict clone clamp (looking at those variables only,
//! §12-18) and the pass flag.

use chrono::{DateTime, Utc};

use super::config::Day1Config;
use super::report::{flat_metrics, Day1Report, Day1VariableResult, VariableStatus};
use super::variable::{score_variable, Day1Fields};
use super::Day1Error;

fn mean_or_zero(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Combine per-variable results into the report (no I/O, no field access).
pub fn aggregate(
    variables: Vec<Day1VariableResult>,
    config: &Day1Config,
    lead_hours: Option<f64>,
    valid_time: Option<DateTime<Utc>>,
) -> Day1Report {
    let scored = || {
        variables
            .iter()
            .filter(|v| v.status == VariableStatus::Scored)
    };
    let skills: Vec<f64> = scored()
        .filter_map(|v| v.skill_penalised)
        .map(|s| s.max(0.0))
        .collect();
    let accs: Vec<f64> = scored()
        .filter_map(|v| v.acc)
        .map(|a| (a + 1.0) / 2.0)
        .collect();
    let skill_term = mean_or_zero(&skills);
    let acc_term = mean_or_zero(&accs);
    let mut score = config.alpha * skill_term + config.beta * acc_term;
    // §12-18: only variables that passed the sanity checks can trigger the clamp.
    let clone_hit = scored().any(|v| v.clone_flag);
    let clamped = config.strict_clamp_enabled && clone_hit;
    if clamped {
        score = score.min(config.strict_clamp_value);
    }
    Day1Report {
        score,
        passed: score >= config.pass_threshold,
        clamped,
        qc_failed: variables
            .iter()
            .any(|v| v.status == VariableStatus::SanityFailed),
        skill_term,
        acc_term,
        lead_hours,
        valid_time,
        metrics: flat_metrics(&variables),
        variables,
    }
}

/// Day-1 score over already-read fields (one entry per variable, in any grid): the lower-level
/// entry point that [`super::score_day1`] uses after reading the stores.
pub fn score_day1_fields(
    inputs: &[Day1Fields],
    config: &Day1Config,
    lead_hours: Option<f64>,
    valid_time: Option<DateTime<Utc>>,
) -> Result<Day1Report, Day1Error> {
    if inputs.is_empty() {
        return Err(Day1Error::NoVariables);
    }
    let variables = inputs
        .iter()
        .map(|input| score_variable(input, config))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(aggregate(variables, config, lead_hours, valid_time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day1::VariableSpec;

    fn scored(key: &str, skill: f64, acc: f64, clone_flag: bool) -> Day1VariableResult {
        Day1VariableResult {
            status: VariableStatus::Scored,
            sanity_failures: vec![],
            skill: Some(skill),
            skill_penalised: Some(skill),
            acc: Some(acc),
            clone_flag,
            ..Day1VariableResult::skipped(&VariableSpec::surface(key), String::new())
        }
    }

    /// §12-18: the strict clamp looks only at variables that passed the sanity checks; skipped and
    /// sanity-failed variables do not enter the averages either.
    #[test]
    fn only_sane_variables_trigger_the_clone_clamp_or_enter_the_averages() {
        let cfg = Day1Config::default();
        let mut insane_clone = scored("msl", 0.9, 0.9, true);
        insane_clone.status = VariableStatus::SanityFailed;
        insane_clone.sanity_failures = vec!["pattern correlation".into()];
        let skipped = Day1VariableResult::skipped(&VariableSpec::surface("10u"), "missing".into());
        let r = aggregate(
            vec![scored("2t", 0.5, 0.6, false), insane_clone, skipped],
            &cfg,
            None,
            None,
        );
        assert!(!r.clamped, "a sanity-failed clone does not clamp");
        let expected = cfg.alpha * 0.5 + cfg.beta * (0.6 + 1.0) / 2.0;
        assert!(
            (r.score - expected).abs() < 1e-15,
            "{} vs {expected}",
            r.score
        );
        assert!(r.qc_failed);
        let r = aggregate(
            vec![scored("2t", 0.5, 0.6, false), scored("msl", 0.9, 0.9, true)],
            &cfg,
            None,
            None,
        );
        assert!(r.clamped && r.score <= cfg.strict_clamp_value, "{r:?}");
    }
}
