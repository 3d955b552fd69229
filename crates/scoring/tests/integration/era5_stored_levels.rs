//! The forecast's stored levels read as the target levels need them
//! ([`gaia_scoring::era5::stored_levels`]): on the xarray-written ERA5 fixture, the rows equal
//! those of the whole forecast read up front bit for bit while only the levels in use are held,
//! and a failure keeps the order of reading the whole forecast first.

use std::path::{Path, PathBuf};

use gaia_scoring::era5::stored_levels::StoredLevels;
use gaia_scoring::era5::{score_era5_lead, Era5Error, ForecastOnTruth};
use gaia_scoring::regrid::LevelPlan;
use gaia_scoring::zarr::{Dataset, OpenOptions};

use crate::era5_fixtures::request;

fn open(path: &str) -> Dataset {
    Dataset::open(path, &OpenOptions::default()).expect("open")
}

/// Every target level's every row from the lazily read levels equals the rows from all levels
/// read up front, and no more than the two levels a target reads are held at a time; each
/// stored level is read once.
#[test]
fn lazily_read_levels_give_the_same_rows_and_hold_two_levels() {
    let req = request("honest");
    let (forecast, truth) = (open(&req.forecast), open(&req.truth));
    let target = truth.grid().unwrap();
    let grid = forecast.grid().unwrap();
    let stored = forecast.level_coordinate().unwrap().unwrap();
    let targets = truth.pressure_levels().unwrap().unwrap();
    let time = forecast
        .times()
        .unwrap()
        .iter()
        .position(|t| *t == req.valid_time())
        .unwrap();
    let plan = LevelPlan::new(&stored, &targets).unwrap();
    let needed = plan.needed();
    assert_eq!(needed.len(), 13);
    let all = forecast.read_field_levels("t", time, &needed).unwrap();
    let mut up_front = ForecastOnTruth::levels(&all, plan.clone(), &target);
    let mut lazy = ForecastOnTruth::levels_to_load(&grid, needed.len(), plan.clone(), &target);
    let mut levels = StoredLevels::new(&forecast, "t".into(), time, needed, &plan).unwrap();
    assert_eq!(lazy.held(), 0);
    let (rows, cols) = target.shape();
    let (mut a, mut b) = (vec![0.0; cols], vec![0.0; cols]);
    for k in 0..targets.len() {
        levels.load(&mut lazy, Some(k)).unwrap();
        assert!(lazy.held() <= 2, "level {k}: {} held", lazy.held());
        for i in 0..rows {
            up_front.row_into(k, i, &mut a);
            lazy.row_into(k, i, &mut b);
            let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "level {k} row {i}");
        }
    }
    // Everything was read: nothing is left for the error path to read.
    levels.load(&mut lazy, None).unwrap();
}

/// Copy a store directory (the fixture's directory is shared: tests change copies only).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The `extreme` case with `u`'s chunks at the last stored level replaced by garbage.
fn extreme_with_a_corrupt_last_level(dir: &Path) -> PathBuf {
    let req = request("extreme");
    let store = dir.join("extreme.zarr");
    copy_dir(Path::new(&req.forecast), &store);
    let mut corrupted = 0;
    for entry in std::fs::read_dir(store.join("u")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.split('.').nth(1) == Some("12") {
            std::fs::write(store.join("u").join(&name), b"not a blosc frame").unwrap();
            corrupted += 1;
        }
    }
    assert!(corrupted > 0);
    store
}

/// An extreme value at a low level of `u` and an unreadable chunk at its last level: the read
/// error is the outcome, as when the whole forecast was read before the truth (the level with
/// the extreme value is scored first when the levels are read as they are needed).
#[test]
fn a_forecast_read_error_wins_over_an_earlier_levels_extreme_value() {
    let plain = score_era5_lead(&request("extreme")).unwrap_err();
    assert!(
        matches!(plain, Era5Error::ExtremeValues { ref variable, .. } if variable == "u"),
        "{plain}"
    );
    the_corrupt_extreme_store_fails_with_the_read_error(1);
}

/// On two threads a pressure-level variable of a store with one level per chunk is scored in
/// two parts of its levels: every case of the fixture gives the same report, or the same
/// failure, as on one thread; and the read error of the corrupted store still wins over the
/// extreme value the first part finds.
#[test]
fn two_threads_score_every_case_as_one_thread() {
    let cases = crate::era5_fixtures::case_names();
    assert!(cases.len() >= 12, "{cases:?}");
    for case in &cases {
        let one = score_era5_lead(&request(case));
        let mut req = request(case);
        req.config.threads = 2;
        let two = score_era5_lead(&req);
        match (one, two) {
            (Ok(a), Ok(b)) => assert_eq!(a.variables, b.variables, "{case}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case}"),
            (a, b) => panic!("{case}: {a:?} on one thread, {b:?} on two"),
        }
    }
    the_corrupt_extreme_store_fails_with_the_read_error(2);
}

/// The `extreme` case with a corrupted last level of `u`, scored on `threads` threads, fails
/// with the forecast read error.
fn the_corrupt_extreme_store_fails_with_the_read_error(threads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut req = request("extreme");
    req.forecast = extreme_with_a_corrupt_last_level(dir.path())
        .to_string_lossy()
        .into_owned();
    req.config.threads = threads;
    let err = score_era5_lead(&req).unwrap_err();
    assert!(
        matches!(
            err,
            Era5Error::Read {
                which: "forecast",
                ..
            }
        ),
        "{err}"
    );
}
