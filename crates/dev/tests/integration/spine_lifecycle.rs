//! The process spine's contract at its edges: back-pressure, graceful shutdown, hostile frames
//! on the socket, the metrics a scrape shows, and `check-config`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::BIN;
use gaia_dev::harness::{alive, metric_value, unit, Validator};
use gaia_ipc::frame::{read_frame, write_frame};
use gaia_ipc::Message;
use serde_json::json;

#[test]
fn a_full_queue_applies_back_pressure_and_every_dispatch_completes() {
    let v = Validator::start(
        BIN,
        &[("NUM_COMPUTE_WORKERS", "1"), ("IPC_QUEUE_SIZE", "4")],
    );
    let max_depth = std::sync::atomic::AtomicU64::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let v = &v;
    let (max_depth, done) = (&max_depth, &done);
    let results: Vec<serde_json::Value> = std::thread::scope(|s| {
        s.spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let d = metric_value(&v.metrics(), "gaia_ipc_queue_depth{queue=\"work\"}")
                    .unwrap_or(0.0);
                max_depth.fetch_max(d as u64, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let handles: Vec<_> = (0..100)
            .map(|i| {
                s.spawn(move || v.dispatch(&unit(&format!("q{i}"), "sys.sleep", json!({"ms": 10}))))
            })
            .collect();
        let out = handles.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    });
    assert!(
        results.iter().all(|r| r["outcome"] == "success"),
        "{results:?}"
    );
    let max = max_depth.load(std::sync::atomic::Ordering::Relaxed);
    assert!(max <= 4, "work queue depth reached {max}");
    assert!(
        max >= 1,
        "the queue should have filled under 100 concurrent dispatches"
    );
}

#[test]
fn sigterm_lets_in_flight_jobs_finish_then_leaves_nothing_behind() {
    let mut v = Validator::start(BIN, &[("SHUTDOWN_GRACE_S", "10")]);
    let children: Vec<u32> = v.state().children.iter().map(|c| c.pid).collect();
    // A segment left by a crashed job of this supervisor must be swept at shutdown.
    let leftover = v.shm_dir.join(format!("gaia-{}-crashed-job-out", v.pid()));
    std::fs::write(&leftover, b"x").unwrap();
    let results: Vec<serde_json::Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let v = &v;
                s.spawn(move || {
                    v.dispatch(&unit(&format!("s{i}"), "sys.sleep", json!({"ms": 1500})))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        v.signal(nix::sys::signal::Signal::SIGTERM);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        results.iter().all(|r| r["outcome"] == "success"),
        "{results:?}"
    );
    let exit = v
        .wait_exit(Duration::from_secs(15))
        .expect("supervisor should exit");
    assert_eq!(exit.code(), Some(0), "{}", v.logs());
    for pid in children {
        assert!(!alive(pid), "child {pid} outlived the supervisor");
    }
    assert!(!leftover.exists(), "shared-memory segment left behind");
    let left: Vec<_> = std::fs::read_dir(&v.shm_dir).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn garbage_and_oversized_frames_are_refused_with_a_logged_reason() {
    let v = Validator::start(BIN, &[("IPC_MAX_FRAME_BYTES", "65536")]);
    let socket = v.runtime.socket();
    // 1. An announced 1 GiB frame.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).unwrap();
    let mut buf = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_end(&mut buf);
    // 2. A valid length with garbage inside.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.write_all(&6u32.to_be_bytes()).unwrap();
    s.write_all(b"\x00\xffnot{").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let answer = read_frame(&mut s, 1 << 16);
    assert!(
        matches!(
            answer,
            Ok(Some(Message::Refused { .. })) | Ok(None) | Err(_)
        ),
        "{answer:?}"
    );
    // 3. A well-formed hello with the wrong protocol version.
    let mut s = UnixStream::connect(&socket).unwrap();
    write_frame(
        &mut s,
        &Message::Hello {
            protocol_version: 999,
            pid: 1,
            name: "intruder".into(),
        },
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match read_frame(&mut s, 1 << 16) {
        Ok(Some(Message::Refused { reason })) => assert!(reason.contains("999"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Everything still works.
    let r = v.dispatch(&unit("still-ok", "sys.echo", json!("fine")));
    assert_eq!(r["outcome"], "success");
    let m = v.metrics();
    assert!(
        metric_value(&m, "gaia_ipc_refused_connections_total").unwrap_or(0.0) >= 3.0,
        "{m}"
    );
    let logs = v.logs();
    assert!(logs.contains("refused a compute connection"), "{logs}");
    assert!(
        logs.contains("protocol version 999 not supported"),
        "{logs}"
    );
}

#[test]
fn one_scrape_shows_the_whole_validator() {
    let v = Validator::start(BIN, &[]);
    for i in 0..5 {
        assert_eq!(
            v.dispatch(&unit(&format!("m{i}"), "sys.echo", json!(i)))["outcome"],
            "success"
        );
    }
    let r = v.dispatch(&unit("bad", "sys.sleep", json!({})));
    assert_eq!(r["outcome"], "handler_error", "{r}");
    std::thread::sleep(Duration::from_millis(300));
    let m = v.metrics();
    let rss = |p: &str| {
        metric_value(
            &m,
            &format!("gaia_child_resident_memory_bytes{{process=\"{p}\"}}"),
        )
        .unwrap_or(0.0)
    };
    for p in ["supervisor", "io-engine", "compute-1", "compute-2"] {
        assert!(rss(p) > 1e6 && rss(p) < 1e9, "{p} rss {}", rss(p));
    }
    assert_eq!(
        metric_value(&m, "gaia_ipc_queue_depth{queue=\"work\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric_value(&m, "gaia_ipc_queue_depth{queue=\"result\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric_value(
            &m,
            "gaia_compute_jobs_total{task=\"sys.echo\",outcome=\"success\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        metric_value(
            &m,
            "gaia_compute_jobs_total{task=\"sys.sleep\",outcome=\"handler_error\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &m,
            "gaia_compute_job_duration_seconds_count{task=\"sys.echo\"}"
        ),
        Some(5.0)
    );
    assert!(metric_value(&m, "gaia_io_event_loop_lag_seconds_count").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        metric_value(&m, "gaia_child_process_restarts_total{process=\"compute\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric_value(
            &m,
            "gaia_child_process_restarts_total{process=\"io-engine\"}"
        ),
        Some(0.0)
    );
    assert!(metric_value(&m, "gaia_child_cpu_seconds_total{process=\"io-engine\"}").is_some());
    assert!(metric_value(&m, "process_resident_memory_bytes").unwrap_or(0.0) > 1e6);
    assert!(metric_value(&m, "process_cpu_seconds_total").is_some());
    assert_eq!(
        metric_value(&m, "gaia_compute_workers_connected"),
        Some(2.0)
    );
    let t = Instant::now();
    let health = gaia_dev::harness::http(&v.addr(), "GET", "/health", None).unwrap();
    assert!(
        health.contains("\"status\":\"ok\""),
        "{health} after {:?}",
        t.elapsed()
    );
}

#[test]
fn check_config_names_the_key_value_and_rule_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let bin = BIN;
    let out = Command::new(bin)
        .arg("check-config")
        .current_dir(dir.path())
        .env("IPC_QUEUE_SIZE", "0")
        .output()
        .unwrap();
    // 78 (EX_CONFIG): the service managers are told not to restart on it.
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("IPC_QUEUE_SIZE") && err.contains("\"0\"") && err.contains("between 1 and"),
        "{err}"
    );

    let out = Command::new(bin)
        .arg("check-config")
        .current_dir(dir.path())
        .env("NUM_COMPUTE_WORKERS", "many")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NUM_COMPUTE_WORKERS") && err.contains("many"),
        "{err}"
    );

    let out = Command::new(bin)
        .arg("check-config")
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://gaia:hunter2@db:5432/gaia")
        .env("WEATHER__DB_RUN_RETENTION_DAYS", "30")
        .env("WEATHER__NO_SUCH_THING", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Stdout is pure JSON (`check-config | jq` works); notes and warnings are on stderr.
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["weather"]["db_run_retention_days"], 30);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("postgres://gaia:***@db:5432/gaia"), "{text}");
    assert!(text.contains("\"db_run_retention_days\": 30"), "{text}");
    assert!(
        text.contains("unknown setting `weather.no_such_thing`"),
        "{text}"
    );
}
