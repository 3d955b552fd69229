//! ERA5 credit arrives lead by lead (spec §12-1, §12-2): a run whose first five ERA5 leads are
//! eligible and the other five are not yet. Once the five are scored, each miner's overall score
//! and the run's score row already hold 0.95 · Σ L_h / 10 + 0.05 · pass over those five leads —
//! not the 0.05 Day-1 fallback that waiting for lead 240 would leave there for ten more days —
//! and the row is stamped with the GFS init time.

use std::time::{Duration, Instant};

use gaia_dev::sim_cycle::{SimCycle, GFS_INIT_DAYS_BACK};
use gaia_miner_sim::{Behaviour, MinerSpec};
use gaia_store::{ForecastStats, ResponseStatus, Store, StoreConfig};
use gaia_testkit::TestSqlite;

use crate::BIN;

/// The leads eligible with `WEATHER__ERA5_DELAY_DAYS = GFS_INIT_DAYS_BACK - 5` and no buffer:
/// lead h is due at init + h + (back − 5) days ≤ now ⇔ h ≤ 5 days + the time since 00:00.
const ELIGIBLE: [u32; 5] = [24, 48, 72, 96, 120];

fn era5_scores(s: &ForecastStats) -> Vec<(u32, Option<f64>)> {
    gaia_store::ERA5_LEADS
        .iter()
        .zip(s.era5_by_lead())
        .map(|(h, v)| (h.unsigned_abs(), v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn era5_credit_reaches_the_score_row_lead_by_lead() {
    let db = TestSqlite::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let miners = vec![
        MinerSpec {
            uid: 0,
            behaviour: Behaviour::Honest { skill: 0.9 },
        },
        MinerSpec {
            uid: 1,
            behaviour: Behaviour::Honest { skill: 0.5 },
        },
    ];
    let cycle = SimCycle::prepare(dir.path(), &db.url(), 10.0, miners)
        .await
        .unwrap();
    let delay = (GFS_INIT_DAYS_BACK - 5).to_string();
    let mut env = cycle.validator_env();
    env.retain(|(k, _)| k != "WEATHER__ERA5_DELAY_DAYS");
    env.push(("WEATHER__ERA5_DELAY_DAYS".into(), delay));
    env.push(("WEATHER__ERA5_BUFFER_HOURS".into(), "0".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let v = tokio::task::block_in_place(|| gaia_dev::harness::Validator::start(BIN, &pairs));
    let store = Store::open(&StoreConfig::new(db.url())).await.unwrap();

    // Wait until both miners have their five eligible leads stored in their stats.
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        let run = store
            .list_runs_since(cycle.gfs_init - chrono::Duration::days(1))
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.gfs_init_time_utc == cycle.gfs_init);
        if let Some(run) = run {
            let stats = store.list_forecast_stats(run.id).await.unwrap();
            let done = stats.len() == 2
                && stats.iter().all(|s| {
                    era5_scores(s)
                        .iter()
                        .filter(|(h, v)| ELIGIBLE.contains(h) && v.is_some())
                        .count()
                        == ELIGIBLE.len()
                });
            if done {
                break run;
            }
        }
        assert!(
            Instant::now() < deadline,
            "five leads not scored in time; log:\n{}",
            v.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // The last lead's aggregation may still be rebuilding the row: wait (bounded) until the row
    // agrees with the stats, then check both. A row that never catches up fails below.
    let settle = Instant::now() + Duration::from_secs(60);
    let (stats, rows) = loop {
        let stats = store.list_forecast_stats(run.id).await.unwrap();
        let rows = store
            .score_rows_since("weather", cycle.gfs_init - chrono::Duration::days(1))
            .await
            .unwrap();
        let agrees = rows.len() == 1
            && stats.iter().all(|s| {
                match (rows[0].scores.get(s.miner_uid), s.overall_forecast_score) {
                    (Some(a), Some(b)) => (a - b).abs() <= 1e-12,
                    _ => false,
                }
            });
        if agrees || Instant::now() >= settle {
            break (stats, rows);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        row.created_at, cycle.gfs_init,
        "§12-2: stamped at the GFS init"
    );

    let mut overall = Vec::new();
    for s in &stats {
        let leads = era5_scores(s);
        for (h, value) in &leads {
            assert_eq!(
                value.is_some(),
                ELIGIBLE.contains(h),
                "uid {}: lead {h} h scored iff eligible: {leads:?}",
                s.miner_uid
            );
        }
        // Independently of the aggregation code: the blend over the stored lead scores.
        let sum: f64 = leads.iter().filter_map(|(_, v)| *v).sum();
        let day1 = s.forecast_score_initial.unwrap();
        let pass = if day1 >= 0.1 { 1.0 } else { 0.0 };
        let expected = (0.95 * sum / 10.0 + 0.05 * pass).clamp(0.0, 1.0);
        let got = s.overall_forecast_score.unwrap();
        assert!(
            (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "uid {}: overall {got} vs 0.95·Σ/10 + 0.05·pass = {expected}",
            s.miner_uid
        );
        assert_eq!(s.era5_completeness, Some(0.5), "uid {}", s.miner_uid);
        assert!(
            expected > 0.05 + 0.1,
            "uid {}: ERA5 credit well above the Day-1 fallback: {expected}",
            s.miner_uid
        );
        let in_row = row.scores.get(s.miner_uid).unwrap();
        assert!(
            (in_row - got).abs() <= 1e-12,
            "uid {}: score row {in_row} vs overall {got}",
            s.miner_uid
        );
        overall.push((s.miner_uid, got));
    }
    overall.sort_by_key(|(uid, _)| *uid);
    assert!(overall[0].1 > overall[1].1, "skill orders: {overall:?}");

    // Leads 144–240 are not due: the responses stay in ERA5 scoring, the run stays open.
    for r in store.list_responses(run.id).await.unwrap() {
        assert_eq!(r.status, ResponseStatus::Era5Scoring, "uid {}", r.miner_uid);
    }
    cycle.fleet.stop().await;
}
