//! The binary's commands as an operator runs them: `demo` (the README's first command) on a coarse
//! world, then `score day1` and `score era5` by hand on the truth it kept and on miner 0's store
//! written to disk here (the demo's miners serve from memory; the store is a pure function of
//! seed, grid, uid, behaviour and cycle). The hand-run Day-1 score must equal the one the cycle
//! stored (through the IO-Engine and the compute pool), so the CLI and the lifecycle cannot
//! drift apart, and neither can the in-memory and on-disk forms of a miner's store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::BIN;

fn validator(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("start gaia-dev")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The single entry of `dir` whose name starts with `prefix`.
fn entry(dir: &Path, prefix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    assert_eq!(found.len(), 1, "{prefix}* in {}: {found:?}", dir.display());
    found[0].clone()
}

/// The demo table's row of `uid`, split on whitespace.
fn row(table: &str, uid: u8) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.len() > 3 && cols[0] == uid.to_string())
        .unwrap_or_else(|| panic!("no row for uid {uid} in\n{table}"))
}

#[test]
fn demo_then_scoring_by_hand_agrees_with_the_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let demo = validator(&["demo", "--grid-deg", "15", "--timeout-s", "600", "--dir", d]);
    let table = text(&demo.stdout);
    assert!(
        demo.status.success(),
        "demo failed:\n{table}\n{}",
        text(&demo.stderr)
    );
    assert!(table.contains("run 1 completed"), "{table}");
    let honest = row(&table, 0);
    assert_eq!(honest[1], "honest:0.9");
    assert_eq!(honest[2], "completed");
    assert_eq!(row(&table, 4)[2], "miner_offline");
    assert_eq!(row(&table, 6)[2], "verification_failed");
    let cycle_day1: f64 = honest[3].parse().unwrap();

    // The truth the demo kept (world/<kind>_<YYYYmmddHH>.zarr), and miner 0's store as its
    // miner served it (honest 0.9, world seed 42 at 15°), rebuilt on disk.
    let world = dir.path().join("world");
    let truth = entry(&world, "gfs_analysis_");
    let cycle = truth
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("gfs_analysis_")
        .to_owned();
    let init = format!(
        "{}-{}-{}T{}:00:00Z",
        &cycle[0..4],
        &cycle[4..6],
        &cycle[6..8],
        &cycle[8..10]
    );
    let gfs_init: chrono::DateTime<chrono::Utc> = init.parse().unwrap();
    let sim_world = gaia_miner_sim::World::new(gaia_miner_sim::WorldConfig {
        seed: 42,
        grid_deg: 15.0,
    })
    .unwrap();
    let forecast = gaia_miner_sim::forecast::build_forecast(
        &sim_world,
        &dir.path().join("miner_0"),
        0,
        &gaia_miner_sim::keys::dev_signer(0).unwrap(),
        &gaia_miner_sim::Behaviour::Honest { skill: 0.9 },
        gfs_init,
    )
    .unwrap()
    .path;
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (forecast, truth) = (path(&forecast), path(&truth));
    let reference = path(&entry(&world, "gfs_forecast_"));
    let era5 = path(&entry(&world, "era5_"));
    let climatology = path(&world.join("climatology.zarr"));

    let day1 = validator(&[
        "score",
        "day1",
        "--forecast",
        &forecast,
        "--truth",
        &truth,
        "--reference",
        &reference,
        "--climatology",
        &climatology,
        "--gfs-init",
        &init,
        "--json",
    ]);
    assert!(day1.status.success(), "{}", text(&day1.stderr));
    let report: Value = serde_json::from_slice(&day1.stdout).unwrap();
    let by_hand = report["score"].as_f64().unwrap();
    assert!(
        (by_hand - cycle_day1).abs() <= 0.0005,
        "score day1 {by_hand} vs the cycle's {cycle_day1} (table rounds to 3 decimals)"
    );
    assert_eq!(report["variables"].as_array().unwrap().len(), 5);

    // All ten leads by hand, with the cycle's Day-1 score: each lead's L_h and the overall score
    // equal the ones the cycle stored (the table rounds to 3 decimals).
    let day1_arg = cycle_day1.to_string();
    let score_era5 = |extra: &[&str]| {
        let mut args = vec![
            "score",
            "era5",
            "--forecast",
            &forecast,
            "--truth",
            &era5,
            "--climatology",
            &climatology,
            "--day1-score",
            &day1_arg,
        ];
        args.extend_from_slice(extra);
        validator(&args)
    };
    let era5_out = score_era5(&["--gfs-init", &init, "--json"]);
    assert!(era5_out.status.success(), "{}", text(&era5_out.stderr));
    let printed: Value = serde_json::from_slice(&era5_out.stdout).unwrap();
    let leads = printed["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 10);
    for (i, lead) in leads.iter().enumerate() {
        let vars = lead["report"]["variables"].as_array().unwrap();
        assert_eq!(vars.len(), 9, "all nine ERA5 variables");
        assert!(vars
            .iter()
            .all(|v| v["rmse"].as_f64().is_some_and(f64::is_finite)));
        let by_hand = lead["lead_score"]["score"].as_f64().unwrap();
        let cycle: f64 = honest[4 + i].parse().unwrap();
        assert!(
            (by_hand - cycle).abs() <= 0.0005,
            "lead {}: L_h {by_hand} vs the cycle's {cycle}",
            lead["lead_hours"]
        );
    }
    let overall = printed["summary"]["overall"].as_f64().unwrap();
    let cycle_overall: f64 = honest[14].parse().unwrap();
    assert!(
        (overall - cycle_overall).abs() <= 0.0005,
        "overall {overall} vs the cycle's {cycle_overall}"
    );
    // Without --gfs-init the init comes from the forecast store's `time` units.
    let text_out = score_era5(&["--lead-hours", "24"]);
    assert!(text_out.status.success(), "{}", text(&text_out.stderr));
    let told = text(&text_out.stderr);
    let init_day = &init[..10];
    assert!(
        told.contains("(from the forecast store)") && told.contains(init_day),
        "{told}"
    );
    let shown = text(&text_out.stdout);
    for needle in [
        "lead 24 h: scored  skill_norm",
        " L_h ",
        "500 hPa",
        "ERA5_norm",
        "(Σ L_h / 10 over 1 lead(s); completeness 0.1)",
        "overall ",
    ] {
        assert!(shown.contains(needle), "`{needle}` missing from:\n{shown}");
    }

    // Without --gfs-init the truth store's several times are ambiguous: a clear error, exit ≠ 0.
    let ambiguous = validator(&[
        "score",
        "day1",
        "--forecast",
        &forecast,
        "--truth",
        &era5,
        "--reference",
        &reference,
        "--climatology",
        &climatology,
    ]);
    assert!(!ambiguous.status.success());
    assert!(
        text(&ambiguous.stderr).contains("pass --gfs-init"),
        "{}",
        text(&ambiguous.stderr)
    );
}

#[test]
fn bench_ipc_prints_its_figures() {
    let out = validator(&["bench", "ipc"]);
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{printed}\n{}", text(&out.stderr));
    assert_eq!(
        printed.matches("no-op round trip p50=").count(),
        2,
        "one and N workers:\n{printed}"
    );
    assert!(
        printed.contains("64 MiB array: shared memory") && printed.contains("socket"),
        "{printed}"
    );
}
