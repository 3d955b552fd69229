//! The process spine under failure: separate process groups, selective restarts, crash budget,
//! timeouts, recycling and memory limits — all against a real `gaia-dev run`.

use std::time::{Duration, Instant};

use crate::BIN;
use gaia_dev::harness::{alive, metric_value, unit, Validator};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

fn kill9(pid: u32) {
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
}

fn pgrp(pid: u32) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

fn cmdline(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .replace('\0', " ")
}

#[test]
fn children_run_in_their_own_process_groups_with_telling_arguments() {
    let v = Validator::start(BIN, &[("NUM_COMPUTE_WORKERS", "3")]);
    v.wait_ready(3);
    let state = v.state();
    assert_eq!(state.supervisor_pid, v.pid());
    assert_eq!(
        state.children.len(),
        4,
        "1 IO-Engine + 3 workers: {state:?}"
    );
    let mut groups = vec![pgrp(v.pid())];
    for c in &state.children {
        assert_eq!(pgrp(c.pid), c.pid as i64, "{} leads its own group", c.name);
        groups.push(pgrp(c.pid));
        let args = cmdline(c.pid);
        let kind = if c.name == "io-engine" {
            "io-engine"
        } else {
            "compute-worker"
        };
        assert!(
            args.contains(&format!("{kind} --name {}", c.name)),
            "{args}"
        );
    }
    groups.sort();
    groups.dedup();
    assert_eq!(groups.len(), 5, "every process in a distinct group");
    assert!(cmdline(v.pid()).contains(" run"));
}

#[test]
fn a_killed_worker_fails_only_its_job_and_only_it_is_replaced() {
    let v = Validator::start(BIN, &[]);
    let before = v.state();
    let engine = v.pid_of("io-engine").unwrap();
    let (w1, w2) = (
        v.pid_of("compute-1").unwrap(),
        v.pid_of("compute-2").unwrap(),
    );
    let results: Vec<_> = std::thread::scope(|s| {
        let jobs: Vec<_> = ["a", "b"]
            .iter()
            .map(|id| {
                s.spawn(|| {
                    let r = v.dispatch(&unit(id, "sys.sleep", json!({"ms": 4000})));
                    (r, Instant::now())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700));
        let killed_at = Instant::now();
        kill9(w1);
        jobs.into_iter()
            .map(|j| {
                let (r, at) = j.join().unwrap();
                (r, at.saturating_duration_since(killed_at))
            })
            .collect()
    });
    let died: Vec<_> = results
        .iter()
        .filter(|(r, _)| r["outcome"] == "worker_died")
        .collect();
    let ok: Vec<_> = results
        .iter()
        .filter(|(r, _)| r["outcome"] == "success")
        .collect();
    assert_eq!((died.len(), ok.len()), (1, 1), "{results:?}");
    assert!(
        died[0].1 <= Duration::from_secs(2),
        "worker death reported after {:?} (check interval 1 s + 1 s)",
        died[0].1
    );
    assert_eq!(ok[0].0["result"]["worker_pid"], w2);
    let after = v.wait_state("a new compute-1", Duration::from_secs(10), |s| {
        s.children
            .iter()
            .any(|c| c.name == "compute-1" && c.pid != w1)
    });
    assert_eq!(v.pid_of("io-engine"), Some(engine));
    assert_eq!(v.pid_of("compute-2"), Some(w2));
    assert_eq!(after.restarts.get("compute"), Some(&1));
    assert_eq!(before.restarts.get("compute").copied().unwrap_or(0), 0);
    v.wait_ready(2);
    let m = v.metrics();
    assert_eq!(
        metric_value(&m, "gaia_child_process_restarts_total{process=\"compute\"}"),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn a_killed_io_engine_is_restarted_and_workers_keep_their_pids() {
    let v = Validator::start(BIN, &[]);
    let engine = v.pid_of("io-engine").unwrap();
    let workers = (
        v.pid_of("compute-1").unwrap(),
        v.pid_of("compute-2").unwrap(),
    );
    kill9(engine);
    v.wait_state("a new IO-Engine", Duration::from_secs(15), |s| {
        s.children
            .iter()
            .any(|c| c.name == "io-engine" && c.pid != engine)
    });
    std::thread::sleep(Duration::from_millis(300));
    v.wait_ready(2);
    assert_eq!(
        (
            v.pid_of("compute-1").unwrap(),
            v.pid_of("compute-2").unwrap()
        ),
        workers
    );
    let r = v.dispatch(&unit("after", "sys.echo", json!({"x": 1})));
    assert_eq!(r["outcome"], "success", "{r}");
    assert_eq!(v.state().restarts.get("io-engine"), Some(&1));
}

#[test]
fn a_crash_loop_exhausts_the_budget_and_names_the_class() {
    let mut v = Validator::start(
        BIN,
        &[
            ("NUM_COMPUTE_WORKERS", "1"),
            ("RESTART_BUDGET_COUNT", "3"),
            ("RESTART_BACKOFF_MAX_S", "0.2"),
        ],
    );
    v.wait_ready(1);
    let until = Instant::now() + Duration::from_secs(60);
    let mut status = None;
    let mut n = 0;
    while Instant::now() < until && status.is_none() {
        n += 1;
        let _ = gaia_dev::harness::http(
            &v.addr(),
            "POST",
            "/admin/dispatch",
            Some(&unit(&format!("c{n}"), "sys.crash", json!({})).to_string()),
        );
        status = v.wait_exit(Duration::from_millis(300));
    }
    let status = status.expect("supervisor should stop after the budget is exhausted");
    assert_eq!(status.code(), Some(3));
    let logs = v.logs();
    assert!(
        logs.contains("restart budget exhausted for process class `compute`"),
        "{logs}"
    );
}

#[test]
fn a_job_past_its_timeout_is_reported_and_its_worker_replaced() {
    let v = Validator::start(BIN, &[]);
    let pids_before: Vec<u32> = v.state().children.iter().map(|c| c.pid).collect();
    let (slow, fast) = std::thread::scope(|s| {
        let slow = s.spawn(|| {
            let mut u = unit("slow", "sys.sleep", json!({"ms": 30000}));
            u["timeout_seconds"] = json!(1);
            let t = Instant::now();
            (v.dispatch(&u), t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        let fast: Vec<_> = (0..20)
            .map(|i| v.dispatch(&unit(&format!("f{i}"), "sys.echo", json!(i))))
            .collect();
        (slow.join().unwrap(), fast)
    });
    assert_eq!(slow.0["outcome"], "timeout", "{:?}", slow.0);
    assert!(slow.1 < Duration::from_secs(5), "{:?}", slow.1);
    assert!(fast.iter().all(|r| r["outcome"] == "success"), "{fast:?}");
    let state = v.wait_state("a replaced worker", Duration::from_secs(10), |s| {
        s.children.len() == 3 && s.children.iter().any(|c| !pids_before.contains(&c.pid))
    });
    assert_eq!(state.restarts.get("compute"), Some(&1));
    let m = v.metrics();
    assert_eq!(
        metric_value(
            &m,
            "gaia_compute_jobs_total{task=\"sys.sleep\",outcome=\"timeout\"}"
        ),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn workers_recycle_after_max_jobs_without_counting_crashes() {
    let v = Validator::start(BIN, &[("MAX_JOBS_PER_WORKER", "5")]);
    let mut pids = std::collections::BTreeSet::new();
    for i in 0..50 {
        let r = v.dispatch(&unit(&format!("e{i}"), "sys.echo", json!(i)));
        assert_eq!(r["outcome"], "success", "job {i}: {r}");
        assert_eq!(r["result"]["result"], json!(i));
        pids.insert(r["result"]["worker_pid"].as_u64().unwrap());
    }
    assert!(pids.len() >= 10, "{} distinct worker pids", pids.len());
    let state = v.state();
    assert_eq!(
        state.restarts.get("compute").copied().unwrap_or(0),
        0,
        "{state:?}"
    );
    assert!(
        state.restarts.get("recycles").copied().unwrap_or(0) >= 8,
        "{state:?}"
    );
}

#[test]
fn a_worker_over_its_rss_limit_delivers_then_is_replaced() {
    let v = Validator::start(
        BIN,
        &[
            ("NUM_COMPUTE_WORKERS", "1"),
            ("PROCESS_MAX_RSS_MB_COMPUTE_WORKER", "64"),
        ],
    );
    v.wait_ready(1);
    let r = v.dispatch(&unit("big", "sys.alloc", json!({"mib": 100})));
    assert_eq!(r["outcome"], "success", "{r}");
    let old = r["result"]["worker_pid"].as_u64().unwrap() as u32;
    v.wait_state("replacement", Duration::from_secs(10), |s| {
        s.children
            .iter()
            .any(|c| c.name == "compute-1" && c.pid != old)
    });
    assert!(!alive(old));
    v.wait_ready(1);
    let r = v.dispatch(&unit("next", "sys.echo", json!(1)));
    assert_ne!(r["result"]["worker_pid"].as_u64().unwrap() as u32, old);
    assert_eq!(v.state().restarts.get("compute").copied().unwrap_or(0), 0);
}

/// `DIAGNOSTIC_LOAD_JOBS_PER_S` makes the developer binary's IO-Engine send its mix of `sys.echo`
/// and `sys.spin` on its own, and its workers run them.
#[test]
fn diagnostic_load_runs_echo_and_spin_jobs() {
    let v = Validator::start(
        BIN,
        &[
            ("NUM_COMPUTE_WORKERS", "1"),
            ("DIAGNOSTIC_LOAD_JOBS_PER_S", "100"),
        ],
    );
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let m = v.metrics();
        let echo = metric_value(
            &m,
            "gaia_compute_jobs_total{task=\"sys.echo\",outcome=\"success\"}",
        );
        let spin = metric_value(
            &m,
            "gaia_compute_jobs_total{task=\"sys.spin\",outcome=\"success\"}",
        );
        if echo.unwrap_or(0.0) >= 6.0 && spin.unwrap_or(0.0) >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "no diagnostic load within 60 s:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
