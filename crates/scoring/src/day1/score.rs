//! The Day-1 aggregate (spec §3.4): α·mean(max(0, S_p)) + β·mean((ACC+1)/2) over the variables
//! that passed the sanity checks, the strict clone clamp and the pass flag.

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
    let clone_hit = variables.iter().any(|v| v.clone_flag);
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
