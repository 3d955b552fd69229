//! The aggregation of one response's ERA5 leads into its overall score (spec §4.4, §12-1).
//!
//! It runs after **every** ERA5 lead that completes, once more when the last lead has settled
//! (`weather.overall`), and in the daily recompute. Each time it reads back every lead scored so
//! far from the stored per-variable rows (`era5_{rmse,acc,skill_clim}_{var}_{lead}h`, as the
//! reference reads `weather_miner_scores`), blends them with the Day-1 pass in the pool
//! (overall = 0.95 · Σ L_h / 10 + 0.05 · pass) and stores the lead scores and the overall score;
//! then the run's score row is refreshed. So a run's ERA5 credit grows day by day inside the
//! 15-day window instead of sitting at the 0.05 Day-1 fallback until the last lead.
//!
//! Concurrent leads of one response are safe: each lead stores its rows before it aggregates,
//! and the aggregations of one response take turns (`StripedLocks`), so the last one reads
//! every lead stored so far; an aggregation that read fewer leads than the stored result is
//! dropped.

use std::collections::BTreeMap;

use chrono::Utc;
use gaia_scoring::aggregate::{
    LeadMetrics, OverallOutcome, OverallRequest, VariableMetrics, EXPECTED_VARIABLES, LEAD_HOURS,
};
use gaia_store::{
    ForecastStats, ForecastStatus, MinerScore, ResponseMilestone, ResponseState, ResponseStatus,
    Run,
};

use super::overall::refresh_score_row;
use super::scoring::miner_score;
use super::{store_rows, WeatherContext};
use crate::jobs::weather::ScoreOverall;
use crate::tasks::ledger::StepError;

/// When the aggregation runs; decides what it may change besides the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Right after ERA5 lead `.0` was stored: the response stays in ERA5 scoring.
    AfterLead(u32),
    /// Every lead has settled (`weather.overall`): the response is completed or failed.
    Final,
    /// The daily recompute: scores only, no status changes.
    Recompute,
}

/// The score types of the per-variable ERA5 rows and the metric each holds.
const METRIC_PREFIXES: [(&str, Metric); 3] = [
    ("era5_rmse_", Metric::Rmse),
    ("era5_acc_", Metric::Acc),
    ("era5_skill_clim_", Metric::Skill),
];

#[derive(Debug, Clone, Copy)]
enum Metric {
    Rmse,
    Acc,
    Skill,
}

/// Every ERA5 lead among a response's stored score rows, as the aggregation takes them: leads in
/// ascending order, variables in the order of [`EXPECTED_VARIABLES`] (others after, by name).
/// Rows of other kinds (Day-1, errors, the overall score) are ignored.
pub(super) fn leads_from_scores(scores: &[MinerScore]) -> Vec<LeadMetrics> {
    let mut leads: BTreeMap<u32, BTreeMap<(usize, String), VariableMetrics>> = BTreeMap::new();
    for row in scores {
        let Ok(lead) = u32::try_from(row.lead_hours) else {
            continue;
        };
        if !LEAD_HOURS.contains(&lead) {
            continue;
        }
        let Some(metric) = METRIC_PREFIXES
            .iter()
            .find(|(prefix, _)| row.score_type.starts_with(prefix))
            .map(|(_, m)| *m)
        else {
            continue;
        };
        let variable = row.variable_level.clone();
        let order = EXPECTED_VARIABLES
            .iter()
            .position(|v| *v == variable)
            .unwrap_or(EXPECTED_VARIABLES.len());
        let entry = leads
            .entry(lead)
            .or_default()
            .entry((order, variable.clone()))
            .or_insert_with(|| VariableMetrics {
                variable,
                skill: None,
                acc: None,
                rmse: None,
            });
        let value = row.score.filter(|v| v.is_finite());
        match metric {
            Metric::Rmse => entry.rmse = value,
            Metric::Acc => entry.acc = value,
            Metric::Skill => entry.skill = value,
        }
    }
    leads
        .into_iter()
        .map(|(lead_hours, variables)| LeadMetrics {
            lead_hours,
            variables: variables.into_values().collect(),
        })
        .collect()
}

/// Aggregate the leads stored so far for `response` and store the result (see the module doc).
/// Returns the outcome, or `None` when no lead has been stored.
pub(super) async fn aggregate_response(
    ctx: &WeatherContext,
    run: &Run,
    response: &ResponseState,
    stage: Stage,
) -> Result<Option<Aggregated>, StepError> {
    let _turn = ctx.aggregation_locks.lock(response.id).await;
    let stored_scores = ctx.store.list_miner_scores(response.id).await?;
    let leads = leads_from_scores(&stored_scores);
    if leads.is_empty() {
        if stage == Stage::Final {
            settle_era5_failed(ctx, response, "no ERA5 lead could be scored").await?;
            refresh_score_row(ctx, run, false).await;
        }
        return Ok(None);
    }
    let mine = ctx
        .store
        .forecast_stats_of(run.id, response.miner_uid)
        .await?;
    let mine = mine.as_ref();
    let request = OverallRequest {
        leads,
        day1_score: mine.and_then(|s| s.forecast_score_initial),
        config: Default::default(),
    };
    let id = format!("overall-{}-{}", response.id, Utc::now().timestamp_micros());
    let outcome = ctx
        .compute::<ScoreOverall>(id, &request)
        .await
        .map_err(|f| StepError::retry(f.message, ctx.scoring_retry()))?;
    match &outcome {
        OverallOutcome::Scored(score) => {
            let stored = mine.and_then(|s| s.era5_completeness).unwrap_or(0.0);
            if matches!(stage, Stage::AfterLead(_)) && score.completeness < stored {
                // A concurrent aggregation already stored more leads than this one saw.
                return Ok(Some(Aggregated {
                    outcome,
                    written: false,
                }));
            }
            let (status, stage_name) = match stage {
                Stage::AfterLead(lead) => {
                    (ForecastStatus::Era5Scoring, Some(format!("era5_{lead}h")))
                }
                Stage::Final => (ForecastStatus::Completed, Some("completed".to_string())),
                Stage::Recompute => (
                    mine.map_or(ForecastStatus::Completed, |s| s.forecast_status),
                    None,
                ),
            };
            let mut st = ForecastStats::new(
                run.id,
                response.miner_uid,
                &response.miner_hotkey,
                status,
                Utc::now(),
            );
            for l in &score.leads {
                st.set_era5(i32::try_from(l.lead_hours).unwrap_or(-1), l.score)
                    .map_err(|e| StepError::fatal(e.to_string()))?;
            }
            st.era5_combined_score = Some(score.era5_norm);
            st.era5_completeness = Some(score.completeness);
            st.overall_forecast_score = Some(score.overall);
            st.current_forecast_stage = stage_name;
            let mut row = miner_score(
                response,
                "overall_forecast_score",
                -1,
                "aggregated_final",
                run.gfs_init_time_utc,
                Some(score.overall),
            );
            row.metrics = store_rows::with_profile(ctx, serde_json::to_value(score).ok());
            if stage == Stage::Recompute && already_stored(mine, &st, &stored_scores, &row) {
                // The recompute replays the rules over history: most results come out as they
                // are stored, and rewriting them all twice a day only loads the database.
                return Ok(Some(Aggregated {
                    outcome,
                    written: false,
                }));
            }
            ctx.store.upsert_forecast_stats(&st).await?;
            ctx.store.upsert_miner_scores(&[row]).await?;
            if stage == Stage::Final {
                ctx.store
                    .mark_response_milestone(
                        response.id,
                        ResponseMilestone::Era5ScoringCompleted,
                        Utc::now(),
                    )
                    .await?;
                ctx.settle(response.clone(), ResponseStatus::Completed, None)
                    .await?;
                ctx.metrics.pipeline.score("overall");
            }
        }
        OverallOutcome::Incomplete {
            lead_hours,
            missing,
            ..
        } => {
            // The completeness gate fails the response whenever it is checked (§4.4); the
            // recompute only reports it.
            if stage != Stage::Recompute {
                let reason = format!(
                    "ERA5 incomplete at lead {lead_hours} h: missing {}",
                    missing.join(", ")
                );
                settle_era5_failed(ctx, response, &reason).await?;
            }
        }
    }
    if stage != Stage::Recompute {
        refresh_score_row(ctx, run, false).await;
    }
    let written = matches!(outcome, OverallOutcome::Scored(_));
    Ok(Some(Aggregated { outcome, written }))
}

/// What one aggregation found, and whether it stored it.
#[derive(Debug)]
pub(super) struct Aggregated {
    /// The blend of the leads stored so far, or why it is incomplete.
    pub outcome: OverallOutcome,
    /// Whether the scores were written: false when a concurrent aggregation had stored more
    /// leads, when the recompute found them already stored, or for an incomplete outcome.
    pub written: bool,
}

/// Whether writing `st` and the overall score `row` (as the recompute would) changes nothing
/// stored: every value `st` sets (an unset one keeps the stored value) and the row's score and
/// metrics (which name the scoring profile) equal, bit for bit, those in `stats` and `scores`.
fn already_stored(
    stats: Option<&ForecastStats>,
    st: &ForecastStats,
    scores: &[MinerScore],
    row: &MinerScore,
) -> bool {
    let bits = |v: Option<f64>| v.map(f64::to_bits);
    let kept = |new: Option<f64>, old: Option<f64>| new.is_none() || bits(new) == bits(old);
    let Some(stats) = stats else {
        return false;
    };
    let leads_kept = st
        .era5_by_lead()
        .iter()
        .zip(stats.era5_by_lead())
        .all(|(new, old)| kept(*new, old));
    let stats_kept = leads_kept
        && stats.miner_hotkey == st.miner_hotkey
        && kept(st.era5_combined_score, stats.era5_combined_score)
        && kept(st.era5_completeness, stats.era5_completeness)
        && kept(st.overall_forecast_score, stats.overall_forecast_score);
    stats_kept
        && scores.iter().any(|old| {
            old.score_type == row.score_type
                && old.lead_hours == row.lead_hours
                && old.variable_level == row.variable_level
                && old.miner_hotkey == row.miner_hotkey
                && old.valid_time_utc == row.valid_time_utc
                && old.error_message == row.error_message
                && bits(old.score) == bits(row.score)
                && old.metrics == row.metrics
        })
}

/// Settle a response whose ERA5 scoring failed (`era5_scoring_failed`); its earlier credit stays.
pub(super) async fn settle_era5_failed(
    ctx: &WeatherContext,
    response: &ResponseState,
    reason: &str,
) -> Result<(), StepError> {
    ctx.store
        .mark_response_milestone(
            response.id,
            ResponseMilestone::Era5ScoringCompleted,
            Utc::now(),
        )
        .await?;
    ctx.settle(
        response.clone(),
        ResponseStatus::Era5ScoringFailed,
        Some(reason),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(score_type: &str, lead: i32, variable: &str, score: Option<f64>) -> MinerScore {
        MinerScore {
            response_id: 1,
            run_id: 1,
            miner_uid: 3,
            miner_hotkey: "hk".into(),
            score_type: score_type.into(),
            lead_hours: lead,
            variable_level: variable.into(),
            valid_time_utc: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            score,
            metrics: None,
            calculation_time: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            error_message: None,
        }
    }

    #[test]
    fn stored_rows_read_back_as_the_leads_the_scorer_reported() {
        let rows = vec![
            row("day1_qc_score", 12, "overall_day1", Some(0.8)),
            row("overall_forecast_score", -1, "aggregated_final", Some(0.3)),
            row("era5_error_72h", 72, "error", None),
            row("era5_rmse_z_48h", 48, "z", Some(120.0)),
            row("era5_acc_2t_48h", 48, "2t", Some(0.9)),
            row("era5_rmse_2t_24h", 24, "2t", Some(1.5)),
            row("era5_acc_2t_24h", 24, "2t", Some(0.95)),
            row("era5_skill_clim_2t_24h", 24, "2t", Some(0.4)),
            row("era5_skill_clim_z_48h", 48, "z", Some(f64::NAN)),
            row("era5_rmse_2t_48h", 48, "2t", None),
            row("era5_acc_bogus_48h", 48, "bogus", Some(0.1)),
            row("era5_rmse_2t_36h", 36, "2t", Some(9.0)),
        ];
        let leads = leads_from_scores(&rows);
        let v = |variable: &str, skill, acc, rmse| VariableMetrics {
            variable: variable.into(),
            skill,
            acc,
            rmse,
        };
        assert_eq!(
            leads,
            vec![
                LeadMetrics {
                    lead_hours: 24,
                    variables: vec![v("2t", Some(0.4), Some(0.95), Some(1.5))],
                },
                LeadMetrics {
                    lead_hours: 48,
                    // Expected variables in their canonical order, unknown ones after; a NaN
                    // and a missing value are both "not computed".
                    variables: vec![
                        v("2t", None, Some(0.9), None),
                        v("z", None, None, Some(120.0)),
                        v("bogus", None, Some(0.1), None),
                    ],
                },
            ],
            "lead 36 is not an ERA5 lead; lead 72 only failed"
        );
        assert!(leads_from_scores(&rows[..3]).is_empty());
    }
}

#[cfg(test)]
mod already_stored_tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn stats(overall: Option<f64>, lead_24: Option<f64>) -> ForecastStats {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut s = ForecastStats::new(1, 3, "hk", ForecastStatus::Completed, t);
        s.era5_score_24h = lead_24;
        s.era5_combined_score = overall.map(|o| o / 2.0);
        s.era5_completeness = Some(0.1);
        s.overall_forecast_score = overall;
        s
    }

    fn overall_row(score: Option<f64>, profile: &str) -> MinerScore {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        MinerScore {
            response_id: 1,
            run_id: 1,
            miner_uid: 3,
            miner_hotkey: "hk".into(),
            score_type: "overall_forecast_score".into(),
            lead_hours: -1,
            variable_level: "aggregated_final".into(),
            valid_time_utc: t,
            score,
            metrics: Some(json!({ "profile": profile })),
            calculation_time: t,
            error_message: None,
        }
    }

    #[test]
    fn only_a_result_equal_to_the_stored_one_bit_for_bit_is_already_stored() {
        let stored = stats(Some(0.5), Some(0.4));
        let rows = vec![overall_row(Some(0.5), "production")];
        let new_row = overall_row(Some(0.5), "production");
        assert!(already_stored(
            Some(&stored),
            &stats(Some(0.5), Some(0.4)),
            &rows,
            &new_row
        ));
        // A value the write leaves unset keeps the stored one.
        assert!(already_stored(
            Some(&stored),
            &stats(Some(0.5), None),
            &rows,
            &new_row
        ));
        // One bit of a lead, of the overall score, or -0.0 for 0.0 is a change.
        let next = 0.4f64.next_up();
        assert!(!already_stored(
            Some(&stored),
            &stats(Some(0.5), Some(next)),
            &rows,
            &new_row
        ));
        assert!(!already_stored(
            Some(&stored),
            &stats(Some(0.25), Some(0.4)),
            &rows,
            &new_row
        ));
        let zero = stats(Some(0.0), Some(0.4));
        let rows_zero = vec![overall_row(Some(0.0), "production")];
        let minus_zero = overall_row(Some(-0.0), "production");
        assert!(!already_stored(Some(&zero), &zero, &rows_zero, &minus_zero));
        // The score row: a different profile in its metrics, another value, or none stored.
        let spec = overall_row(Some(0.5), "spec");
        assert!(!already_stored(Some(&stored), &stored, &rows, &spec));
        assert!(!already_stored(Some(&stored), &stored, &[], &new_row));
        let mut other_lead = overall_row(Some(0.5), "production");
        other_lead.lead_hours = 24;
        assert!(!already_stored(
            Some(&stored),
            &stored,
            &[other_lead],
            &new_row
        ));
        // No stored stats, or stats under another hotkey.
        assert!(!already_stored(None, &stored, &rows, &new_row));
        let mut moved = stored.clone();
        moved.miner_hotkey = "other".into();
        assert!(!already_stored(Some(&moved), &stored, &rows, &new_row));
    }
}
