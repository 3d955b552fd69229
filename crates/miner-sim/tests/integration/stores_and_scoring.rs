//! The world's stores and the miners' forecast stores read back with the validator's own reader
//! (`gaia_scoring::zarr`), verified with `gaia_protocol`, scored with the validator's
//! Day-1 and ERA5 functions, and opened with xarray (Python) to prove the layout.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use gaia_miner_sim::forecast::{build_forecast, ForecastStore, SWAPPED_CHUNK};
use gaia_miner_sim::keys::dev_signer;
use gaia_miner_sim::world::fields::LEVELS_HPA;
use gaia_miner_sim::{write_world, Behaviour, ErrorModel, World, WorldConfig, WorldPaths};
use gaia_protocol::{
    build_manifest, check_store, verification_hash, verify_manifest, VerifyError,
    VerifyManifestRequest,
};
use gaia_scoring::day1::{score_day1, Day1Request};
use gaia_scoring::era5::{score_era5_lead, Era5Error, Era5Request};
use gaia_scoring::zarr::{Climatology, Dataset, OpenOptions};

fn gfs_init() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
}

fn world() -> Arc<World> {
    Arc::new(
        World::new(WorldConfig {
            seed: 11,
            grid_deg: 10.0,
        })
        .unwrap(),
    )
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn miner(world: &World, dir: &Path, uid: u16, b: Behaviour) -> ForecastStore {
    let signer = dev_signer(uid).unwrap();
    build_forecast(
        world,
        &dir.join(format!("m{uid}")),
        uid,
        &signer,
        &b,
        gfs_init(),
    )
    .unwrap()
}

fn day1(paths: &WorldPaths, forecast: &ForecastStore) -> gaia_scoring::day1::Day1Report {
    // Built from JSON so fields the scoring crate adds later take their defaults.
    let request: Day1Request = serde_json::from_value(serde_json::json!({
        "forecast": s(&forecast.path),
        "truth": s(&paths.gfs_analysis),
        "reference": s(&paths.gfs_forecast),
        "climatology": s(&paths.climatology),
        "gfs_init_time": gfs_init(),
        "lead_hours": 12.0,
    }))
    .unwrap();
    score_day1(&request).unwrap()
}

fn era5_request(paths: &WorldPaths, forecast: &ForecastStore, lead: u32) -> Era5Request {
    serde_json::from_value(serde_json::json!({
        "forecast": s(&forecast.path),
        "truth": s(&paths.era5),
        "climatology": s(&paths.climatology),
        "gfs_init_time": gfs_init(),
        "lead_hours": lead,
    }))
    .unwrap()
}

fn era5(paths: &WorldPaths, forecast: &ForecastStore, lead: u32) -> Result<f64, Era5Error> {
    let report = score_era5_lead(&era5_request(paths, forecast, lead))?;
    let accs: Vec<f64> = report.variables.iter().filter_map(|v| v.acc).collect();
    Ok(accs.iter().sum::<f64>() / accs.len() as f64)
}

#[test]
fn world_stores_open_with_the_validator_reader() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let paths = write_world(&w, dir.path(), gfs_init()).unwrap();
    let opts = OpenOptions::default();
    for (p, n_times) in [
        (&paths.gfs_analysis, 4),
        (&paths.gfs_forecast, 40),
        (&paths.era5, 10),
    ] {
        let ds = Dataset::open(&s(p), &opts).unwrap();
        assert_eq!(
            ds.variable_names(),
            vec!["10u", "10v", "2t", "msl", "q", "t", "u", "v", "z"]
        );
        assert_eq!(ds.times().unwrap().len(), n_times);
        let levels = ds.pressure_levels().unwrap().unwrap();
        assert_eq!(
            levels,
            LEVELS_HPA.iter().map(|l| *l as f64).collect::<Vec<_>>()
        );
        let g = ds.grid().unwrap();
        assert_eq!((g.lat.len(), g.lon.len()), (19, 36));
        assert_eq!(ds.units("z").as_deref(), Some("m**2 s**-2"));
        assert_eq!(ds.units("q").as_deref(), Some("kg kg-1"));
    }
    // Values round-trip: ERA5 at lead 48 h, z500 == the world's truth.
    let era = Dataset::open(&s(&paths.era5), &opts).unwrap();
    let times = era.times().unwrap();
    assert_eq!(times[0], gfs_init() + TimeDelta::hours(24));
    assert_eq!(times[9], gfs_init() + TimeDelta::hours(240));
    let f = era.read_field("z", 1, Some(7)).unwrap();
    let want = w
        .plane("z", Some(500.0), times[1], 0.0, &ErrorModel::NONE)
        .unwrap();
    let got: Vec<f32> = f.values.iter().map(|v| *v as f32).collect();
    assert_eq!(got, want);
    // The analysis holds the Day-1 truth time.
    let ana = Dataset::open(&s(&paths.gfs_analysis), &opts).unwrap();
    assert!(ana
        .times()
        .unwrap()
        .contains(&(gfs_init() + TimeDelta::hours(12))));
    // Climatology: WeatherBench2 names, any valid time of the run, levels by hPa.
    let clim = Climatology::open(&s(&paths.climatology), &opts).unwrap();
    for lead in [12, 24, 240] {
        let valid = gfs_init() + TimeDelta::hours(lead);
        let t500 = clim.field("t", Some(500.0), valid).unwrap();
        let mean = t500.values.mean().unwrap();
        assert!((230.0..270.0).contains(&mean), "{mean}");
        let msl = clim.field("msl", None, valid).unwrap();
        assert!((100_000.0..102_500.0).contains(&msl.values.mean().unwrap()));
    }
    assert!(clim.field("t", Some(555.0), gfs_init()).is_err());
}

#[test]
fn forecasts_have_layout_manifest_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let honest = miner(&w, dir.path(), 1, Behaviour::Honest { skill: 0.9 });
    assert!(honest
        .dir_name
        .starts_with("weather_forecast_2026112800_miner_hk_"));
    let ds = Dataset::open(&s(&honest.path), &OpenOptions::default()).unwrap();
    let times = ds.times().unwrap();
    assert_eq!(times.len(), 40);
    assert_eq!(times[0], gfs_init() + TimeDelta::hours(6));
    assert_eq!(times[39], gfs_init() + TimeDelta::hours(240));
    // The production layout: no lead_time, `plev`, every level of a step in one chunk.
    assert!(!ds.variable_names().contains(&"lead_time".to_owned()));
    assert_eq!(ds.array("t").unwrap().dims, ["time", "plev", "lat", "lon"]);
    assert!(honest.path.join("t/3.0.0.0").is_file());
    assert!(!honest.path.join("t/3.1.0.0").exists());
    // Manifest bytes are what gaia_scoring builds; hash and signature verify.
    let hotkey = dev_signer(1).unwrap().ss58();
    let bytes = std::fs::read(honest.path.join("manifest.json")).unwrap();
    let sig = std::fs::read(honest.path.join("manifest.sig")).unwrap();
    assert_eq!(bytes, build_manifest(&honest.path, &hotkey).unwrap().bytes);
    assert_eq!(verification_hash(&bytes), honest.claimed_hash);
    let request = |claimed: &str| VerifyManifestRequest {
        manifest_json: String::from_utf8(bytes.clone()).unwrap(),
        signature_hex: hex::encode(&sig),
        claimed_hash: claimed.to_owned(),
        miner_hotkey_ss58: hotkey.clone(),
        require_sha256: true,
    };
    let report = verify_manifest(&request(&honest.claimed_hash)).unwrap();
    // root .zgroup/.zattrs/.zmetadata; 4 coordinates × (.zarray, .zattrs, chunk); 9 variables ×
    // (.zarray, .zattrs); 40 steps × (4 surface + 5 all-level) chunks.
    assert_eq!(report.frozen.files.len(), 3 + 4 * 3 + 9 * 2 + 40 * (4 + 5));
    // The reference layout keeps lead_time and one chunk per level.
    let reference = miner(&w, dir.path(), 2, Behaviour::ReferenceLayout { skill: 0.9 });
    let rds = Dataset::open(&s(&reference.path), &OpenOptions::default()).unwrap();
    assert!(rds.variable_names().contains(&"lead_time".to_owned()));
    assert!(reference.path.join("t/3.12.0.0").is_file());
    assert!(check_store(&honest.path, &report.frozen.files)
        .unwrap()
        .ok());
    // Another miner's hotkey does not verify this manifest.
    let mut wrong = request(&honest.claimed_hash);
    wrong.miner_hotkey_ss58 = dev_signer(2).unwrap().ss58();
    assert!(matches!(
        verify_manifest(&wrong),
        Err(VerifyError::SignerMismatch { .. })
    ));

    // Lying hash: valid signed manifest, claimed hash differs.
    let liar = miner(&w, dir.path(), 6, Behaviour::LyingHash);
    assert_ne!(liar.claimed_hash, liar.manifest_hash);
    let liar_bytes = std::fs::read(liar.path.join("manifest.json")).unwrap();
    assert_eq!(verification_hash(&liar_bytes), liar.manifest_hash);
    let liar_req = VerifyManifestRequest {
        manifest_json: String::from_utf8(liar_bytes).unwrap(),
        signature_hex: hex::encode(std::fs::read(liar.path.join("manifest.sig")).unwrap()),
        claimed_hash: liar.claimed_hash.clone(),
        miner_hotkey_ss58: dev_signer(6).unwrap().ss58(),
        require_sha256: true,
    };
    assert!(matches!(
        verify_manifest(&liar_req),
        Err(VerifyError::HashMismatch { .. })
    ));

    // Chunk swapper: the swap changes exactly the Day-1 2t chunk.
    let swapper = miner(&w, dir.path(), 7, Behaviour::ChunkSwapper);
    let built = build_manifest(&swapper.path, &dev_signer(7).unwrap().ss58()).unwrap();
    assert!(swapper.apply_swap().unwrap());
    let after = check_store(&swapper.path, &built.manifest.files).unwrap();
    assert_eq!(after.mismatched, vec![SWAPPED_CHUNK.to_owned()]);
    assert!(!honest.apply_swap().unwrap());
}

#[test]
fn behaviours_score_as_intended_with_the_validator_functions() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let paths = write_world(&w, dir.path(), gfs_init()).unwrap();
    let good = miner(&w, dir.path(), 0, Behaviour::Honest { skill: 0.9 });
    let poor = miner(&w, dir.path(), 2, Behaviour::Honest { skill: 0.3 });
    let cloner = miner(&w, dir.path(), 5, Behaviour::GfsCloner);
    let nan = miner(&w, dir.path(), 8, Behaviour::NanInjector);
    let units = miner(&w, dir.path(), 9, Behaviour::WrongUnits);

    let d_good = day1(&paths, &good);
    let d_poor = day1(&paths, &poor);
    let d_clone = day1(&paths, &cloner);
    assert!(
        d_good.score > d_poor.score,
        "{} vs {}",
        d_good.score,
        d_poor.score
    );
    assert!(d_good.passed);
    assert!(d_clone.clamped, "the GFS cloner is clamped: {d_clone:?}");
    let d_units = day1(&paths, &units);
    assert!(
        d_units.variables.iter().any(|v| v.unit_fix.is_some()),
        "Day-1 fixes °C/hPa"
    );

    let e_good = era5(&paths, &good, 24).unwrap();
    let e_poor = era5(&paths, &poor, 24).unwrap();
    assert!(e_good > e_poor, "{e_good} vs {e_poor}");
    assert!(
        era5(&paths, &good, 240).unwrap() < e_good,
        "skill decays with lead"
    );
    match era5(&paths, &nan, 24) {
        Err(Era5Error::InsufficientCoverage { coverage, .. }) => assert!(coverage < 0.9),
        other => panic!("NaN injector must fail coverage, got {other:?}"),
    }
    // §12-15: ERA5 refuses degC — the lead fails.
    match score_era5_lead(&era5_request(&paths, &units, 24)) {
        Err(Era5Error::WrongUnits {
            variable, found, ..
        }) => assert_eq!((variable.as_str(), found.as_str()), ("2t", "degC")),
        other => panic!("ERA5 must refuse degC, got {other:?}"),
    }
}

#[test]
fn stores_open_with_xarray() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let paths = write_world(&w, dir.path(), gfs_init()).unwrap();
    let f = miner(&w, dir.path(), 3, Behaviour::Honest { skill: 0.8 });
    let out = gaia_testkit::run_python(
        "crates/miner-sim/tests/miner_sim_check.py",
        &[
            &s(&paths.gfs_analysis),
            &s(&paths.gfs_forecast),
            &s(&paths.era5),
            &s(&paths.climatology),
            &s(&f.path),
        ],
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let fc = &v["forecast"];
    assert_eq!(fc["times"][0], "2026-11-28T06:00:00");
    assert_eq!(fc["times"].as_array().unwrap().len(), 40);
    assert_eq!(fc["lead_time_hours"][39], 240.0);
    assert_eq!(
        fc["dims"]["t"],
        serde_json::json!(["time", "plev", "lat", "lon"])
    );
    // xarray decodes the same numbers as the validator's reader.
    let ds = Dataset::open(&s(&f.path), &OpenOptions::default()).unwrap();
    let z = ds.read_field("z", 3, Some(7)).unwrap();
    let py = fc["z_t3_l7_00"].as_f64().unwrap();
    assert!(
        (z.values[[0, 0]] - py).abs() < 1e-3,
        "{} vs {py}",
        z.values[[0, 0]]
    );
    assert_eq!(v["era5"]["times"].as_array().unwrap().len(), 10);
    assert_eq!(
        v["climatology"]["dims"]["temperature"],
        serde_json::json!(["hour", "dayofyear", "level", "latitude", "longitude"])
    );
    assert_eq!(v["analysis"]["units"]["2t"], "K");
}
