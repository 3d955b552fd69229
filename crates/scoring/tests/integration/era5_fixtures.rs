//! ERA5 per-(miner, lead) scores on real Zarr stores written by xarray
//! (scripts/fixtures/scoring_era5.py) against the independent xarray/xskillscore reference
//! (bench/era5_reference.py), in both scoring profiles: every per-variable and per-level number
//! within 1e-6 relative (absolute floor 1e-9 for values that are zero up to rounding), and the
//! same failure kind.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use gaia_scoring::era5::{score_era5_lead, Era5Config, Era5Error, Era5LeadReport, Era5Request};
use gaia_scoring::ScoringProfile;
use serde_json::Value;

const REL_TOL: f64 = 1e-6;
const ABS_FLOOR: f64 = 1e-9;

/// The fixture's expected values (its directory is shared by every test process: read-only).
fn fixture() -> &'static Value {
    static FIX: OnceLock<Value> = OnceLock::new();
    FIX.get_or_init(|| {
        let fixture = gaia_testkit::python_fixture("scripts/fixtures/scoring_era5.py")
            .expect("fixture script");
        serde_json::from_str(&fixture.stdout).expect("fixture JSON")
    })
}

/// The fixture's case names.
pub(crate) fn case_names() -> Vec<String> {
    fixture()["cases"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

pub(crate) fn request(case: &str) -> Era5Request {
    let j = fixture();
    Era5Request {
        forecast: j["cases"][case]["forecast"].as_str().unwrap().to_string(),
        truth: j["truth"].as_str().unwrap().to_string(),
        climatology: j["climatology"].as_str().unwrap().to_string(),
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: j["gfs_init"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        lead_hours: j["lead_hours"].as_u64().unwrap() as u32,
        // The reference (bench/era5_reference.py) implements the spec's formulas.
        config: Era5Config {
            profile: ScoringProfile::Spec,
            ..Era5Config::default()
        },
    }
}

fn in_profile(case: &str, profile: ScoringProfile) -> Result<Era5LeadReport, Era5Error> {
    let mut req = request(case);
    req.config.profile = profile;
    score_era5_lead(&req)
}

fn close(actual: f64, expected: f64, what: &str) {
    let rel = ((actual - expected) / expected.abs().max(1e-300)).abs();
    assert!(
        rel <= REL_TOL || (actual - expected).abs() <= ABS_FLOOR,
        "{what}: got {actual}, expected {expected}"
    );
}

fn close_opt(actual: Option<f64>, expected: &Value, what: &str) {
    match (actual, expected.as_f64()) {
        (Some(a), Some(e)) => close(a, e, what),
        (None, None) => {}
        (a, _) => panic!("{what}: got {a:?}, expected {expected}"),
    }
}

fn expected_in(case: &str, profile: ScoringProfile) -> &'static Value {
    let key = match profile {
        ScoringProfile::Spec => "expected",
        ScoringProfile::Production => "expected_production",
    };
    &fixture()["cases"][case][key]
}

fn check_ok(case: &str) -> Era5LeadReport {
    check_ok_in(case, ScoringProfile::Spec)
}

fn check_ok_in(case: &str, profile: ScoringProfile) -> Era5LeadReport {
    let report = in_profile(case, profile).unwrap_or_else(|e| panic!("{case}: {e}"));
    let want = expected_in(case, profile);
    let exp = want["ok"]["variables"]
        .as_array()
        .unwrap_or_else(|| panic!("{case} {profile:?}: reference failed: {want}"));
    assert_eq!(report.variables.len(), 9);
    for (v, e) in report.variables.iter().zip(exp) {
        let w = |m: &str| format!("{case} {profile:?} {} {m}", v.variable);
        assert_eq!(v.variable, e["variable"].as_str().unwrap());
        close_opt(v.rmse, &e["rmse"], &w("rmse"));
        close_opt(v.mse, &e["mse"], &w("mse"));
        close_opt(v.acc, &e["acc"], &w("acc"));
        close_opt(v.skill, &e["skill"], &w("skill"));
        close_opt(v.mae, &e["mae"], &w("mae"));
        close_opt(v.bias, &e["bias"], &w("bias"));
        close_opt(
            v.mean_bias_unweighted,
            &e["mean_bias_unweighted"],
            &w("mean bias"),
        );
        close(v.coverage, e["coverage"].as_f64().unwrap(), &w("coverage"));
        assert_eq!(
            v.edge_salvaged_points as u64,
            e["edge_salvaged_points"].as_u64().unwrap(),
            "{}",
            w("salvage")
        );
        assert_eq!(
            v.climatology_filled_points as u64,
            e["climatology_filled_points"].as_u64().unwrap(),
            "{}",
            w("fill")
        );
        assert_eq!(v.error.is_some(), !e["error"].is_null(), "{}", w("error"));
        let levels = e["levels"].as_array().unwrap();
        assert_eq!(v.levels.len(), levels.len());
        for (l, el) in v.levels.iter().zip(levels) {
            let wl = |m: &str| format!("{case} {profile:?} {} @{:?} {m}", v.variable, l.level_hpa);
            close_opt(l.level_hpa, &el["level_hpa"], &wl("level"));
            close(l.weight, el["weight"].as_f64().unwrap(), &wl("weight"));
            for (name, val) in [
                ("mse", l.mse),
                ("rmse", l.rmse),
                ("acc", l.acc),
                ("skill", l.skill),
                ("mae", l.mae),
                ("bias", l.bias),
            ] {
                close_opt(val, &el[name], &wl(name));
            }
        }
    }
    report
}

fn check_err(case: &str) -> Era5Error {
    check_err_in(case, ScoringProfile::Spec)
}

fn check_err_in(case: &str, profile: ScoringProfile) -> Era5Error {
    let err = in_profile(case, profile).expect_err(case);
    let e = expected_in(case, profile);
    let kind = match &err {
        Era5Error::ExtremeValues { variable, .. } => ("extreme_values", variable),
        Era5Error::NanInjection { variable, .. } => ("nan_injection", variable),
        Era5Error::InsufficientCoverage { variable, .. } => ("insufficient_coverage", variable),
        Era5Error::MissingVariable { variable, .. } => ("missing_variable", variable),
        other => panic!("{case}: unexpected error {other}"),
    };
    assert_eq!(kind.0, e["error"].as_str().unwrap(), "{case} {profile:?}");
    assert_eq!(
        kind.1,
        e["variable"].as_str().unwrap(),
        "{case} {profile:?}"
    );
    err
}

/// Every case with reference values, in both profiles: the same numbers or the same failure.
#[test]
fn every_case_matches_the_reference_in_both_profiles() {
    let cases = fixture()["cases"].as_object().unwrap();
    let mut compared = 0;
    for (case, entry) in cases {
        for profile in [ScoringProfile::Spec, ScoringProfile::Production] {
            let want = expected_in(case, profile);
            if want.is_null() {
                assert!(entry.get("expected").is_none(), "{case}: only one profile");
                continue;
            }
            if want.get("ok").is_some() {
                check_ok_in(case, profile);
            } else {
                check_err_in(case, profile);
            }
            compared += 1;
        }
    }
    assert_eq!(
        compared,
        2 * 12,
        "12 cases with reference values, 2 profiles"
    );
}

#[test]
fn perfect_forecast() {
    let r = check_ok("perfect");
    let honest = check_ok("honest");
    for (v, h) in r.variables.iter().zip(&honest.variables) {
        // §12-8: the float32 first pass leaves ~1e-9 relative errors where values change sign.
        let ratio = v.rmse.unwrap() / h.rmse.unwrap();
        assert!(
            ratio < 1e-6,
            "{}: {:?} vs honest {:?}",
            v.variable,
            v.rmse,
            h.rmse
        );
        close(v.acc.unwrap(), 1.0, "perfect acc by hand");
        close(v.skill.unwrap(), 1.0, "perfect skill by hand");
    }
    let u10 = &r.variables[2];
    assert_eq!(u10.variable, "10u");
    assert!(
        u10.rmse.unwrap() > 0.0,
        "a perfect wind is not exact after the float32 pass"
    );
    let lead = r.to_lead_metrics();
    assert_eq!(lead.lead_hours, 24);
    assert!(lead.variables.iter().all(|v| v.is_present()));
}

#[test]
fn honest_forecast() {
    let r = check_ok("honest");
    assert!(r
        .variables
        .iter()
        .all(|v| v.skill.unwrap() > 0.0 && v.error.is_none()));
}

/// §12-9: the NaN top row of `2t` is filled from row 1 except its two corners, which the column
/// pass rewrites from the original (NaN) row; they lower coverage and are filled from the
/// climatology. The NaN last column of `t` is filled whole, corners included.
#[test]
fn border_nans_are_salvaged() {
    let r = check_ok("border_nan");
    let t2 = &r.variables[0];
    assert_eq!(t2.variable, "2t");
    let nlon = 120;
    assert_eq!(t2.edge_salvaged_points, nlon - 2);
    assert_eq!(t2.climatology_filled_points, 2);
    assert_eq!(t2.coverage, 1.0 - 2.0 / (61.0 * 120.0));
    let t = r.variables.iter().find(|v| v.variable == "t").unwrap();
    assert_eq!(t.edge_salvaged_points, 13 * 61);
    assert_eq!(t.coverage, 1.0);
}

/// §12-6: four isolated NaNs (coverage 0.99945 as stored) become 16 after the interpolation onto
/// the identical grid: coverage 0.99781 < 0.9985.
#[test]
fn isolated_nans_spread_before_the_coverage_rule() {
    match check_err("isolated_nans") {
        Era5Error::InsufficientCoverage { coverage, .. } => {
            assert_eq!(coverage, 1.0 - 16.0 / (61.0 * 120.0));
        }
        other => panic!("{other}"),
    }
}

/// §12-7: a store without 925 hPa is interpolated linearly in pressure and scored; levels stored
/// in Pa are not converted and miss every target (all-NaN: NaN injection).
#[test]
fn the_level_axis_is_interpolated() {
    let r = check_ok("missing_level");
    let t = r.variables.iter().find(|v| v.variable == "t").unwrap();
    assert_eq!(t.levels.len(), 13);
    assert!(t.levels.iter().all(|l| l.rmse.is_some()));
    let err = check_err("levels_in_pa");
    assert!(err.is_verification_failure());
}

/// §12-11: ±inf in `2t` lowers coverage (each spread over its stencil) and is filled from the
/// climatology; an infinity on a pressure level is not filled, so `q` has no finite RMSE and a
/// NaN ACC (an error row), and the lead is still scored.
#[test]
fn infinities_are_missing_values() {
    let r = check_ok("infinities");
    let t2 = &r.variables[0];
    assert!(t2.coverage < 1.0 && t2.climatology_filled_points > 0);
    let q = r.variables.iter().find(|v| v.variable == "q").unwrap();
    assert!(q.coverage < 1.0 && q.climatology_filled_points == 0);
    assert!(q.rmse.is_none() && q.acc.is_none() && q.error.is_some());
}

#[test]
fn coarser_grid_is_interpolated_and_its_edge_salvaged() {
    let r = check_ok("regrid");
    assert!(r.variables.iter().all(|v| v.edge_salvaged_points > 0));
}

#[test]
fn nan_hole_fails_coverage() {
    let err = check_err("nan_hole");
    assert!(!err.is_verification_failure());
}

#[test]
fn extreme_values_are_a_verification_failure() {
    assert!(check_err("extreme").is_verification_failure());
}

#[test]
fn nan_injection_is_a_verification_failure() {
    assert!(check_err("nan_injection").is_verification_failure());
}

#[test]
fn missing_variable_fails_completeness() {
    check_err("missing_variable");
}

#[test]
fn wrong_lead_has_no_exact_time() {
    let mut req = request("honest");
    req.lead_hours = 30; // forecast holds 12/24/36 h, the truth only 0/24 h
    assert!(matches!(
        score_era5_lead(&req),
        Err(Era5Error::Select { .. })
    ));
}

/// §12-13/15: the honest forecast stored as `t2m`, `u10`, `geopotential`, … on a `plev` axis,
/// with `kelvin`, `m s**-1`, `pascal`, … and matching GRIB attributes scores exactly as the
/// honest store, whose numbers match the reference.
#[test]
fn accepted_names_units_and_grib_attributes_score_as_the_short_names() {
    let honest = check_ok("honest");
    let aliased = score_era5_lead(&request("aliases")).unwrap_or_else(|e| panic!("aliases: {e}"));
    assert_eq!(aliased.variables.len(), honest.variables.len());
    for (a, h) in aliased.variables.iter().zip(&honest.variables) {
        assert_eq!(a.variable, h.variable);
        assert_eq!(a.levels, h.levels, "{}", a.variable);
        assert_eq!(
            (a.rmse, a.acc, a.skill, a.coverage),
            (h.rmse, h.acc, h.skill, h.coverage),
            "{}",
            a.variable
        );
        assert!(a.error.is_none(), "{}: {:?}", a.variable, a.error);
    }
}

/// §12-14/15: an array whose GRIB attributes or units say it is another quantity fails the lead.
#[test]
fn grib_identity_and_units_mismatches_fail_the_lead() {
    match score_era5_lead(&request("wrong_param_id")) {
        Err(Era5Error::WrongVariable { which, reason }) => {
            assert_eq!(which, "forecast");
            assert!(
                reason.contains("GRIB_paramId 168, expected 167"),
                "{reason}"
            );
        }
        other => panic!("wrong_param_id: {other:?}"),
    }
    match score_era5_lead(&request("wrong_standard_name")) {
        Err(Era5Error::WrongVariable { reason, .. }) => {
            assert!(
                reason.contains("standard_name \"air_temperature\""),
                "{reason}"
            );
        }
        other => panic!("wrong_standard_name: {other:?}"),
    }
    match score_era5_lead(&request("wrong_units")) {
        Err(e @ Era5Error::WrongUnits { .. }) => {
            let Era5Error::WrongUnits {
                variable, found, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((variable.as_str(), found.as_str()), ("z", "m^2/s^2"));
            assert!(
                !e.is_verification_failure(),
                "a scoring failure of the lead"
            );
        }
        other => panic!("wrong_units: {other:?}"),
    }
}

/// §11-1: in `production` the pressure-level skill against climatology is 0.0 at every level
/// unless edge salvage changed the field; everything else equals the `spec` profile, whose numbers
/// match the reference. In `border_nan`, `t` has a NaN border column: salvaged, so its skill is
/// computed in both profiles.
#[test]
fn production_zeroes_unsalvaged_pressure_level_skill_and_nothing_else() {
    for case in ["honest", "border_nan"] {
        let spec = check_ok(case);
        let prod = in_profile(case, ScoringProfile::Production).unwrap();
        for (p, s) in prod.variables.iter().zip(&spec.variables) {
            let pressure = s.levels.iter().any(|l| l.level_hpa.is_some());
            let zeroed = pressure && s.edge_salvaged_points == 0 && s.coverage == 1.0;
            let what = format!("{case} {}", s.variable);
            if zeroed {
                assert_eq!(p.skill, Some(0.0), "{what}");
                assert!(p.levels.iter().all(|l| l.skill == Some(0.0)), "{what}");
                assert!(s.skill.unwrap() > 0.0, "{what}: the spec skill is not 0");
            } else {
                assert_eq!(p.skill, s.skill, "{what}");
                assert_eq!(p.levels, s.levels, "{what}");
            }
            assert_eq!(
                (p.rmse, p.mse, p.acc, p.mae, p.bias, p.coverage),
                (s.rmse, s.mse, s.acc, s.mae, s.bias, s.coverage),
                "{what}"
            );
            for (pl, sl) in p.levels.iter().zip(&s.levels) {
                assert_eq!(
                    (pl.mse, pl.acc, pl.rmse),
                    (sl.mse, sl.acc, sl.rmse),
                    "{what}"
                );
            }
        }
        let salvaged_t = prod.variables.iter().find(|v| v.variable == "t").unwrap();
        assert_eq!(
            salvaged_t.skill.unwrap() != 0.0,
            case == "border_nan",
            "{case}: t is salvaged only in border_nan"
        );
    }
}

/// §11-2: `production` scores a forecast with |x| > 1e12; `spec` refuses it as a verification
/// failure (checked against the reference by `extreme_values_are_a_verification_failure`).
#[test]
fn production_scores_extreme_values() {
    let report = in_profile("extreme", ScoringProfile::Production).unwrap();
    let u = report.variables.iter().find(|v| v.variable == "u").unwrap();
    assert!(
        u.rmse.unwrap() > 1e9,
        "the 1e13 value is scored: {:?}",
        u.rmse
    );
    assert!(matches!(
        in_profile("extreme", ScoringProfile::Spec),
        Err(Era5Error::ExtremeValues { .. })
    ));
}

/// Issue "real miners", acceptance 1: the honest forecast in the production layout (all 13
/// levels of a step in one chunk) served over loopback HTTP: one ERA5 lead fetches each needed
/// object exactly once — one chunk per variable — and scores exactly as a local read of the same
/// store, which scores exactly as the level-per-chunk honest store.
#[test]
fn production_layout_over_http_reads_each_chunk_once() {
    let local = request("production_layout");
    let store = std::path::Path::new(&local.forecast);
    let server = crate::zarr_support::TestServer::start(store.parent().unwrap(), None);
    let mut remote = local.clone();
    remote.forecast = server.url("production_layout.zarr");
    let started = std::time::Instant::now();
    let over_http = score_era5_lead(&remote).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    let on_disk = score_era5_lead(&local).unwrap();
    assert_eq!(over_http.variables, on_disk.variables);
    let honest = score_era5_lead(&request("honest")).unwrap();
    assert_eq!(on_disk.variables, honest.variables);

    let requested = server.requested();
    let mut unique = requested.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        requested.len(),
        "a path fetched twice: {requested:?}"
    );
    // The valid time (T0+24h) is step 3 of the 6-hourly steps from T0+6h.
    let chunks: Vec<&String> = requested
        .iter()
        .filter(|r| r.contains(".zarr/") && r.ends_with(".0.0") && !r.contains("/lat/"))
        .filter(|r| !r.contains("/lon/") && !r.contains("/time/") && !r.contains("/plev/"))
        .collect();
    assert_eq!(chunks.len(), 9, "one chunk per variable: {chunks:?}");
    assert!(chunks.iter().all(|c| c.contains("/3.0")), "{chunks:?}");
    let t = over_http.transfer;
    assert_eq!(t.requests as usize, requested.len());
    assert_eq!(t.retries, 0);
    // The requests against a budget of 240 a minute (one per 250 ms) with a burst of 2: the
    // budget spaced them. Bounded below by the budget whatever the machine's load (a loaded
    // machine waits less in the bucket because each request itself takes longer).
    let spacing_ms = (t.requests.saturating_sub(2)) * 250;
    assert!(t.waited_ms > 0, "{t:?}");
    assert!(
        elapsed.as_millis() as u64 >= spacing_ms * 95 / 100,
        "{elapsed:?} for {t:?}"
    );
    assert!(t.bytes > 0);
    assert_eq!(on_disk.transfer, Default::default());
}
