//! Spec §5.1: the per-run 256-UID score row — current-hotkey lookup, Day-1 fallback, the
//! excellence bonus and clipping — on hand-checked examples (expected values in comments,
//! tolerance 1e-12 absolute).

use chrono::{DateTime, TimeZone, Utc};
use gaia_scoring::aggregate::{
    build_score_row, AggregateError, RunScoreRecord, ScoreRow, ScoreRowConfig, ScoreRowRequest,
    UidHotkey,
};

const TOL: f64 = 1e-12;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, minute, 0).unwrap()
}

fn rec(hotkey: &str, overall: Option<f64>, day1: Option<f64>, minute: u32) -> RunScoreRecord {
    RunScoreRecord {
        hotkey: hotkey.to_string(),
        overall_score: overall,
        day1_score: day1,
        updated_at: at(minute),
    }
}

fn uid(uid: u16, hotkey: &str) -> UidHotkey {
    UidHotkey {
        uid,
        hotkey: hotkey.to_string(),
    }
}

fn row(records: Vec<RunScoreRecord>, current: Vec<UidHotkey>) -> ScoreRow {
    build_score_row(&ScoreRowRequest {
        records,
        current_hotkeys: current,
        config: Default::default(),
    })
    .expect("valid request")
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= TOL, "{a} vs {b}");
}

#[test]
fn values_fallback_and_clipping() {
    let r = row(
        vec![
            rec("A", Some(0.6), Some(0.5), 0),
            rec("B", None, Some(0.2), 0), // no overall, Day-1 passed → 0.05
            rec("C", None, Some(0.05), 0), // no overall, Day-1 failed → 0
            rec("D", Some(-0.3), None, 0), // clipped to 0
            rec("E", Some(f64::NAN), Some(0.3), 0), // NaN overall counts as missing → 0.05
            rec("X", Some(0.9), None, 0), // X holds no UID now → ignored
        ],
        vec![
            uid(0, "A"),
            uid(1, "B"),
            uid(2, "C"),
            uid(3, "D"),
            uid(4, "E"),
            uid(9, "F"),
        ],
    );
    assert_eq!(r.scores.len(), 256);
    close(r.scores[0], 0.6);
    close(r.scores[1], 0.05);
    close(r.scores[2], 0.0);
    close(r.scores[3], 0.0);
    close(r.scores[4], 0.05);
    close(r.scores[9], 0.0); // active UID with no record at all
    assert_eq!(r.fallback_uids, vec![1, 4]);
    // Best is 0.6 < 0.7: no bonus.
    assert!(r.bonus_uids.is_empty());
    // Every other UID (no hotkey) is 0.
    assert_eq!(r.scores.iter().filter(|s| **s != 0.0).count(), 3);
}

#[test]
fn hotkey_change_excludes_the_previous_owner() {
    // UID 4 was "old" (scored 0.9 in this run); "new" registered since and has no record.
    let r = row(
        vec![rec("old", Some(0.9), Some(1.0), 0)],
        vec![uid(4, "new")],
    );
    close(r.scores[4], 0.0);
    assert!(r.fallback_uids.is_empty());
}

#[test]
fn latest_record_wins_and_nulls_do_not_erase() {
    let r = row(
        vec![
            rec("A", Some(0.8), None, 5),
            rec("A", Some(0.4), None, 10), // later → used
            rec("A", None, Some(0.9), 20), // later but without overall: overall stays 0.4
            rec("B", Some(0.3), None, 30),
            rec("B", Some(0.35), None, 30), // same time: later in input wins
        ],
        vec![uid(0, "A"), uid(1, "B")],
    );
    close(r.scores[0], 0.4);
    close(r.scores[1], 0.35);
}

#[test]
fn single_winner_gets_the_whole_bonus_and_clip_applies() {
    let r = row(
        vec![rec("A", Some(0.8), None, 0), rec("B", Some(0.75), None, 0)],
        vec![uid(10, "A"), uid(11, "B")],
    );
    close(r.scores[10], 0.85); // 0.8 + 0.05
    close(r.scores[11], 0.75);
    assert_eq!(r.bonus_uids, vec![10]);
    // 1.3 clips to 1.1 first; the bonus would give 1.15 → clipped back to 1.1.
    let r = row(vec![rec("A", Some(1.3), None, 0)], vec![uid(3, "A")]);
    close(r.scores[3], 1.1);
    assert_eq!(r.bonus_uids, vec![3]);
}

#[test]
fn two_tied_winners_split_three_get_nothing() {
    let r = row(
        vec![
            rec("A", Some(0.9), None, 0),
            rec("B", Some(0.9), None, 0),
            rec("C", Some(0.7), None, 0),
        ],
        vec![uid(1, "A"), uid(2, "B"), uid(3, "C")],
    );
    // 0.05 split between two: 0.9 + 0.025 each.
    close(r.scores[1], 0.925);
    close(r.scores[2], 0.925);
    close(r.scores[3], 0.7);
    assert_eq!(r.bonus_uids, vec![1, 2]);
    let r = row(
        vec![
            rec("A", Some(0.9), None, 0),
            rec("B", Some(0.9), None, 0),
            rec("C", Some(0.9), None, 0),
        ],
        vec![uid(1, "A"), uid(2, "B"), uid(3, "C")],
    );
    assert!(r.bonus_uids.is_empty());
    close(r.scores[1] + r.scores[2] + r.scores[3], 2.7);
}

#[test]
fn bonus_threshold_is_inclusive_and_needs_a_trigger() {
    // Exactly 0.7 qualifies (≥).
    let r = row(vec![rec("A", Some(0.7), None, 0)], vec![uid(0, "A")]);
    close(r.scores[0], 0.75);
    // Trigger: with every value ≤ 0.05 there is no bonus even if the minimum score allows it.
    let cfg = ScoreRowConfig {
        bonus_min_score: 0.01,
        ..ScoreRowConfig::default()
    };
    let req = |overall| ScoreRowRequest {
        records: vec![rec("A", Some(overall), None, 0)],
        current_hotkeys: vec![uid(0, "A")],
        config: cfg,
    };
    let r = build_score_row(&req(0.05)).unwrap();
    assert!(r.bonus_uids.is_empty());
    close(r.scores[0], 0.05);
    let r = build_score_row(&req(0.06)).unwrap();
    assert_eq!(r.bonus_uids, vec![0]);
    close(r.scores[0], 0.11);
}

#[test]
fn malformed_requests_are_errors() {
    let mk = |current, config| ScoreRowRequest {
        records: vec![],
        current_hotkeys: current,
        config,
    };
    let r = build_score_row(&mk(vec![uid(256, "A")], ScoreRowConfig::default()));
    assert_eq!(r, Err(AggregateError::UidOutOfRange(256)));
    let r = build_score_row(&mk(
        vec![uid(5, "A"), uid(5, "B")],
        ScoreRowConfig::default(),
    ));
    assert_eq!(r, Err(AggregateError::DuplicateUid(5)));
    let bad = ScoreRowConfig {
        clip_max: f64::NAN,
        ..ScoreRowConfig::default()
    };
    assert!(matches!(
        build_score_row(&mk(vec![], bad)),
        Err(AggregateError::InvalidConfig(_))
    ));
}

#[test]
fn request_round_trips_through_json() {
    let json = r#"{
        "records": [{"hotkey": "A", "overall_score": 0.5, "updated_at": "2026-11-20T12:00:00Z"}],
        "current_hotkeys": [{"uid": 7, "hotkey": "A"}]
    }"#;
    let req: ScoreRowRequest = serde_json::from_str(json).unwrap();
    assert_eq!(req.config, ScoreRowConfig::default());
    let out = build_score_row(&req).unwrap();
    close(out.scores[7], 0.5);
    let back: ScoreRow = serde_json::from_str(&serde_json::to_string(&out).unwrap()).unwrap();
    assert_eq!(back, out);
}
