//! `demo --spine`: run the process spine alone for a short while and print what it did.
//!
//! It starts the real supervisor (`run`) with its IO-Engine and compute pool under a
//! self-generated diagnostic load, scrapes its `/metrics`, stops it with SIGTERM and prints a
//! summary (the figures of docs/process-spine.md).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use gaia_validator::cli::GlobalArgs;
use gaia_validator::runtime::RuntimeDir;

use crate::cli::DemoArgs;

/// Fetch `path` from `addr` with a plain HTTP/1.0 GET; returns the body.
pub fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// Sum samples of `metric` in Prometheus text by the value of `label`.
pub fn sum_by_label(text: &str, metric: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(metric)) {
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let key = head
            .split(&format!("{label}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        *out.entry(key).or_default() += v;
    }
    out
}

/// Run the spine demo.
pub fn run(global: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let runtime = RuntimeDir::new(tmp.path().join("rt"));
    let mut cmd = Command::new(std::env::current_exe()?);
    if let Some(c) = &global.config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(["--log-format", "json", "run"])
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("RUNTIME_DIR", runtime.root())
        .env("DATA_DIR", tmp.path().join("data"))
        .env("DIAGNOSTIC_LOAD_JOBS_PER_S", "200")
        .env("SHUTDOWN_GRACE_S", "5")
        .env("SUPERVISOR_CHECK_INTERVAL_S", "1")
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start the supervisor")?;
    println!(
        "demo: supervisor pid {} running for {} s under diagnostic load",
        child.id(),
        args.seconds
    );
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(runtime.metrics_addr_file()) {
            break a;
        }
        if started.elapsed() > Duration::from_secs(30) || child.try_wait()?.is_some() {
            let _ = child.kill();
            bail!("the validator did not come up");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_secs(args.seconds));
    let metrics = http_get(&addr, "/metrics")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    let status = child.wait()?;
    let outcomes = sum_by_label(&metrics, "gaia_compute_jobs_total", "outcome");
    let rss = sum_by_label(&metrics, "gaia_child_resident_memory_bytes", "process");
    let restarts = sum_by_label(&metrics, "gaia_child_process_restarts_total", "process");
    let lag_count = sum_by_label(&metrics, "gaia_io_event_loop_lag_seconds_count", "");
    println!("\njobs by outcome:");
    for (k, v) in &outcomes {
        println!("  {k:<14} {v:>10.0}");
    }
    println!("resident memory by process:");
    for (k, v) in &rss {
        println!("  {k:<14} {:>8.1} MiB", v / 1048576.0);
    }
    println!("restarts by class: {restarts:?}");
    println!(
        "event-loop lag samples: {}",
        lag_count.values().sum::<f64>()
    );
    println!(
        "supervisor exit: {status}; wall time {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ok = status.success() && outcomes.get("success").copied().unwrap_or(0.0) > 0.0;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
