//! Per-lead ERA5 scores and the overall blend with the Day-1 pass (spec §4.4).
//!
//! Input is the per-(lead, variable) numbers the ERA5 scorer produced (skill against
//! climatology, ACC, RMSE); output is each lead's score `L_h`, `ERA5_norm` and the overall
//! score stored for the miner's run. This module owns only the arithmetic; the numbers
//! themselves come from `era5/` (spec §4.3) and are mapped onto [`LeadMetrics`] by the caller.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::AggregateError;

/// The nine variable keys a lead must carry to pass the completeness gate (spec §4.4).
pub const EXPECTED_VARIABLES: [&str; 9] = ["2t", "10u", "10v", "msl", "t", "u", "v", "q", "z"];

/// The ten lead times of the ERA5 final score, in hours (24 … 240).
pub const LEAD_HOURS: [u32; 10] = [24, 48, 72, 96, 120, 144, 168, 192, 216, 240];

/// `WEATHER_DAY1_BINARY_THRESHOLD`: a Day-1 score at or above this passes quality control.
pub const DAY1_PASS_THRESHOLD: f64 = 0.1;

/// One variable's numbers at one lead. A metric that was not computed is `None`; a
/// non-finite value is treated as not computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableMetrics {
    /// Variable key, one of [`EXPECTED_VARIABLES`] (e.g. `"2t"`, `"z"`).
    pub variable: String,
    /// Skill score against climatology (bias-corrected), unclamped.
    #[serde(default)]
    pub skill: Option<f64>,
    /// Anomaly correlation coefficient in [-1, 1].
    #[serde(default)]
    pub acc: Option<f64>,
    /// Root-mean-square error in the variable's own unit.
    #[serde(default)]
    pub rmse: Option<f64>,
}

impl VariableMetrics {
    /// Whether this variable counts as present: at least one finite metric.
    pub fn is_present(&self) -> bool {
        [self.skill, self.acc, self.rmse]
            .iter()
            .any(|m| finite(*m).is_some())
    }
}

/// All variables' numbers at one lead time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadMetrics {
    /// Lead time in hours, one of [`LEAD_HOURS`].
    pub lead_hours: u32,
    /// One entry per scored variable.
    pub variables: Vec<VariableMetrics>,
}

/// Blend weights of the overall score; normalised to sum 1 before use (spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlendConfig {
    /// `WEATHER_SCORE_ERA5_WEIGHT` (0.95).
    pub era5_weight: f64,
    /// `WEATHER_SCORE_DAY1_WEIGHT` (0.05).
    pub day1_weight: f64,
    /// `WEATHER_DAY1_BINARY_THRESHOLD` (0.1).
    pub day1_threshold: f64,
}

impl Default for BlendConfig {
    fn default() -> Self {
        Self {
            era5_weight: 0.95,
            day1_weight: 0.05,
            day1_threshold: DAY1_PASS_THRESHOLD,
        }
    }
}

/// Request: every lead scored so far for one miner response, plus its Day-1 score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverallRequest {
    /// Leads scored so far (any subset of [`LEAD_HOURS`], each at most once).
    pub leads: Vec<LeadMetrics>,
    /// The response's Day-1 score; `None` (or non-finite) does not pass.
    #[serde(default)]
    pub day1_score: Option<f64>,
    /// Blend weights and threshold.
    #[serde(default)]
    pub config: BlendConfig,
}

/// The normalised terms and score of one lead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeadScore {
    /// Lead time in hours.
    pub lead_hours: u32,
    /// Mean over variables of clamp(skill, 0, 1); `None` if no variable has a skill.
    pub skill_norm: Option<f64>,
    /// Mean over variables of (ACC + 1) / 2; `None` if no variable has an ACC.
    pub acc_norm: Option<f64>,
    /// Mean over variables of 1 / (1 + RMSE / r̃); `None` if no variable has an RMSE.
    pub rmse_norm: Option<f64>,
    /// `L_h`, clamped to [0, 1].
    pub score: f64,
}

/// Outcome of the aggregation for one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OverallOutcome {
    /// All leads passed the completeness gate.
    Scored(OverallScore),
    /// A lead lacks some of the nine variables: the response is `era5_scoring_failed`.
    Incomplete {
        /// The first incomplete lead.
        lead_hours: u32,
        /// Expected variable keys without any metric at that lead, sorted.
        missing: Vec<String>,
        /// Variable keys present at that lead that are not expected, sorted.
        unexpected: Vec<String>,
    },
}

/// The scored result for one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallScore {
    /// Per-lead scores, in ascending lead order.
    pub leads: Vec<LeadScore>,
    /// `ERA5_norm` = Σ L_h / 10 (missing leads count as zero).
    pub era5_norm: f64,
    /// `era5_completeness` = number of scored leads / 10.
    pub completeness: f64,
    /// Whether Day-1 ≥ threshold.
    pub day1_pass: bool,
    /// clamp(W_e · ERA5_norm + W_d · day1_pass, 0, 1) with W normalised to sum 1.
    pub overall: f64,
}

/// The reference RMSE `r̃_h` of `rmse_norm`: the **upper median of this miner's own RMSEs
/// across the variables at this lead** (1.0 when there are none).
///
/// This is the production rule and it is odd: the variables have different units (K, m/s, Pa,
/// m²/s², kg/kg), so the median is dominated by whichever unit happens to sit in the middle, and
/// a miner's `rmse_norm` measures how its errors compare with each other rather than with any
/// reference. It is kept because every other validator computes it this way (spec §4.4, §10.7).
/// "Upper median" means the element at index `n / 2` of the sorted values (for nine values, the
/// fifth smallest).
pub fn rmse_reference_median(rmses: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = rmses.iter().copied().filter(|r| r.is_finite()).collect();
    if sorted.is_empty() {
        return 1.0;
    }
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Score one lead (spec §4.4): the normalised terms and `L_h`.
///
/// `L_h = clamp(0.6·skill + 0.3·acc + 0.1·rmse, 0, 1)` when all three terms exist; without RMSE
/// `0.6·skill + 0.4·acc`; otherwise the single available term in the order skill, acc, rmse.
/// The completeness gate is checked by [`aggregate_overall`], not here.
pub fn score_lead(lead: &LeadMetrics) -> LeadScore {
    let skills: Vec<f64> = lead
        .variables
        .iter()
        .filter_map(|v| finite(v.skill))
        .map(|s| s.clamp(0.0, 1.0))
        .collect();
    let accs: Vec<f64> = lead
        .variables
        .iter()
        .filter_map(|v| finite(v.acc))
        .map(|a| (a + 1.0) / 2.0)
        .collect();
    let rmses: Vec<f64> = lead
        .variables
        .iter()
        .filter_map(|v| finite(v.rmse))
        .collect();
    let reference = rmse_reference_median(&rmses);
    let rmse_terms: Vec<f64> = rmses.iter().map(|&r| rmse_term(r, reference)).collect();

    let skill_norm = mean(&skills);
    let acc_norm = mean(&accs);
    let rmse_norm = mean(&rmse_terms);
    let raw = match (skill_norm, acc_norm, rmse_norm) {
        (Some(s), Some(a), Some(r)) => 0.6 * s + 0.3 * a + 0.1 * r,
        (Some(s), Some(a), None) => 0.6 * s + 0.4 * a,
        (Some(s), _, _) => s,
        (None, Some(a), _) => a,
        (None, None, Some(r)) => r,
        (None, None, None) => 0.0,
    };
    LeadScore {
        lead_hours: lead.lead_hours,
        skill_norm,
        acc_norm,
        rmse_norm,
        score: raw.clamp(0.0, 1.0),
    }
}

/// Aggregate every lead scored so far and blend with the Day-1 pass (spec §4.4).
///
/// Errors on malformed input (a lead outside [`LEAD_HOURS`], a lead given twice, invalid blend
/// weights); an incomplete lead is a scoring outcome, [`OverallOutcome::Incomplete`].
pub fn aggregate_overall(req: &OverallRequest) -> Result<OverallOutcome, AggregateError> {
    let weights = normalised_blend(&req.config)?;
    let mut by_lead: BTreeMap<u32, &LeadMetrics> = BTreeMap::new();
    for lead in &req.leads {
        if !LEAD_HOURS.contains(&lead.lead_hours) {
            return Err(AggregateError::UnknownLead(lead.lead_hours));
        }
        if by_lead.insert(lead.lead_hours, lead).is_some() {
            return Err(AggregateError::DuplicateLead(lead.lead_hours));
        }
    }
    for lead in by_lead.values() {
        if let Some(outcome) = completeness_failure(lead) {
            return Ok(outcome);
        }
    }
    let leads: Vec<LeadScore> = by_lead.values().map(|l| score_lead(l)).collect();
    let era5_norm = leads.iter().map(|l| l.score).sum::<f64>() / LEAD_HOURS.len() as f64;
    let day1_pass = finite(req.day1_score).is_some_and(|d| d >= req.config.day1_threshold);
    let pass = if day1_pass { 1.0 } else { 0.0 };
    let overall = (weights.0 * era5_norm + weights.1 * pass).clamp(0.0, 1.0);
    Ok(OverallOutcome::Scored(OverallScore {
        completeness: leads.len() as f64 / LEAD_HOURS.len() as f64,
        leads,
        era5_norm,
        day1_pass,
        overall,
    }))
}

/// The completeness gate: the set of present variable keys must equal [`EXPECTED_VARIABLES`].
fn completeness_failure(lead: &LeadMetrics) -> Option<OverallOutcome> {
    let present: BTreeSet<&str> = lead
        .variables
        .iter()
        .filter(|v| v.is_present())
        .map(|v| v.variable.as_str())
        .collect();
    let expected: BTreeSet<&str> = EXPECTED_VARIABLES.into_iter().collect();
    if present == expected {
        return None;
    }
    Some(OverallOutcome::Incomplete {
        lead_hours: lead.lead_hours,
        missing: expected
            .difference(&present)
            .map(|s| s.to_string())
            .collect(),
        unexpected: present
            .difference(&expected)
            .map(|s| s.to_string())
            .collect(),
    })
}

/// `1 / (1 + rmse / reference)`; a zero reference (most RMSEs exactly zero) scores a zero RMSE
/// as perfect (1) and any positive RMSE as 0, the limits of the formula.
/// `1 / (1 + RMSE / r̃)`; when r̃ = 0 every term is `1 / (1 + 1)` = 0.5, as in the reference
/// (spec §12-16), not the limit 1 of a perfect forecast.
fn rmse_term(rmse: f64, reference: f64) -> f64 {
    if reference > 0.0 {
        1.0 / (1.0 + rmse / reference)
    } else {
        0.5
    }
}

/// The ERA5 and Day-1 weights normalised to sum 1.
fn normalised_blend(cfg: &BlendConfig) -> Result<(f64, f64), AggregateError> {
    let (e, d) = (cfg.era5_weight, cfg.day1_weight);
    let total = e + d;
    if !(e.is_finite() && d.is_finite() && e >= 0.0 && d >= 0.0 && total > 0.0) {
        return Err(AggregateError::InvalidBlend {
            era5_weight: e,
            day1_weight: d,
        });
    }
    Ok((e / total, d / total))
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_median_of_even_count_takes_the_higher_middle() {
        // sorted [1, 2, 3, 4] -> index 4/2 = 2 -> 3
        assert_eq!(rmse_reference_median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(rmse_reference_median(&[]), 1.0);
        assert_eq!(rmse_reference_median(&[f64::NAN]), 1.0);
    }

    #[test]
    fn rmse_term_is_one_half_for_a_zero_reference() {
        // §12-16: r̃ = 0 (the upper median of the RMSEs is 0) gives 0.5 for every term.
        assert_eq!(rmse_term(0.0, 0.0), 0.5);
        assert_eq!(rmse_term(2.0, 0.0), 0.5);
        assert_eq!(rmse_term(1.0, 1.0), 0.5);
        assert_eq!(rmse_term(3.0, 1.0), 0.25);
        let lead = LeadMetrics {
            lead_hours: 24,
            variables: EXPECTED_VARIABLES
                .iter()
                .enumerate()
                .map(|(i, v)| VariableMetrics {
                    variable: v.to_string(),
                    skill: None,
                    acc: None,
                    // Five of nine RMSEs are 0: the upper median is 0.
                    rmse: Some(if i < 5 { 0.0 } else { 1.0 + i as f64 }),
                })
                .collect(),
        };
        let scored = score_lead(&lead);
        assert_eq!(scored.rmse_norm, Some(0.5));
        assert_eq!(scored.score, 0.5);
    }

    #[test]
    fn invalid_blend_is_rejected() {
        let cfg = BlendConfig {
            era5_weight: 0.0,
            day1_weight: 0.0,
            ..Default::default()
        };
        assert!(matches!(
            normalised_blend(&cfg),
            Err(AggregateError::InvalidBlend { .. })
        ));
        let cfg = BlendConfig {
            era5_weight: f64::NAN,
            ..Default::default()
        };
        assert!(normalised_blend(&cfg).is_err());
    }
}
