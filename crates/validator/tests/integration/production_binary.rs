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

/// One HTTP/1.0 POST with extra headers; returns the status line and the body.
fn post(addr: &str, path: &str, headers: &str, body: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Issue 15 point 7: with ADMIN_API_TOKEN set, `/admin/dispatch` answers 401 without the bearer
/// token (or with a wrong one) and runs the job with it.
#[test]
fn the_admin_api_requires_its_token() {
    let v = Validator::start(BIN, &[("ADMIN_API_TOKEN", "s3cret-token")]);
    let job = unit("admin-1", "weather.day1", json!({"not": "a request"})).to_string();
    for headers in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: s3cret-token\r\n",
    ] {
        let (status, body) = post(&v.addr(), "/admin/dispatch", headers, &job);
        assert!(status.contains("401"), "{headers:?}: {status} {body}");
    }
    let (status, body) = post(
        &v.addr(),
        "/admin/dispatch",
        "Authorization: Bearer s3cret-token\r\n",
        &job,
    );
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("\"outcome\""), "{body}");
    assert!(
        !v.logs().contains("s3cret-token"),
        "the token is never logged"
    );
}
