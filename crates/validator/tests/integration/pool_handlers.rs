//! The weather and weight handlers run end to end through the compute pool of a real
//! `gaia-validator run`: dispatch → worker → ResultUnit. Each result must equal what the pure
//! function returns when called directly (whose numbers the scoring crate's tests check against
//! the independent numpy/xarray references), failures included.

use crate::BIN;
use chrono::{DateTime, Utc};
use gaia_dev::harness::{unit, Validator};
use gaia_scoring::{aggregate, day1, era5, weights};
use gaia_validator::jobs::weather::{BuildScoreRow, ScoreDay1, ScoreEra5Lead, ScoreOverall};
use gaia_validator::jobs::weights::CalculateWeights;
use gaia_validator::jobs::{ComputeJob, FailureKind};
use serde_json::{json, Value};

/// A scoring fixture's expected values: the scoring crate's tests use the same cached fixture
/// directory (gaia_testkit::python_fixture), so the stores are written once per CI run.
fn fixture(script: &str) -> Value {
    let fixture = gaia_testkit::python_fixture(script).expect("fixture script");
    serde_json::from_str(&fixture.stdout).expect("fixture JSON")
}

/// Dispatch `payload` as job `J` and compare with the direct call's outcome; a failure must
/// carry the kind `kind_of` gives the direct call's error.
fn same_through_pool<J: ComputeJob, T: serde::Serialize, E: std::fmt::Display>(
    v: &Validator,
    id: &str,
    payload: Value,
    direct: Result<T, E>,
    kind_of: impl Fn(&E) -> FailureKind,
) {
    let task = J::TASK;
    let mut u = unit(id, task, payload);
    u["timeout_seconds"] = json!(120);
    let answer = v.dispatch(&u);
    match direct {
        Ok(expected) => {
            assert_eq!(answer["outcome"], "success", "{task} {id}: {answer}");
            assert_eq!(
                answer["result"]["result"],
                serde_json::to_value(expected).unwrap(),
                "{task} {id}"
            );
            assert!(answer["result"]["worker_pid"].as_u64().unwrap() > 0);
        }
        Err(e) => {
            assert_eq!(answer["outcome"], "handler_error", "{task} {id}: {answer}");
            // The library's own message, and the kind the lifecycle acts on.
            assert_eq!(answer["error"], e.to_string(), "{task} {id}");
            let kind = serde_json::to_value(kind_of(&e)).unwrap();
            assert_eq!(answer["result"]["failure_kind"], kind, "{task} {id}");
        }
    }
}

#[test]
fn day1_and_era5_scores_run_through_the_pool() {
    let v = Validator::start(BIN, &[]);
    let d1 = fixture("scripts/fixtures/scoring_day1.py");
    let cases = d1["cases"].as_object().unwrap();
    assert!(cases.len() >= 5);
    for (name, case) in cases {
        let req = day1::Day1Request {
            forecast: case["forecast"].as_str().unwrap().into(),
            truth: case["truth"].as_str().unwrap().into(),
            reference: d1["reference"].as_str().unwrap().into(),
            climatology: d1["climatology"].as_str().unwrap().into(),
            bearer_token: None,
            frozen_manifest: None,
            gfs_init_time: d1["gfs_init"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            lead_hours: d1["lead_hours"].as_f64().unwrap(),
            valid_time: None,
            config: day1::Day1Config::default(),
            threads: 1,
            miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
            miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
        };
        let payload = serde_json::to_value(&req).unwrap();
        same_through_pool::<ScoreDay1, _, _>(
            &v,
            &format!("d1-{name}"),
            payload,
            day1::score_day1(&req),
            |e| verification_or_scoring(e.is_verification_failure()),
        );
    }
    let e5 = fixture("scripts/fixtures/scoring_era5.py");
    for (name, case) in e5["cases"].as_object().unwrap() {
        let req = era5::Era5Request {
            forecast: case["forecast"].as_str().unwrap().into(),
            truth: e5["truth"].as_str().unwrap().into(),
            climatology: e5["climatology"].as_str().unwrap().into(),
            bearer_token: None,
            frozen_manifest: None,
            gfs_init_time: e5["gfs_init"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            lead_hours: e5["lead_hours"].as_u64().unwrap() as u32,
            config: era5::Era5Config::default(),
        };
        let payload = serde_json::to_value(&req).unwrap();
        same_through_pool::<ScoreEra5Lead, _, _>(
            &v,
            &format!("e5-{name}"),
            payload,
            era5::score_era5_lead(&req),
            |e| verification_or_scoring(e.is_verification_failure()),
        );
    }
}

#[test]
fn score_row_and_weights_run_through_the_pool() {
    let v = Validator::start(BIN, &[]);
    let now: DateTime<Utc> = "2026-11-28T00:00:00Z".parse().unwrap();
    let rows: Vec<Value> = (0..15)
        .map(|d| {
            let mut scores = vec![Value::Null; 256];
            scores[3] = json!(0.9 - 0.01 * d as f64);
            scores[7] = json!(0.4);
            scores[11] = json!(0.65);
            json!({
                "task_id": format!("weather_scores_{d}_20261{:03}T0000Z", d),
                "created_at": (now - chrono::Duration::days(d)).to_rfc3339(),
                "scores": scores,
            })
        })
        .collect();
    let nodes: Vec<Value> = [3, 7, 11, 252]
        .iter()
        .map(|uid| json!({"uid": uid, "hotkey": format!("hk{uid}"), "ip": "10.0.0.1"}))
        .collect();
    let payload = json!({ "now": now, "rows": rows, "nodes": nodes });
    let req: weights::WeightsRequest = serde_json::from_value(payload.clone()).unwrap();
    same_through_pool::<CalculateWeights, _, _>(
        &v,
        "w-1",
        payload,
        weights::calculate_weights(&req),
        |_| FailureKind::Scoring,
    );
    // An empty table falls back (spec §5.2) — still the same through the pool.
    let empty = json!({ "now": now, "rows": [], "nodes": [] });
    let req: weights::WeightsRequest = serde_json::from_value(empty.clone()).unwrap();
    same_through_pool::<CalculateWeights, _, _>(
        &v,
        "w-2",
        empty,
        weights::calculate_weights(&req),
        |_| FailureKind::Scoring,
    );

    // §4.4: two leads with all nine variables, one lead missing a variable.
    let vars = ["2t", "msl", "10u", "10v", "t", "u", "v", "q", "z"];
    let lead = |h: u32, n: usize| {
        let variables: Vec<Value> = vars[..n]
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"variable": v, "skill": 0.3 + 0.05 * i as f64, "acc": 0.8, "rmse": 1.0 + i as f64}))
            .collect();
        json!({"lead_hours": h, "variables": variables})
    };
    for (id, leads) in [
        ("ov-1", vec![lead(24, 9), lead(48, 9)]),
        ("ov-2", vec![lead(24, 9), lead(72, 8)]),
    ] {
        let payload = json!({"leads": leads, "day1_score": 0.4});
        let req: aggregate::OverallRequest = serde_json::from_value(payload.clone()).unwrap();
        same_through_pool::<ScoreOverall, _, _>(
            &v,
            id,
            payload,
            aggregate::aggregate_overall(&req),
            |_| FailureKind::Scoring,
        );
    }

    let row_payload = aggregate_row_example();
    let req: aggregate::ScoreRowRequest = serde_json::from_value(row_payload.clone()).unwrap();
    same_through_pool::<BuildScoreRow, _, _>(
        &v,
        "row-1",
        row_payload,
        aggregate::build_score_row(&req),
        |_| FailureKind::Scoring,
    );
}

fn verification_or_scoring(verification: bool) -> FailureKind {
    match verification {
        true => FailureKind::Verification,
        false => FailureKind::Scoring,
    }
}

/// A run with an honest miner, one re-registered UID (stale hotkey), a Day-1-only miner.
fn aggregate_row_example() -> Value {
    json!({
        "records": [
            {"hotkey": "hkA", "overall_score": 0.81, "day1_score": 0.4, "updated_at": "2026-11-20T00:00:00Z"},
            {"hotkey": "hkA", "overall_score": 0.74, "day1_score": 0.4, "updated_at": "2026-11-19T00:00:00Z"},
            {"hotkey": "hkOld", "overall_score": 0.95, "updated_at": "2026-11-20T00:00:00Z"},
            {"hotkey": "hkB", "day1_score": 0.3, "updated_at": "2026-11-20T00:00:00Z"}
        ],
        "current_hotkeys": [
            {"uid": 1, "hotkey": "hkA"},
            {"uid": 2, "hotkey": "hkNew"},
            {"uid": 3, "hotkey": "hkB"}
        ]
    })
}
