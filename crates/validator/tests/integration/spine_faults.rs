//! Faults of the process spine (issue 15): children die with their supervisor, a runtime
//! directory serves one validator at a time, a doubled stop signal still drains, a stopped
//! IO-Engine is restarted on its stale heartbeat, and `/health` reports a database outage.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use gaia_dev::harness::{alive, Validator};
use nix::sys::signal::Signal;

use crate::BIN;

/// Start `run` in `dir` with `env` (stderr to `dir/run.log`) and wait up to `within` for it to
/// exit; returns its status and log. Still running then: its group is killed and the test fails
/// with `refused` (what should have stopped it).
fn run_that_must_stop(
    dir: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
    within: Duration,
    refused: &str,
) -> (std::process::ExitStatus, String) {
    let log = dir.join("run.log");
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "run"])
        .current_dir(dir)
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("NUM_COMPUTE_WORKERS", "1")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let until = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
            panic!(
                "{refused}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

/// `run` again on the runtime directory of `v`, with its settings.
fn second_run(v: &Validator) -> (std::process::ExitStatus, String) {
    let tmp = tempfile::tempdir().unwrap();
    let data = v.tmp.path().join("data");
    run_that_must_stop(
        tmp.path(),
        &[
            ("RUNTIME_DIR", v.runtime.root().as_os_str()),
            ("SHM_DIR", v.shm_dir.as_os_str()),
            ("DATA_DIR", data.as_os_str()),
        ],
        Duration::from_secs(20),
        "a second validator started on the same runtime directory",
    )
}

#[test]
fn a_second_run_is_refused_and_a_killed_supervisor_leaves_no_child() {
    let mut v = Validator::start(BIN, &[]);
    let children: Vec<u32> = v.state().children.iter().map(|c| c.pid).collect();
    assert_eq!(children.len(), 3, "io-engine and two workers: {children:?}");

    // While the first lives, a second validator on the same runtime directory does not start.
    let (status, stderr) = second_run(&v);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("another validator (pid {})", v.pid())),
        "{stderr}"
    );
    assert!(
        children.iter().all(|&p| alive(p)),
        "the first validator is untouched"
    );

    // SIGKILL: no drain, no cleanup by the supervisor; its children must still go.
    v.signal(Signal::SIGKILL);
    v.wait_exit(Duration::from_secs(10))
        .expect("supervisor gone");
    let until = Instant::now() + Duration::from_secs(45);
    while children.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < until,
            "children outlived their supervisor: {:?}\n{}",
            children.iter().filter(|&&p| alive(p)).collect::<Vec<_>>(),
            v.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The lock went with the killed supervisor: the directory can be used again at once.
    let lock = gaia_validator::supervisor::instance::lock(&v.runtime);
    assert!(lock.is_ok(), "{lock:?}");
}

/// Issue 15 point 9: the same stop sent to the PID and then to the group (coreutils `timeout`,
/// some service managers) is one request and drains; the published files leave with the
/// validator.
#[test]
fn a_stop_sent_to_pid_and_group_drains_and_cleans_up() {
    let mut v = Validator::start(BIN, &[]);
    assert!(v.runtime.metrics_addr_file().exists() && v.runtime.state_file().exists());
    let pid = nix::unistd::Pid::from_raw(v.pid() as i32);
    nix::sys::signal::kill(pid, Signal::SIGTERM).unwrap();
    nix::sys::signal::killpg(pid, Signal::SIGTERM).unwrap();
    let status = v
        .wait_exit(Duration::from_secs(30))
        .expect("supervisor stopped");
    assert_eq!(status.code(), Some(0), "{}", v.logs());
    assert!(!v.logs().contains("second signal"), "{}", v.logs());
    // Workers told to stop are not replaced during the drain (they were, once each, found in
    // the issue 19 walk-through: a stopped worker exited 0 like a recycled one).
    let logs = v.logs();
    let drain = logs.find("shutting down").expect("a drain");
    assert!(
        !logs[drain..].contains("\"started child\""),
        "a child was started during the drain:\n{}",
        &logs[drain..]
    );
    for stale in [
        v.runtime.metrics_addr_file(),
        v.runtime.state_file(),
        v.runtime.socket(),
    ] {
        assert!(!stale.exists(), "{} left behind", stale.display());
    }
}

/// Issue 15 point 4: a stopped IO-Engine (SIGSTOP) stops its heartbeat; the supervisor kills
/// it and starts a new one, which serves again.
#[test]
fn a_stopped_io_engine_is_restarted_on_its_stale_heartbeat() {
    let v = Validator::start(
        BIN,
        &[
            ("SUPERVISOR_HEARTBEAT_TIMEOUT_S", "3"),
            ("NUM_COMPUTE_WORKERS", "1"),
        ],
    );
    let old = v.pid_of("io-engine").expect("io-engine pid");
    assert!(v.runtime.heartbeat_file().exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old as i32), Signal::SIGSTOP).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let now = v.pid_of("io-engine");
        if now.is_some_and(|p| p != old) && !alive(old) {
            break;
        }
        assert!(
            Instant::now() < until,
            "the stopped IO-Engine was not replaced\n{}",
            v.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        v.logs().contains("IO-Engine heartbeat stale"),
        "{}",
        v.logs()
    );
    v.wait_ready(1);
}

/// `GET path`: (HTTP status line, headers, body).
fn get(v: &Validator, path: &str) -> (String, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(v.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        body.to_string(),
    )
}

/// `GET /health`: (HTTP status line, body).
fn health(v: &Validator) -> (String, serde_json::Value) {
    probe(v, "/health")
}

/// `GET path` of a JSON endpoint: (HTTP status line, body).
fn probe(v: &Validator, path: &str) -> (String, serde_json::Value) {
    let (status, _, body) = get(v, path);
    (status, serde_json::from_str(&body).unwrap_or_default())
}

/// Poll `path` until its status line contains `code` (or fail after `within`).
fn wait_for(v: &Validator, path: &str, code: &str, within: Duration) -> serde_json::Value {
    let until = Instant::now() + within;
    loop {
        let (status, body) = probe(v, path);
        if status.contains(code) {
            return body;
        }
        assert!(Instant::now() < until, "{path}: still {status} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 19: `/ready` answers 200 only with the database open and a worker connected, `/health`
/// stays 200 without workers; `/metrics` is OpenMetrics and names the build and weights mode.
#[test]
fn ready_needs_a_worker_while_health_does_not() {
    let v = Validator::start(BIN, &[("NUM_COMPUTE_WORKERS", "1")]);
    let body = wait_for(&v, "/ready", "200", Duration::from_secs(30));
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["workers_connected"], 1, "{body}");
    let (status, headers, text) = get(&v, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(
        headers.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(text.contains("gaia_build_info{version=\""), "{text}");
    assert!(
        text.contains("gaia_weights_mode{mode=\"shadow\"} 1"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );

    // The supervisor paused (so it does not replace the worker), the worker killed: not ready,
    // still healthy; once the supervisor runs again and replaces it, ready again.
    let worker = v.pid_of("compute-1").expect("worker");
    v.signal(Signal::SIGSTOP);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker as i32), Signal::SIGKILL).unwrap();
    let body = wait_for(&v, "/ready", "503", Duration::from_secs(30));
    assert_eq!(body["status"], "no_workers", "{body}");
    let (status, body) = health(&v);
    assert!(status.contains("200"), "{status} {body}");
    v.signal(Signal::SIGCONT);
    let body = wait_for(&v, "/ready", "200", Duration::from_secs(60));
    assert_eq!(body["status"], "ready", "{body}");
}

/// Issue 15 point 4: `/health` reports the database and the ledger; through a PostgreSQL outage
/// it answers 503 `database_unreachable` (it used to say "ok"), and 200 again once the server
/// is back. Point 2 across the outage: the restart released the instance lock, the IO-Engine
/// takes it again and a second validator on the database is still refused.
#[test]
fn health_reports_a_database_outage() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = rt
        .block_on(gaia_testkit::TestPostgres::create_private())
        .unwrap();
    let v = Validator::start(
        BIN,
        &[("DATABASE_URL", pg.url()), ("NUM_COMPUTE_WORKERS", "1")],
    );
    // The database appears once the tasks have opened it.
    let until = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body) = health(&v);
        if !body["database"].is_null() || Instant::now() > until {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("200"), "{status} {body}");
    assert_eq!(body["database"]["ok"], true, "{body}");
    assert!(body["database"]["ledger"]["pending"].is_u64(), "{body}");

    let cluster = pg.cluster().expect("private cluster");
    cluster.stop().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = health(&v);
        if status.contains("503") {
            assert_eq!(body["status"], "database_unreachable", "{body}");
            assert_eq!(body["database"]["ok"], false, "{body}");
            break;
        }
        assert!(Instant::now() < until, "still {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.start_again().unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = health(&v);
        if status.contains("200") {
            assert_eq!(body["database"]["ok"], true, "{body}");
            break;
        }
        assert!(Instant::now() < until, "not back: {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The restart released the database's instance lock (a session lock); the IO-Engine takes
    // it again, so a second validator on the database is still refused.
    let until = Instant::now() + Duration::from_secs(60);
    while !v.logs().contains("database instance lock taken again") {
        assert!(Instant::now() < until, "lock not retaken:\n{}", v.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    second_validator_is_refused(
        pg.url(),
        "a second validator ran on the database after its restart",
    );
}

/// Start a second validator (its own runtime directory) on the database at `url`: it must stop
/// with the restart budget exhausted (exit 3), naming the database's other validator. `what`
/// names the failure when it keeps running.
fn second_validator_is_refused(url: &str, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = tmp.path().join("rt");
    let (status, text) = run_that_must_stop(
        tmp.path(),
        &[
            ("DATABASE_URL", url.as_ref()),
            ("RUNTIME_DIR", runtime.as_os_str()),
            ("SHM_DIR", tmp.path().as_os_str()),
            ("RESTART_BUDGET_COUNT", "1".as_ref()),
            ("RESTART_BACKOFF_MAX_S", "1".as_ref()),
        ],
        Duration::from_secs(60),
        what,
    );
    assert_eq!(status.code(), Some(3), "{text}");
    assert!(text.contains("one validator per database"), "{text}");
}

/// Issue 15 point 2: a database serves one validator. A second validator on the same database
/// (another runtime directory) cannot start its IO-Engine and stops with the restart budget
/// exhausted, naming the reason; the first is untouched.
#[test]
fn a_second_validator_on_the_same_database_stops() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("gaia.db").display());
    let first = Validator::start(BIN, &[("DATABASE_URL", &url), ("NUM_COMPUTE_WORKERS", "1")]);
    let first_engine = first.pid_of("io-engine").unwrap();
    second_validator_is_refused(&url, "a second validator ran on the same database");
    assert!(alive(first_engine), "the first validator is untouched");
    assert_eq!(first.pid_of("io-engine"), Some(first_engine));
}
