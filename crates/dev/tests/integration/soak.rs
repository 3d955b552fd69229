//! The compressed soak (issue 16) inside the normal test run: `gaia-dev soak` over a dozen
//! simulated days with a few miners (a slow store among them) and chaos every few seconds, on
//! SQLite and on PostgreSQL (a private cluster the harness starts and restarts once). Each chaos
//! run also meets a supervisor SIGKILL with restart and a full disk (issue 15 acceptance 2).
//! The test fails when the command fails a criterion, and prints the criteria table then.

use std::path::Path;
use std::process::Command;

use gaia_dev::browser::Chromium;
use serde_json::Value;

/// Run the compressed soak into `out`; returns (exit success, report.json).
fn soak(db: &str, out: &Path) -> (bool, Value) {
    let status = Command::new(env!("CARGO_BIN_EXE_gaia-dev"))
        .args(["soak", "--simulated-days", "12", "--miners", "7"])
        .args([
            "--time-scale",
            "17280",
            "--chaos-every",
            "4",
            "--scrape-every-s",
            "1",
        ])
        .args(["--grid-deg", "15", "--drain-timeout-s", "480", "--db", db])
        .arg("--out")
        .arg(out)
        .status()
        .expect("gaia-dev soak starts");
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("report.json is JSON");
    (status.success(), report)
}

fn table(report: &Value) -> String {
    report["criteria"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{} = {} (threshold {}, pass {}): {}\n",
                        c["name"], c["value"], c["threshold"], c["pass"], c["detail"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check(db: &str, out: &Path) -> Value {
    let (ok, report) = soak(db, out);
    let criteria = report["criteria"].as_array().cloned().unwrap_or_default();
    assert!(
        criteria.len() >= 10,
        "every criterion reported:\n{}",
        table(&report)
    );
    assert!(
        ok && report["pass"] == true && criteria.iter().all(|c| c["pass"] == true),
        "the compressed soak on {db} failed:\n{}",
        table(&report)
    );
    let chaos = report["chaos"].as_array().cloned().unwrap_or_default();
    assert!(chaos.len() >= 3, "chaos happened: {chaos:?}");
    let of = |kind: &str| -> Vec<Value> {
        chaos
            .iter()
            .filter(|c| c["kind"] == kind)
            .cloned()
            .collect()
    };
    assert!(!of("kill_child").is_empty(), "children killed: {chaos:?}");
    let supervisor = of("kill_supervisor");
    assert!(
        supervisor.len() == 1
            && supervisor[0]["replaced"] == true
            && supervisor[0]["what"]
                .as_str()
                .is_some_and(|w| w.contains(" 0 of ")),
        "the supervisor killed once, no child outlived it, its successor came up: {supervisor:?}"
    );
    let full = of("full_disk");
    assert!(
        full.len() == 1
            && full[0]["replaced"] == true
            && full[0]["what"]
                .as_str()
                .is_some_and(|w| w.starts_with("disk full")),
        "one full-disk episode: {full:?}"
    );
    assert_eq!(of("disk_freed").len(), 1, "{chaos:?}");
    let restarts = report["figures"]["supervisor_restarts"].as_u64();
    assert_eq!(restarts, Some(1), "the restart is counted");
    assert!(
        criteria
            .iter()
            .any(|c| c["name"] == "slow_store_miner_unscored_cycles" && c["pass"] == true),
        "the slow store's scores arrived:\n{}",
        table(&report)
    );
    report
}

#[test]
fn the_compressed_soak_passes_on_sqlite_and_its_report_renders() {
    let dir = tempfile::tempdir().unwrap();
    let report = check("sqlite", dir.path());
    assert!(
        dir.path().join("chaos.db").is_file(),
        "the database is kept"
    );
    let chromium = Chromium::find_or_install().expect("headless Chromium");
    let url = format!("file://{}", dir.path().join("report.html").display());
    let dom = chromium.dump_dom(&url).expect("report.html renders");
    assert_eq!(
        dom.matches("<svg").count(),
        9,
        "seven plots, the chaos time line and the weights"
    );
    assert!(dom.contains("PASS") && dom.contains("zero_crashes"));
    assert!(dom.matches("<polyline").count() >= 6);
    let png = std::env::temp_dir().join("gaia-soak-report.png");
    chromium
        .screenshot(&url, &png, 760, 2400)
        .expect("screenshot");
    assert!(report["weights"].as_array().is_some_and(|w| !w.is_empty()));
}

#[test]
fn the_compressed_soak_passes_on_postgresql_restarted_mid_run() {
    let dir = tempfile::tempdir().unwrap();
    let report = check("postgres", dir.path());
    let chaos = report["chaos"].as_array().cloned().unwrap_or_default();
    assert!(
        chaos
            .iter()
            .any(|c| c["kind"] == "restart_postgres" && c["replaced"] == true),
        "PostgreSQL restarted once: {chaos:?}"
    );
}

/// Ctrl-C (SIGINT) or SIGTERM to `soak` stops the validator it started — the supervisor runs in
/// its own process group, so the terminal's signal never reaches it — and every child of it,
/// and the command fails saying so instead of leaving a validator running.
#[test]
fn an_interrupted_soak_leaves_no_validator_running() {
    use gaia_dev::harness::alive;
    use gaia_validator::runtime::{RuntimeDir, SupervisorState};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let mut soak = Command::new(env!("CARGO_BIN_EXE_gaia-dev"))
        .args(["soak", "--simulated-days", "2", "--miners", "4"])
        .args(["--time-scale", "17280", "--chaos-every", "0"])
        .args(["--grid-deg", "15", "--out"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gaia-dev soak starts");
    let runtime = RuntimeDir::new(dir.path().join("calm/rt"));
    let until = Instant::now() + Duration::from_secs(180);
    let state = loop {
        let state = SupervisorState::read(&runtime).unwrap_or_default();
        if state.supervisor_pid != 0 && state.children.len() >= 2 {
            break state;
        }
        assert!(
            soak.try_wait().unwrap().is_none() && Instant::now() < until,
            "the calm run's validator never came up"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let pids: Vec<u32> = state
        .children
        .iter()
        .map(|c| c.pid)
        .chain([state.supervisor_pid])
        .collect();
    assert!(pids.iter().all(|&p| alive(p)), "{state:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(soak.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = soak.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "soak did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut soak.stderr.take().unwrap(), &mut stderr).unwrap();
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "still running after the soak: {left:?}\n{stderr}"
    );
    assert!(!status.success(), "an interrupted soak does not pass");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(
        !dir.path().join("report.json").exists(),
        "no report for an abandoned soak"
    );
}
