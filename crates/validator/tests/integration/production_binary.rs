//! The production binary is lean: its command line has no developer commands and its compute
//! workers offer no diagnostic `sys.*` job (those live in `gaia-dev`).

use std::process::Command;

use gaia_dev::harness::{unit, Validator};
use serde_json::json;

use crate::BIN;

#[test]
fn production_binary_lists_no_developer_commands() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("run") && help.contains("check-config"),
        "{help}"
    );
    for dev_only in ["demo", "sim-miners", "bench"] {
        assert!(!help.contains(dev_only), "`{dev_only}` in --help:\n{help}");
        let out = Command::new(BIN).arg(dev_only).output().unwrap();
        assert!(!out.status.success(), "`{dev_only}` ran: {out:?}");
    }
}

#[test]
fn production_workers_refuse_the_diagnostic_jobs() {
    // The diagnostic load setting is ignored, with a warning, by a binary without diagnostic jobs.
    let v = Validator::start(
        BIN,
        &[
            ("NUM_COMPUTE_WORKERS", "1"),
            ("DIAGNOSTIC_LOAD_JOBS_PER_S", "50"),
        ],
    );
    for task in ["sys.echo", "sys.crash"] {
        let answer = v.dispatch(&unit("diag", task, json!({})));
        assert_ne!(answer["outcome"], "success", "{task}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("unknown task") && error.contains(task),
            "{task}: {answer}"
        );
    }
    assert!(
        v.logs().contains("DIAGNOSTIC_LOAD_JOBS_PER_S ignored"),
        "no warning about the ignored diagnostic load:\n{}",
        v.logs()
    );
    // Only the two units above reached a worker: at 50/s the load would have added ~25 by now.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let diagnostic_jobs: f64 = v
        .metrics()
        .lines()
        .filter(|l| l.starts_with("gaia_compute_jobs_total{") && l.contains("task=\"sys."))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(diagnostic_jobs, 2.0, "{}", v.metrics());
}

/// Issue 15 point 5: a file named on the command line is read with a cap — `/dev/zero` as the
/// scores file is a clear error at once, not a process growing to tens of gigabytes.
#[test]
fn an_endless_file_on_the_command_line_is_a_clear_error() {
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args(["weights", "--scores-json", "/dev/zero"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/zero is larger than"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let out = Command::new(BIN)
        .args(["check-config", "--config", "/dev/zero"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("larger than"), "{all}");
}
