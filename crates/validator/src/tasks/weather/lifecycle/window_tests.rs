//! A replayed 15-day window (spec §12-1, §12-2, §5.2; issue 13 acceptance 2): 22 daily runs of
//! a four-miner fleet whose Day-1 scores and per-lead ERA5 reports come from the numpy fixture
//! (`scripts/fixtures/weights_reference.py window`), in both scoring profiles. Day by day, each
//! run is created and Day-1-scored on its init day and each ERA5 lead is stored and aggregated
//! on the day it becomes eligible (init + lead + 5 days), through the lifecycle's own code: the
//! stored rows (`store_rows`), the aggregation after every lead (`aggregate_response`, the
//! compute pool over IPC), the score row refresh, the database. After every day every run's
//! score row must equal the fixture's 0.95 · Σ L_h / 10 + 0.05 · pass over the leads eligible
//! that day (1e-12 relative), and on the last day the `weights.set` step must produce the
//! fixture's u16 vector.

use chrono::{DateTime, Duration, Utc};
use gaia_scoring::day1::Day1Report;
use gaia_scoring::era5::Era5LeadReport;
use gaia_store::{MinerResponse, NewRun, ResponseState, ResponseStatus, Run};
use serde_json::{json, Value};

use super::aggregate::{aggregate_response, Stage};
use super::overall::refresh_score_row;
use super::store_rows;
use super::test_support::{add_miner, pooled_context};
use super::WeatherContext;
use crate::tasks::ledger::StepOutcome;
use crate::tasks::weights::{WeightsMode, WeightsStep};

const SEED: &str = "7";
const RUNS: &str = "22";
const REL_TOL: f64 = 1e-12;

pub(super) fn fixture() -> Value {
    let out = gaia_testkit::run_python(
        "scripts/fixtures/weights_reference.py",
        &["window", SEED, RUNS],
    )
    .expect("window fixture");
    serde_json::from_str(&out).expect("fixture JSON")
}

pub(super) fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn day1_report(score: f64) -> Day1Report {
    serde_json::from_value(json!({
        "score": score, "passed": score >= 0.1, "clamped": false, "qc_failed": false,
        "skill_term": 0.0, "acc_term": 0.0, "lead_hours": null, "valid_time": null,
        "variables": [], "metrics": {}
    }))
    .unwrap()
}

/// The run created on its init day, with a response per miner and their Day-1 scores stored.
async fn start_run(
    ctx: &WeatherContext,
    fix: &Value,
    r: usize,
    init: DateTime<Utc>,
) -> (Run, Vec<MinerResponse>) {
    let run = ctx
        .store
        .create_run(&NewRun {
            run_initiation_time: init - Duration::hours(6),
            target_forecast_time_utc: init,
            gfs_init_time_utc: init,
            gfs_input_metadata: None,
        })
        .await
        .unwrap();
    let mut responses = Vec::new();
    for d1 in fix["day1"].as_array().unwrap() {
        if d1["run"].as_u64() != Some(r as u64) {
            continue;
        }
        let uid = d1["uid"].as_u64().unwrap() as u8;
        let response = add_miner(ctx, &run, uid, 9, ResponseStatus::Era5Scoring).await;
        let report = day1_report(d1["score"].as_f64().unwrap());
        store_rows::day1_report(ctx, &response, &run, &report)
            .await
            .unwrap();
        responses.push(response);
    }
    refresh_score_row(ctx, &run, false).await;
    (run, responses)
}

fn close(got: Option<f64>, want: &Value, what: &str) {
    match (got, want.as_f64()) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= REL_TOL * w.abs().max(1e-300) || g == w,
            "{what}: {g} vs the fixture's {w}"
        ),
        (None, None) => {}
        (g, _) => panic!("{what}: {g:?} vs the fixture's {want}"),
    }
}

async fn replay(fix: &Value, profile: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (_ctx, pool) = replay_in(fix, profile, dir.path()).await;
    pool.shutdown().await;
}

/// Replay the window of `profile` into a validator context in `dir`, checking every score row
/// and the last day's weights against the fixture; the context (its store holds the score
/// rows) and the compute pool stay up for the caller.
pub(super) async fn replay_in(
    fix: &Value,
    profile: &str,
    dir: &std::path::Path,
) -> (WeatherContext, super::test_support::TestPool) {
    let (ctx, pool) = pooled_context(dir).await;
    let p = &fix["profiles"][profile];
    let base = time(&fix["base"]);
    let runs = fix["runs"].as_u64().unwrap() as usize;
    let last_day = fix["last_day"].as_u64().unwrap() as usize;
    for n in fix["nodes"].as_array().unwrap() {
        if n["uid"] == 252 {
            let node = crate::chain::MetagraphNode {
                uid: 252,
                hotkey: n["hotkey"].as_str().unwrap().into(),
                coldkey: String::new(),
                ip: "127.0.0.1".into(),
                port: 9,
                stake: 0.0,
                incentive: 0.0,
                trust: 0.0,
                vtrust: 0.0,
                validator_permit: false,
            };
            ctx.store.upsert_node(&node.to_record(base)).await.unwrap();
        }
    }
    let leads = p["leads"].as_array().unwrap();
    let mut started: Vec<(Run, Vec<MinerResponse>)> = Vec::new();
    let mut checked_rows = 0;
    for day in 0..=last_day {
        if day < runs {
            let init = base + Duration::days(day as i64);
            started.push(start_run(&ctx, fix, day, init).await);
        }
        for lead in leads
            .iter()
            .filter(|l| l["arrival_day"].as_u64() == Some(day as u64))
        {
            let (run, responses) = &started[lead["run"].as_u64().unwrap() as usize];
            let uid = lead["uid"].as_u64().unwrap() as u8;
            let response = responses.iter().find(|r| r.miner_uid == uid).unwrap();
            let report: Era5LeadReport = serde_json::from_value(lead["report"].clone()).unwrap();
            store_rows::era5_report(&ctx, response, run, &report)
                .await
                .unwrap();
            aggregate_response(
                &ctx,
                run,
                &ResponseState::from(response),
                Stage::AfterLead(report.lead_hours),
            )
            .await
            .unwrap();
        }
        // Every run's score row after this day, against the fixture.
        let expected = &p["rows_by_day"][day]["rows"];
        let rows = ctx
            .store
            .score_rows_since("weather", base - Duration::days(1))
            .await
            .unwrap();
        assert_eq!(rows.len(), started.len(), "day {day}: one row per run");
        for (r, (run, _)) in started.iter().enumerate() {
            let row = rows
                .iter()
                .find(|row| row.run_id == Some(run.id))
                .unwrap_or_else(|| panic!("day {day}: no row for run {r}"));
            assert_eq!(row.created_at, run.gfs_init_time_utc, "§12-2");
            let want = expected[r.to_string()].as_array().unwrap();
            for (uid, w) in want.iter().enumerate() {
                let got = row.scores.as_slice().get(uid).copied().flatten();
                close(got, w, &format!("{profile} day {day} run {r} uid {uid}"));
            }
            checked_rows += 1;
        }
    }
    // Day d holds min(d + 1, runs) rows: 253 + 22 = 275 for 22 runs over 23 days.
    let want_rows = runs * (runs + 1) / 2 + (last_day + 1 - runs) * runs;
    assert_eq!(checked_rows, want_rows, "rows compared");

    // The weights on the last day, through the `weights.set` step (shadow mode).
    let step = WeightsStep {
        chain: ctx.chain.clone(),
        store: ctx.store.clone(),
        dispatcher: ctx.dispatcher.clone(),
        metrics: ctx.metrics.clone(),
        mode: WeightsMode::Shadow,
        netuid: 0,
    };
    let job = crate::tasks::steps::tests::claimed(
        &crate::tasks::steps::Step::SetWeights(crate::tasks::steps::WeightsTrigger {
            reason: "window test".into(),
            occurrence: None,
            run_id: None,
        })
        .new_job(30, Utc::now()),
        1,
    );
    let outcome = step.set_at(&job, time(&fix["now"])).await.unwrap();
    let StepOutcome::Done(Some(done)) = outcome else {
        panic!("{outcome:?}")
    };
    let want = &p["weights"];
    assert_eq!(done["rows_used"], want["rows_used"], "{profile}");
    assert_eq!(done["uids"], want["uids"], "{profile}");
    assert_eq!(done["values"], want["values"], "{profile}: u16 weights");
    (ctx, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_window_matches_the_fixture_day_by_day_in_both_profiles() {
    let fix = fixture();
    replay(&fix, "spec").await;
    replay(&fix, "production").await;
    // The profiles differ where §11-1 says: the pressure-level skills, hence the weights.
    assert_ne!(
        fix["profiles"]["spec"]["weights"]["values"],
        fix["profiles"]["production"]["weights"]["values"]
    );
}
