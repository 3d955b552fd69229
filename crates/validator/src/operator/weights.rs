//! A recorded weight vector at a glance: the largest weights, the burn UID's share, the total,
//! and how it moved since the attempt before it. Pure functions over [`gaia_store::WeightRecord`]
//! so the commands, the page and the tests compute the same figures.

use chrono::{DateTime, Utc};
use gaia_store::{WeightOutcome, WeightRecord};
use serde::Serialize;

use crate::tasks::weights::SHADOW_DETAIL;

/// How many of the largest weights a summary lists.
pub const TOP_N: usize = 10;

/// One weight-setting attempt as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsAttempt {
    /// The attempt's key (`weights.set:…`).
    pub attempt_key: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Chain block, when known.
    pub block: Option<i64>,
    /// `submitted`, `skipped` or `failed`.
    pub outcome: WeightOutcome,
    /// True when recorded in shadow mode (computed, never submitted).
    pub shadow: bool,
    /// The detail recorded with it (error, extrinsic, or the call shadow mode would send),
    /// cut to 300 characters.
    pub detail: Option<String>,
    /// Sum of all weights.
    pub total: f64,
    /// UIDs with a weight above zero.
    pub nonzero: usize,
    /// Share of the total given to the burn UID (`None` when the burn UID is unknown).
    pub burn_share: Option<f64>,
    /// The largest weights, `(uid, weight)`, largest first (ties by UID), at most [`TOP_N`].
    pub top: Vec<(u8, f64)>,
    /// Every non-zero weight, `(uid, weight)`, by UID.
    pub weights: Vec<(u8, f64)>,
}

/// How a vector differs from the one recorded before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsChange {
    /// The previous attempt's key.
    pub previous_key: String,
    /// Σ |w − w_prev| over all UIDs (0 = identical, 2 = disjoint when both sum to 1).
    pub l1_distance: f64,
    /// The largest moves, `(uid, w − w_prev)`, largest |move| first, at most [`TOP_N`].
    pub largest_moves: Vec<(u8, f64)>,
}

fn values(r: &WeightRecord) -> Vec<f64> {
    r.weights
        .as_slice()
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect()
}

/// Summarise `record`; `burn_uid` is the burn hotkey's UID when the metagraph knows it.
pub fn summarise(record: &WeightRecord, burn_uid: Option<u8>) -> WeightsAttempt {
    let v = values(record);
    let total: f64 = v.iter().sum();
    let weights: Vec<(u8, f64)> = v
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .filter_map(|(uid, w)| Some((u8::try_from(uid).ok()?, *w)))
        .collect();
    let mut top = weights.clone();
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP_N);
    let burn_share = burn_uid.map(|uid| {
        if total > 0.0 {
            v[usize::from(uid)] / total
        } else {
            0.0
        }
    });
    let detail = record
        .detail
        .as_deref()
        .map(|d| d.chars().take(300).collect());
    WeightsAttempt {
        attempt_key: record.attempt_key.clone(),
        created_at: record.created_at,
        block: record.block,
        outcome: record.outcome,
        shadow: is_shadow(record),
        detail,
        total,
        nonzero: weights.len(),
        burn_share,
        top,
        weights,
    }
}

/// Whether the record was made in shadow mode.
pub fn is_shadow(record: &WeightRecord) -> bool {
    record.outcome == WeightOutcome::Skipped
        && record
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with(SHADOW_DETAIL))
}

/// How `current` moved from `previous`.
pub fn change(current: &WeightRecord, previous: &WeightRecord) -> WeightsChange {
    let (a, b) = (values(current), values(previous));
    let mut moves: Vec<(u8, f64)> = a
        .iter()
        .zip(&b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .filter_map(|(uid, (x, y))| Some((u8::try_from(uid).ok()?, x - y)))
        .collect();
    // A fold from +0.0: `sum` of no f64 is -0.0, which printed as "-0.0000".
    let l1_distance = moves.iter().fold(0.0, |acc, (_, d)| acc + d.abs());
    moves.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()).then(x.0.cmp(&y.0)));
    moves.truncate(TOP_N);
    WeightsChange {
        previous_key: previous.attempt_key.clone(),
        l1_distance,
        largest_moves: moves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaia_store::UidVector;

    fn record(
        key: &str,
        pairs: &[(u8, f64)],
        outcome: WeightOutcome,
        detail: &str,
    ) -> WeightRecord {
        let mut v = UidVector::new(vec![Some(0.0); 256]).unwrap();
        for (uid, w) in pairs {
            v.set(*uid, Some(*w)).unwrap();
        }
        WeightRecord {
            attempt_key: key.into(),
            created_at: Utc::now(),
            block: Some(7),
            weights: v,
            outcome,
            detail: Some(detail.into()),
        }
    }

    #[test]
    fn summary_orders_top_and_finds_burn_share() {
        let r = record(
            "a",
            &[(3, 0.1), (9, 0.15), (200, 0.75)],
            WeightOutcome::Skipped,
            &format!("{SHADOW_DETAIL}: call"),
        );
        let s = summarise(&r, Some(200));
        assert!(s.shadow);
        assert_eq!(s.nonzero, 3);
        assert_eq!(s.top, vec![(200, 0.75), (9, 0.15), (3, 0.1)]);
        assert_eq!(s.weights, vec![(3, 0.1), (9, 0.15), (200, 0.75)]);
        assert!((s.total - 1.0).abs() < 1e-12);
        assert!((s.burn_share.unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(summarise(&r, None).burn_share, None);
        let submitted = record("b", &[], WeightOutcome::Submitted, "0xabc");
        let e = summarise(&submitted, Some(1));
        assert!(!e.shadow);
        assert_eq!((e.nonzero, e.burn_share, e.total), (0, Some(0.0), 0.0));
    }

    #[test]
    fn change_lists_largest_moves() {
        let old = record("old", &[(1, 0.5), (2, 0.5)], WeightOutcome::Submitted, "");
        let new = record(
            "new",
            &[(1, 0.2), (2, 0.5), (3, 0.3)],
            WeightOutcome::Submitted,
            "",
        );
        let c = change(&new, &old);
        assert_eq!(c.previous_key, "old");
        assert!((c.l1_distance - 0.6).abs() < 1e-12);
        assert_eq!(c.largest_moves.len(), 2);
        assert_eq!(c.largest_moves[0].0, 1);
        assert!((c.largest_moves[0].1 + 0.3).abs() < 1e-12);
        let same = change(&old, &old);
        assert_eq!(same.largest_moves, vec![]);
        assert!(same.l1_distance.is_sign_positive(), "no -0.0");
    }
}
