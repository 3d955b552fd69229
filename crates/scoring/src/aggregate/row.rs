//! The per-run 256-UID score row (spec §5.1): handler `weather.score.row`.
//!
//! One row per run goes into `score_table`; the weight calculation (`weights/`) averages the
//! rows of the last 15 days. This module decides each UID's value from the run's stored overall
//! and Day-1 scores, keyed by the UID's **current** hotkey so that a deregistered miner's score
//! does not pass to the newcomer on its UID, and adds the excellence bonus.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AggregateError;

/// Number of UIDs in a subnet's score row.
pub const NUM_UIDS: usize = 256;

/// One stored score of a miner response in the run (a `weather_forecast_stats` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunScoreRecord {
    /// The miner hotkey the response came from.
    pub hotkey: String,
    /// `overall_forecast_score`, if the ERA5 aggregation has produced one.
    #[serde(default)]
    pub overall_score: Option<f64>,
    /// The Day-1 score, if any.
    #[serde(default)]
    pub day1_score: Option<f64>,
    /// When the record was last written; the latest wins.
    pub updated_at: DateTime<Utc>,
}

/// A UID and the hotkey registered on it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UidHotkey {
    /// UID in 0..256.
    pub uid: u16,
    /// Current hotkey (SS58).
    pub hotkey: String,
}

/// Constants of the row rule (spec §5.1); the defaults are production's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoreRowConfig {
    /// Value for a UID without an overall score whose Day-1 passed (0.05).
    pub day1_fallback: f64,
    /// Day-1 pass threshold (0.1).
    pub day1_threshold: f64,
    /// Upper clip of a row value (1.1; the lower clip is 0).
    pub clip_max: f64,
    /// The bonus is considered only if some UID scores strictly above this (0.05).
    pub bonus_trigger: f64,
    /// The best score must be at least this to earn the bonus (0.7).
    pub bonus_min_score: f64,
    /// Bonus amount, split between tied winners (0.05).
    pub bonus: f64,
    /// More tied winners than this get no bonus (2).
    pub bonus_max_winners: usize,
}

impl Default for ScoreRowConfig {
    fn default() -> Self {
        Self {
            day1_fallback: 0.05,
            day1_threshold: 0.1,
            clip_max: 1.1,
            bonus_trigger: 0.05,
            bonus_min_score: 0.7,
            bonus: 0.05,
            bonus_max_winners: 2,
        }
    }
}

/// Request of `weather.score.row`: one run's stored scores and the current UID → hotkey map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRowRequest {
    /// Every stored score record of the run (any order, any number per hotkey).
    pub records: Vec<RunScoreRecord>,
    /// The UIDs that currently have a hotkey; all other UIDs score 0.
    pub current_hotkeys: Vec<UidHotkey>,
    /// Rule constants.
    #[serde(default)]
    pub config: ScoreRowConfig,
}

/// Response of `weather.score.row`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    /// The row: value of UID `i` at index `i`, 256 entries, each in [0, clip_max].
    pub scores: Vec<f64>,
    /// UIDs whose value came from the Day-1 fallback (no overall score), ascending.
    pub fallback_uids: Vec<u16>,
    /// UIDs that received the excellence bonus, ascending.
    pub bonus_uids: Vec<u16>,
}

/// Build the run's score row (spec §5.1).
///
/// For each UID with a current hotkey: the latest finite `overall_score` of that hotkey,
/// clipped to [0, clip_max]; without one, `day1_fallback · [latest Day-1 ≥ threshold]`. UIDs
/// without a hotkey score 0. Then the excellence bonus: if any value exceeds `bonus_trigger`,
/// the UIDs holding the maximum value, if it is ≥ `bonus_min_score` and held by at most
/// `bonus_max_winners` UIDs (exact ties), share `bonus`; finally every value is clipped again.
pub fn build_score_row(req: &ScoreRowRequest) -> Result<ScoreRow, AggregateError> {
    let cfg = &req.config;
    if !(cfg.clip_max.is_finite() && cfg.clip_max >= 0.0) {
        return Err(AggregateError::InvalidConfig(format!(
            "clip_max {}",
            cfg.clip_max
        )));
    }
    let latest = latest_by_hotkey(&req.records);
    let mut scores = vec![0.0; NUM_UIDS];
    let mut seen = [false; NUM_UIDS];
    let mut fallback_uids = Vec::new();
    for entry in &req.current_hotkeys {
        let idx = usize::from(entry.uid);
        if idx >= NUM_UIDS {
            return Err(AggregateError::UidOutOfRange(entry.uid));
        }
        if std::mem::replace(&mut seen[idx], true) {
            return Err(AggregateError::DuplicateUid(entry.uid));
        }
        let found = latest.get(entry.hotkey.as_str());
        match found.and_then(|l| l.overall) {
            Some(overall) => scores[idx] = clip(overall, cfg.clip_max),
            None => {
                let passed = found
                    .and_then(|l| l.day1)
                    .is_some_and(|d| d >= cfg.day1_threshold);
                if passed {
                    scores[idx] = clip(cfg.day1_fallback, cfg.clip_max);
                    fallback_uids.push(entry.uid);
                }
            }
        }
    }
    fallback_uids.sort_unstable();
    let bonus_uids = apply_excellence_bonus(&mut scores, cfg);
    Ok(ScoreRow {
        scores,
        fallback_uids,
        bonus_uids,
    })
}

/// Add the excellence bonus in place and return the winners (see [`build_score_row`]).
fn apply_excellence_bonus(scores: &mut [f64], cfg: &ScoreRowConfig) -> Vec<u16> {
    if !scores.iter().any(|&s| s > cfg.bonus_trigger) {
        return Vec::new();
    }
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if best < cfg.bonus_min_score {
        return Vec::new();
    }
    let winners: Vec<u16> = (0..scores.len())
        .filter(|&i| scores[i] == best)
        .filter_map(|i| u16::try_from(i).ok())
        .collect();
    if winners.is_empty() || winners.len() > cfg.bonus_max_winners {
        return Vec::new();
    }
    let share = cfg.bonus / winners.len() as f64;
    for &uid in &winners {
        let idx = usize::from(uid);
        scores[idx] = clip(scores[idx] + share, cfg.clip_max);
    }
    winners
}

/// The latest finite overall and Day-1 score of one hotkey.
#[derive(Debug, Default, Clone, Copy)]
struct Latest {
    overall: Option<f64>,
    day1: Option<f64>,
    overall_at: Option<DateTime<Utc>>,
    day1_at: Option<DateTime<Utc>>,
}

/// Per hotkey, the most recent finite value of each score (later input position wins a tie).
fn latest_by_hotkey(records: &[RunScoreRecord]) -> HashMap<&str, Latest> {
    let mut out: HashMap<&str, Latest> = HashMap::new();
    for rec in records {
        let slot = out.entry(rec.hotkey.as_str()).or_default();
        if let Some(v) = rec.overall_score.filter(|v| v.is_finite()) {
            if slot.overall_at.is_none_or(|t| rec.updated_at >= t) {
                slot.overall = Some(v);
                slot.overall_at = Some(rec.updated_at);
            }
        }
        if let Some(v) = rec.day1_score.filter(|v| !v.is_nan()) {
            if slot.day1_at.is_none_or(|t| rec.updated_at >= t) {
                slot.day1 = Some(v);
                slot.day1_at = Some(rec.updated_at);
            }
        }
    }
    out
}

fn clip(v: f64, max: f64) -> f64 {
    v.clamp(0.0, max)
}
