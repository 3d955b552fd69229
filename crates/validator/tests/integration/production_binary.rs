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
    let v = Validator::start(BIN, &[("NUM_COMPUTE_WORKERS", "1")]);
    for task in ["sys.echo", "sys.crash"] {
        let answer = v.dispatch(&unit("diag", task, json!({})));
        assert_ne!(answer["outcome"], "success", "{task}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("unknown task") && error.contains(task),
            "{task}: {answer}"
        );
    }
}
