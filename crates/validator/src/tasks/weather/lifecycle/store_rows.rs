//! Turning score reports into database rows (spec §3.5, §4.3): per-variable component scores,
//! the miner score rows and the stats columns. Every row is keyed, so storing a report twice
//! writes the same rows.

use chrono::{Duration, Utc};
use gaia_scoring::day1::Day1Report;
use gaia_scoring::era5::Era5LeadReport;
use gaia_store::{
    ComponentKind, ComponentScore, ForecastStats, ForecastStatus, MinerResponse, ResponseState, Run,
};
use serde_json::json;

use super::scoring::miner_score;
use super::WeatherContext;
use crate::tasks::ledger::StepError;

/// Day-1 score type and level label (spec §3.5).
const DAY1_SCORE_TYPE: &str = "day1_qc_score";
/// Day-1 pass threshold of the provisional overall score.
const DAY1_PASS: f64 = 0.1;
/// Provisional overall score of a passing Day-1 (0.05 · [Day1 ≥ 0.1]).
const DAY1_FALLBACK: f64 = 0.05;

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// `metrics` (an object, or none) with the scoring profile that made the score, so a stored row
/// says which rules produced it (`WEATHER__SCORING_PROFILE`).
pub(super) fn with_profile(
    ctx: &WeatherContext,
    metrics: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    let mut object = match metrics {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    object.insert(
        "scoring_profile".into(),
        ctx.weather.scoring_profile.as_str().into(),
    );
    Some(serde_json::Value::Object(object))
}

fn level(v: Option<f64>) -> i32 {
    v.map_or(0, |l| l.round() as i32)
}

/// Store a Day-1 report: component rows, the `day1_qc_score` row and the stats.
pub(super) async fn day1_report(
    ctx: &WeatherContext,
    response: &MinerResponse,
    run: &Run,
    report: &Day1Report,
) -> Result<(), StepError> {
    let lead = ctx.weather.day1_lead_hours;
    let valid = report
        .valid_time
        .unwrap_or_else(|| run.gfs_init_time_utc + Duration::milliseconds((lead * 3.6e6) as i64));
    let now = Utc::now();
    let rows: Vec<ComponentScore> = report
        .variables
        .iter()
        .map(|v| ComponentScore {
            response_id: response.id,
            run_id: run.id,
            miner_uid: response.miner_uid,
            score_type: ComponentKind::Day1,
            lead_hours: lead.round() as i32,
            variable_name: v.variable.clone(),
            pressure_level: level(v.level_hpa),
            valid_time_utc: valid,
            rmse: finite(v.rmse),
            mse: finite(v.forecast_mse),
            acc: finite(v.acc),
            skill_score: finite(v.skill_penalised),
            skill_score_gfs: finite(v.skill),
            skill_score_climatology: None,
            bias: finite(v.bias),
            mae: finite(v.mae),
            clone_penalty: finite(Some(v.clone_penalty)),
            variable_weight: None,
            qc_flags: Some(json!({
                "status": v.status, "sanity_failures": v.sanity_failures,
                "unit_fix": v.unit_fix, "clone_flag": v.clone_flag,
            })),
            calculated_at: now,
        })
        .collect();
    ctx.store.upsert_component_scores(&rows).await?;
    let mut score = miner_score(
        &ResponseState::from(response),
        DAY1_SCORE_TYPE,
        lead.round() as i32,
        "overall_day1",
        valid,
        Some(report.score),
    );
    score.metrics = with_profile(ctx, serde_json::to_value(&report.metrics).ok());
    if !report.score.is_finite() {
        score.error_message = Some(format!("non-finite Day-1 score {}", report.score));
    }
    ctx.store.upsert_miner_scores(&[score]).await?;
    let mut stats = ForecastStats::new(
        run.id,
        response.miner_uid,
        &response.miner_hotkey,
        ForecastStatus::Day1Scored,
        now,
    );
    stats.forecast_score_initial = finite(Some(report.score));
    let pass = report.score.is_finite() && report.score >= DAY1_PASS;
    stats.overall_forecast_score = Some(if pass { DAY1_FALLBACK } else { 0.0 });
    stats.current_forecast_stage = Some("day1_scored".into());
    ctx.store.upsert_forecast_stats(&stats).await?;
    Ok(())
}

/// Store a failed Day-1: score 0 with the reason (spec §3.4: verification failures score 0).
pub(super) async fn day1_failure(
    ctx: &WeatherContext,
    response: &MinerResponse,
    run: &Run,
    reason: &str,
) -> Result<(), StepError> {
    let lead = ctx.weather.day1_lead_hours;
    let valid = run.gfs_init_time_utc + Duration::milliseconds((lead * 3.6e6) as i64);
    let mut score = miner_score(
        &ResponseState::from(response),
        DAY1_SCORE_TYPE,
        lead.round() as i32,
        "overall_day1",
        valid,
        Some(0.0),
    );
    score.error_message = Some(reason.to_string());
    ctx.store.upsert_miner_scores(&[score]).await?;
    let mut stats = ForecastStats::new(
        run.id,
        response.miner_uid,
        &response.miner_hotkey,
        ForecastStatus::Failed,
        Utc::now(),
    );
    stats.forecast_score_initial = Some(0.0);
    stats.overall_forecast_score = Some(0.0);
    ctx.store.upsert_forecast_stats(&stats).await?;
    Ok(())
}

/// Store one ERA5 lead: component rows per variable and level, and per-variable score rows.
pub(super) async fn era5_report(
    ctx: &WeatherContext,
    response: &MinerResponse,
    run: &Run,
    report: &Era5LeadReport,
) -> Result<(), StepError> {
    if crate::faults::drop_score_write() {
        return Ok(());
    }
    let lead = i32::try_from(report.lead_hours).unwrap_or(i32::MAX);
    let now = Utc::now();
    let mut components = Vec::new();
    let mut scores = Vec::new();
    for v in &report.variables {
        for l in &v.levels {
            components.push(ComponentScore {
                response_id: response.id,
                run_id: run.id,
                miner_uid: response.miner_uid,
                score_type: ComponentKind::Era5,
                lead_hours: lead,
                variable_name: v.variable.clone(),
                pressure_level: level(l.level_hpa),
                valid_time_utc: report.valid_time,
                rmse: finite(l.rmse),
                mse: finite(l.mse),
                acc: finite(l.acc),
                skill_score: finite(l.skill),
                skill_score_gfs: None,
                skill_score_climatology: finite(l.skill),
                bias: finite(l.bias),
                mae: finite(l.mae),
                clone_penalty: None,
                variable_weight: Some(l.weight).filter(|w| w.is_finite()),
                qc_flags: v.error.as_ref().map(|e| json!({"error": e})),
                calculated_at: now,
            });
        }
        for (kind, value) in [("rmse", v.rmse), ("acc", v.acc), ("skill_clim", v.skill)] {
            let mut s = miner_score(
                &ResponseState::from(response),
                &format!("era5_{kind}_{}_{lead}h", v.variable),
                lead,
                &v.variable,
                report.valid_time,
                value,
            );
            s.error_message = v.error.clone();
            s.metrics = with_profile(ctx, None);
            scores.push(s);
        }
    }
    ctx.store.upsert_component_scores(&components).await?;
    ctx.store.upsert_miner_scores(&scores).await?;
    Ok(())
}

/// Record why an ERA5 lead failed (an `era5_error` row).
pub(super) async fn era5_failure(
    ctx: &WeatherContext,
    response: &MinerResponse,
    run: &Run,
    lead_hours: u32,
    reason: &str,
) -> Result<(), StepError> {
    let lead = i32::try_from(lead_hours).unwrap_or(i32::MAX);
    let valid = run.gfs_init_time_utc + Duration::hours(i64::from(lead));
    let mut s = miner_score(
        &ResponseState::from(response),
        &format!("era5_error_{lead}h"),
        lead,
        "error",
        valid,
        None,
    );
    s.error_message = Some(reason.to_string());
    ctx.store.upsert_miner_scores(&[s]).await?;
    Ok(())
}
