//! Random inputs compared with the independent numpy reference
//! (`scripts/fixtures/weights_reference.py`, written from the spec): the full weight pipeline
//! within 1e-9 relative and the u16 vector exactly; the ERA5 overall blend within 1e-9 relative.
//! The script draws the inputs (seeded), including flat distributions that trigger the contrast
//! rule, rows outside the window, UIDs without an IP and an empty window.

use gaia_scoring::aggregate::{aggregate_overall, OverallOutcome, OverallRequest};
use gaia_scoring::weights::{calculate_weights, FallbackReason, WeightsRequest};
use serde_json::Value;

/// |a − b| ≤ 1e-9 · max(|a|, |b|), with 1e-15 absolute slack for values at 0.
fn rel_close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 * a.abs().max(b.abs()) + 1e-15;
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

fn cases(mode: &str, seed: u32, n: u32) -> Vec<Value> {
    let out = gaia_testkit::run_python(
        "scripts/fixtures/weights_reference.py",
        &[mode, &seed.to_string(), &n.to_string()],
    )
    .expect("reference script runs");
    serde_json::from_str(&out).expect("reference output is JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[test]
fn weights_match_numpy_on_random_inputs() {
    let all = cases("weights-random", 20261128, 40);
    let mut contrast = 0;
    let mut fallback = 0;
    let mut zeroed_cases = 0;
    let mut lone_uid_zero = 0;
    for (i, case) in all.iter().enumerate() {
        let req: WeightsRequest = serde_json::from_value(case["request"].clone()).unwrap();
        let got = calculate_weights(&req).unwrap();
        let exp = &case["expected"];
        assert_eq!(
            got.rows_used as u64,
            exp["rows_used"].as_u64().unwrap(),
            "case {i}"
        );
        let fb = serde_json::to_value(got.fallback).unwrap();
        assert_eq!(fb, exp["fallback"], "case {i}");
        fallback += usize::from(got.fallback.is_some());
        assert_eq!(
            got.contrast_applied,
            exp["contrast_applied"].as_bool().unwrap(),
            "case {i}"
        );
        contrast += usize::from(got.contrast_applied);
        if let (Some(m), Some(em)) = (got.midpoint, exp["midpoint"].as_f64()) {
            rel_close(m, em, &format!("case {i} midpoint"));
            rel_close(
                got.cv.unwrap(),
                exp["cv"].as_f64().unwrap(),
                &format!("case {i} cv"),
            );
        }
        for (key, ours) in [
            ("aggregated_scores", &got.aggregated_scores),
            ("pre_burn_weights", &got.pre_burn_weights),
            ("weights", &got.weights),
        ] {
            let theirs = floats(&exp[key]);
            assert_eq!(ours.len(), theirs.len());
            for (uid, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                rel_close(*a, *b, &format!("case {i} {key}[{uid}]"));
            }
        }
        let uids: Vec<u16> = serde_json::from_value(exp["uids"].clone()).unwrap();
        let values: Vec<u16> = serde_json::from_value(exp["values"].clone()).unwrap();
        assert_eq!(got.uids, uids, "case {i}");
        assert_eq!(got.values, values, "case {i}");
        let zeroed: Vec<u16> = serde_json::from_value(exp["zeroed_validators"].clone()).unwrap();
        assert_eq!(got.zeroed_validators, zeroed, "case {i}");
        zeroed_cases += usize::from(!zeroed.is_empty());
        lone_uid_zero += usize::from(got.fallback == Some(FallbackReason::OnlyUidZero));
    }
    // The draw must exercise both special paths, or the comparison proves little.
    assert!(contrast >= 3, "only {contrast} contrast cases");
    assert!(fallback >= 1, "no fallback case");
    assert!(
        zeroed_cases >= 3,
        "only {zeroed_cases} cases zero an active validator"
    );
    assert!(lone_uid_zero >= 1, "no lone-UID-0 case");
}

#[test]
fn overall_blend_matches_numpy_on_random_inputs() {
    for (i, case) in cases("overall-random", 57, 40).iter().enumerate() {
        let req: OverallRequest = serde_json::from_value(case["request"].clone()).unwrap();
        let exp = &case["expected"];
        let OverallOutcome::Scored(got) = aggregate_overall(&req).unwrap() else {
            panic!("case {i}: complete leads must score");
        };
        let lead_scores = floats(&exp["lead_scores"]);
        assert_eq!(got.leads.len(), lead_scores.len(), "case {i}");
        for (l, e) in got.leads.iter().zip(&lead_scores) {
            rel_close(l.score, *e, &format!("case {i} lead {}", l.lead_hours));
        }
        rel_close(
            got.era5_norm,
            exp["era5_norm"].as_f64().unwrap(),
            &format!("case {i} era5"),
        );
        assert_eq!(
            got.day1_pass,
            exp["day1_pass"].as_bool().unwrap(),
            "case {i}"
        );
        rel_close(
            got.overall,
            exp["overall"].as_f64().unwrap(),
            &format!("case {i} overall"),
        );
    }
}
