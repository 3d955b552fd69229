//! Day-1 scores on real Zarr stores written by xarray (scripts/fixtures/scoring_day1.py) against
//! the independent xarray/xskillscore reference (bench/day1_reference.py), within 1e-6 relative
//! (with an absolute floor of 1e-9 for numbers that are zero up to rounding, such as the
//! correlation of a constant field).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use gaia_scoring::day1::{
    score_day1, Day1Config, Day1Report, Day1Request, UnitFix, VariableSpec, VariableStatus,
};
use serde_json::Value;

const REL_TOL: f64 = 1e-6;
const ABS_FLOOR: f64 = 1e-9;

/// The fixture's expected values (its directory is shared by every test process: read-only).
fn fixture() -> &'static Value {
    static FIX: OnceLock<Value> = OnceLock::new();
    FIX.get_or_init(|| {
        let fixture = gaia_testkit::python_fixture("scripts/fixtures/scoring_day1.py")
            .expect("fixture script");
        serde_json::from_str(&fixture.stdout).expect("fixture JSON")
    })
}

fn request(case: &str) -> Day1Request {
    let j = fixture();
    let c = &j["cases"][case];
    Day1Request {
        forecast: c["forecast"].as_str().unwrap().to_string(),
        truth: c["truth"].as_str().unwrap().to_string(),
        reference: j["reference"].as_str().unwrap().to_string(),
        climatology: j["climatology"].as_str().unwrap().to_string(),
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: j["gfs_init"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        lead_hours: j["lead_hours"].as_f64().unwrap(),
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
        miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
        miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
    }
}

fn close(actual: f64, expected: f64, what: &str) {
    let scale = expected.abs().max(1e-12);
    assert!(
        ((actual - expected) / scale).abs() <= REL_TOL || (actual - expected).abs() <= ABS_FLOOR,
        "{what}: got {actual}, expected {expected}"
    );
}

fn close_opt(actual: Option<f64>, expected: &Value, what: &str) {
    match (actual, expected.as_f64()) {
        (Some(a), Some(e)) => close(a, e, what),
        (None, None) => {}
        // The correlation of a constant field is undefined: the kernel's per-row moments find
        // its variance exactly 0 (NaN, reported as absent) where numpy's rounding leaves noise
        // below the absolute floor. Either way the sanity check fails it (threshold 0.3).
        (None, Some(e)) if what.ends_with("pattern") && e.abs() <= ABS_FLOOR => {}
        (a, _) => panic!("{what}: got {a:?}, expected {expected}"),
    }
}

/// Score `case` and compare every number with the reference.
fn check_case(case: &str) -> Day1Report {
    let report = score_day1(&request(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
    let exp = &fixture()["cases"][case]["expected"];
    close(
        report.score,
        exp["score"].as_f64().unwrap(),
        &format!("{case} score"),
    );
    close(
        report.skill_term,
        exp["skill_term"].as_f64().unwrap(),
        &format!("{case} skill_term"),
    );
    close(
        report.acc_term,
        exp["acc_term"].as_f64().unwrap(),
        &format!("{case} acc_term"),
    );
    assert_eq!(
        report.passed,
        exp["passed"].as_bool().unwrap(),
        "{case} passed"
    );
    assert_eq!(
        report.clamped,
        exp["clamped"].as_bool().unwrap(),
        "{case} clamped"
    );
    assert_eq!(
        report.qc_failed,
        exp["qc_failed"].as_bool().unwrap(),
        "{case} qc_failed"
    );
    assert_eq!(report.variables.len(), 5);
    for v in &report.variables {
        let e = &exp["variables"][&v.key];
        let what = |m: &str| format!("{case} {} {m}", v.key);
        let status = match v.status {
            VariableStatus::Scored => "scored",
            VariableStatus::SanityFailed => "sanity_failed",
            VariableStatus::Skipped => "skipped",
        };
        assert_eq!(status, e["status"].as_str().unwrap(), "{}", what("status"));
        close_opt(v.skill, &e["skill"], &what("skill"));
        close_opt(
            v.skill_penalised,
            &e["skill_penalised"],
            &what("skill_penalised"),
        );
        close_opt(v.acc, &e["acc"], &what("acc"));
        close_opt(
            v.clone_distance,
            &e["clone_distance"],
            &what("clone_distance"),
        );
        close(
            v.clone_penalty,
            e["clone_penalty"].as_f64().unwrap(),
            &what("clone_penalty"),
        );
        assert_eq!(
            v.clone_flag,
            e["clone_flag"].as_bool().unwrap(),
            "{}",
            what("clone_flag")
        );
        close_opt(
            v.pattern_correlation,
            &e["pattern_correlation"],
            &what("pattern"),
        );
        close_opt(v.rmse, &e["rmse"], &what("rmse"));
        close_opt(v.mae, &e["mae"], &what("mae"));
        close_opt(v.bias, &e["bias"], &what("bias"));
        let fix = v.unit_fix.map(|f| serde_json::to_value(f).unwrap());
        assert_eq!(
            fix.as_ref().unwrap_or(&Value::Null),
            &e["unit_fix"],
            "{}",
            what("unit_fix")
        );
    }
    report
}

#[test]
fn perfect_forecast_scores_one() {
    let r = check_case("perfect");
    close(r.score, 1.0, "perfect score by hand");
    assert!(r.passed && !r.clamped && !r.qc_failed);
    assert_eq!(r.metrics["day1_rmse_2t"], 0.0);
}

#[test]
fn honest_noisy_forecast_matches_reference() {
    let r = check_case("honest");
    assert!(r.score > 0.1 && r.score < 1.0 && r.passed);
    // the concurrent path gives the same report
    let mut req = request("honest");
    req.threads = 2;
    assert_eq!(score_day1(&req).unwrap(), r);
}

#[test]
fn gfs_clone_is_clamped() {
    let r = check_case("clone");
    assert!(r.clamped);
    assert!(r.score <= 0.05);
    assert!(!r.passed);
}

#[test]
fn wrong_units_are_auto_fixed() {
    let r = check_case("units");
    let fixes: Vec<_> = r.variables.iter().filter_map(|v| v.unit_fix).collect();
    assert_eq!(
        fixes,
        vec![
            UnitFix::CelsiusToKelvin,
            UnitFix::HectopascalToPascal,
            UnitFix::GeopotentialHeightToGeopotential
        ]
    );
    assert!(r.passed && !r.qc_failed);
}

/// §12-18: z500 is stored right, but the mean over all of z's levels decides the fix: the
/// geopotential-height fix is applied and z500 then fails its bounds (matching the reference).
#[test]
fn the_unit_fix_is_decided_on_all_levels() {
    let r = check_case("unit_fix_all_levels");
    let z = r.variables.iter().find(|v| v.key == "z500").unwrap();
    assert_eq!(z.unit_fix, Some(UnitFix::GeopotentialHeightToGeopotential));
    assert_eq!(z.status, VariableStatus::SanityFailed, "{z:?}");
}

#[test]
fn different_grid_is_interpolated() {
    let r = check_case("regrid");
    assert!(r.passed);
}

#[test]
fn sanity_failure_excludes_the_variable() {
    let r = check_case("sanity");
    assert!(r.qc_failed);
    let t2 = r.variables.iter().find(|v| v.key == "2t").unwrap();
    assert_eq!(t2.status, VariableStatus::SanityFailed);
    assert!(!t2.sanity_failures.is_empty());
}

#[test]
fn seed_example_rmse_is_one() {
    // forecast 2t = 275 K everywhere, truth 274 K: RMSE 1.0, MAE 1.0, bias 1.0 (by hand)
    let r = check_case("seed");
    assert_eq!(r.metrics["day1_rmse_2t"], 1.0);
    assert_eq!(r.metrics["day1_mae_2t"], 1.0);
    assert_eq!(r.metrics["day1_bias_2t"], 1.0);
}

/// §12-4: a variable the forecast lacks, or with no level within 10 hPa, is skipped; the score
/// comes from the other variables and equals the reference's score of the same forecast.
#[test]
fn a_problem_confined_to_one_variable_skips_it() {
    let mut req = request("honest");
    req.config
        .variables
        .push(VariableSpec::surface("not_in_any_store"));
    req.config
        .variables
        .push(VariableSpec::at_level("z", 775.0));
    let r = score_day1(&req).unwrap();
    let exp = &fixture()["cases"]["honest"]["expected"];
    close(
        r.score,
        exp["score"].as_f64().unwrap(),
        "score from the other five",
    );
    assert_eq!(r.variables.len(), 7);
    let skipped: Vec<(&str, &str)> = r
        .variables
        .iter()
        .filter(|v| v.status == VariableStatus::Skipped)
        .map(|v| (v.key.as_str(), v.sanity_failures[0].as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "not_in_any_store");
    assert!(
        skipped[0].1.contains("missing from the forecast"),
        "{skipped:?}"
    );
    assert_eq!(skipped[1].0, "z775");
    assert!(skipped[1].1.starts_with("forecast:"), "{skipped:?}");
    assert!(r.passed && !r.qc_failed);
    assert!(!r.metrics.keys().any(|k| k.ends_with("z775")));
}
