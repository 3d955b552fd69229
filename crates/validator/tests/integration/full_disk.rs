//! Issue 15 point 1, whole cycle: the validator's SQLite database on a small tmpfs that fills up
//! mid-cycle. While the disk is full every write fails; the steps that meet it are deferred
//! without spending an attempt, no miner is failed for it and the run is not completed from it.
//! Once space returns the same cycle ends with every miner's named outcome, as on a calm disk.

use std::time::Duration;

use gaia_dev::sim_cycle::{demo_specs, SimCycle};
use gaia_store::{ResponseStatus, RunStatus};
use gaia_testkit::SmallDisk;

use crate::weather_lifecycle::{
    check_outcomes, first_scored_run, open, outcomes, start_validator, CYCLE_TIMEOUT, GRID_DEG,
};

/// How long the disk stays full: long enough for every step slot to meet it several times.
const FULL_FOR: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_mid_cycle_costs_no_score() {
    let disk = SmallDisk::mount("64m").expect("a tmpfs for the database");
    let url = format!("sqlite://{}", disk.path().join("gaia.db").display());
    let dir = tempfile::tempdir().unwrap();
    let cycle = SimCycle::prepare(dir.path(), &url, GRID_DEG, demo_specs())
        .await
        .unwrap();
    let v = start_validator(&cycle, &[("CHAIN__METAGRAPH_SYNC_CRON", "0 0 1 1 *")]);
    let store = open(&url).await;
    // Wait until scoring is under way, then take the last byte of the disk.
    let run = first_scored_run(&store, &cycle, &v).await;
    let filler = disk.fill().unwrap();
    let full_since = std::time::Instant::now();
    while full_since.elapsed() < FULL_FOR {
        let now = store.get_run(run.id).await.unwrap().unwrap();
        assert_ne!(
            now.status,
            RunStatus::Completed,
            "a run completed while its database could not be written; log:\n{}",
            v.logs()
        );
        for r in store.list_responses(run.id).await.unwrap() {
            let reason = r.error_message.as_deref().unwrap_or("");
            assert!(
                !(r.status == ResponseStatus::Failed && reason.contains("full")),
                "uid {} failed for the validator's full disk: {reason}",
                r.miner_uid
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let logs = v.logs();
    assert!(
        logs.contains("database or disk is full") || logs.contains("disk full"),
        "the validator never met the full disk; log:\n{logs}"
    );
    assert!(
        logs.contains("step deferred without spending an attempt"),
        "no step met the full disk; log:\n{logs}"
    );
    std::fs::remove_file(filler).unwrap();
    let done = match cycle.wait_done(&store, CYCLE_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => panic!("{e}; log:\n{}", v.logs()),
    };
    assert_eq!(done.id, run.id);
    let got = outcomes(&store, done.id).await;
    check_outcomes(&got);
    drop(v);
    cycle.fleet.stop().await;
}
