//! `soak`: weeks of simulated operation in minutes (issue 16). The real supervisor, IO-Engine and
//! workers run the daily weather cycle on a scaled business clock against a simulated fleet,
//! twice over the same world: once calm, once under chaos (a random child SIGKILLed every
//! `--chaos-every` seconds; once each: the supervisor SIGKILLed and started again, PostgreSQL
//! restarted, the validator's storage full for a window — [`chaos`]). The harness samples the
//! validator's own `/metrics` and `/proc` every few seconds, judges the five criteria, writes
//! `report.json` and `report.html` under `--out` (the databases stay there too, or in the
//! throwaway PostgreSQL clusters for the run's lifetime) and exits 0 only if every criterion
//! passes. docs/soak.md says how to run it and read it.

pub mod chaos;
pub mod criteria;
pub mod data;
pub mod report;
pub mod sample;
pub mod world;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use gaia_miner_sim::World;
use gaia_store::{Store, StoreConfig};
use gaia_validator::runtime::{RuntimeDir, SupervisorState};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::cli::{SoakArgs, SoakDb, SoakFault};
use sample::{ChaosEvent, Sample};

/// Business time of the soak's start: ten minutes before the first daily run (18:00 UTC).
pub const BUSINESS_START: &str = "2026-01-01T17:50:00Z";

/// What one validator run left behind.
struct RunOutcome {
    samples: Vec<Sample>,
    chaos: Vec<ChaosEvent>,
    supervisor_alive: bool,
    crashed: u64,
    wall_s: f64,
    settled: data::Settled,
    lead_rule: (usize, Vec<String>),
    weights: Vec<f64>,
}

/// A database for one run: the SQLite file under `--out`, or a private PostgreSQL cluster.
struct Db {
    url: String,
    pg: Option<gaia_testkit::TestPostgres>,
}

async fn database(kind: SoakDb, dir: &Path, name: &str) -> anyhow::Result<Db> {
    Ok(match kind {
        SoakDb::Sqlite => {
            let file = dir.join(format!("{name}.db"));
            let _ = std::fs::remove_file(&file);
            Db {
                url: format!("sqlite://{}", file.display()),
                pg: None,
            }
        }
        SoakDb::Postgres => {
            let pg = gaia_testkit::TestPostgres::create_private()
                .await
                .context("starting a private PostgreSQL cluster")?;
            Db {
                url: pg.url().to_string(),
                pg: Some(pg),
            }
        }
    })
}

/// Run the soak.
pub fn run(args: &SoakArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    let report = rt.block_on(soak(args, &out))?;
    report::write(&out, &report)?;
    for c in &report.criteria {
        println!(
            "{:<40} {:>14.6} {:>10} {}",
            c.name,
            c.value,
            c.threshold,
            if c.pass { "pass" } else { "FAIL" }
        );
    }
    println!(
        "soak: {} — report {}",
        if report.pass { "PASS" } else { "FAIL" },
        out.join("report.html").display()
    );
    Ok(if report.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn soak(args: &SoakArgs, out: &Path) -> anyhow::Result<report::Report> {
    let start: DateTime<Utc> = BUSINESS_START.parse()?;
    let days = args.simulated_days.max(1);
    let grid = args.grid_deg;
    let dir = out.to_path_buf();
    println!("soak: writing the truth of {} simulated days", days + 1);
    let (world, world_dir) =
        tokio::task::spawn_blocking(move || world::write_truth(&dir, grid, start, days + 1))
            .await??;
    println!("soak: calm run");
    let calm = run_once(args, out, "calm", world.clone(), &world_dir, false).await?;
    println!("soak: chaos run");
    let chaos = run_once(args, out, "chaos", world, &world_dir, true).await?;
    let mut criteria = vec![criteria::crashes(
        chaos.crashed,
        &chaos.chaos,
        chaos.supervisor_alive,
    )];
    // Memory is judged on the calm run: chaos restarts make a saw-tooth of fresh processes.
    let (day, wall) = criteria::io_engine_memory(&calm.samples, 0.25);
    criteria.extend([day, wall, criteria::worker_baseline(&calm.samples)]);
    for (name, r) in [("calm", &calm), ("chaos", &chaos)] {
        let mut lag = criteria::lag(&r.samples);
        lag.name = format!("{}_{name}", lag.name);
        criteria.push(lag);
    }
    criteria.push(criteria::queue_depth(&chaos.samples, 0.1));
    let diff = data::differences(&calm.settled, &chaos.settled);
    criteria.push(criteria::Criterion {
        name: "chaos_equals_calm_mismatches".into(),
        value: diff.len() as f64,
        threshold: 0.0,
        pass: diff.is_empty(),
        detail: format!(
            "{} settled responses, {} score rows compared{}",
            calm.settled.responses.len(),
            calm.settled.rows.len(),
            diff.first()
                .map(|d| format!("; first: {d}"))
                .unwrap_or_default()
        ),
    });
    for (name, r) in [("calm", &calm), ("chaos", &chaos)] {
        let (checked, bad) = &r.lead_rule;
        criteria.push(criteria::Criterion {
            name: format!("lead_by_lead_violations_{name}"),
            value: bad.len() as f64,
            threshold: 0.0,
            pass: bad.is_empty() && *checked > 0,
            detail: format!(
                "{checked} overall scores checked{}",
                bad.first()
                    .map(|d| format!("; first: {d}"))
                    .unwrap_or_default()
            ),
        });
    }
    // The slow miner's scores arrive: every settled cycle of the chaos run holds its ten leads.
    if let Some(slow) = world::fleet_specs(args.miners)
        .iter()
        .find(|m| m.behaviour == world::SLOW_STORE)
    {
        let uid = u8::try_from(slow.uid).unwrap_or(u8::MAX);
        let (checked, missing) = data::unscored(&chaos.settled, uid);
        criteria.push(criteria::Criterion {
            name: "slow_store_miner_unscored_cycles".into(),
            value: missing.len() as f64,
            threshold: 0.0,
            pass: missing.is_empty() && checked > 0,
            detail: format!(
                "uid {uid} (every read 100 ms late): {checked} settled cycles of the chaos run{}",
                missing
                    .first()
                    .map(|d| format!("; first: {d}"))
                    .unwrap_or_default()
            ),
        });
    }
    let jobs = chaos.samples.last().map_or(0.0, |s| s.jobs);
    let mut peak = std::collections::BTreeMap::<String, u64>::new();
    for s in &chaos.samples {
        for (n, _, r) in &s.rss {
            let k = if n.starts_with("compute") {
                "compute"
            } else {
                n.as_str()
            };
            let e = peak.entry(k.to_string()).or_default();
            *e = (*e).max(*r);
        }
    }
    let figures = serde_json::json!({
        "simulated_days": days,
        "miners": args.miners,
        "time_scale": args.time_scale,
        "chaos_every_s": args.chaos_every,
        "db": format!("{:?}", args.db).to_lowercase(),
        "wall_s_calm": calm.wall_s,
        "wall_s_chaos": chaos.wall_s,
        "wall_s_per_simulated_day": chaos.wall_s / f64::from(days),
        "supervisor_restarts": chaos.samples.last().map_or(0, |s| s.supervisor_restarts),
        "compute_jobs_chaos": jobs,
        "jobs_per_s": jobs / chaos.wall_s.max(1e-3),
        "peak_rss_bytes": peak,
    });
    Ok(report::Report {
        pass: criteria.iter().all(|c| c.pass),
        criteria,
        figures,
        samples: chaos.samples,
        chaos: chaos.chaos,
        weights: chaos.weights,
    })
}

/// Start `gaia-dev run` for one run, in its own process group.
fn spawn_validator(dir: &Path, env: &[(String, String)]) -> anyhow::Result<(Child, RuntimeDir)> {
    let runtime = RuntimeDir::new(dir.join("rt"));
    // Appended to: a restarted supervisor (chaos) writes after its killed predecessor.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("validator.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--log-format", "json", "run"])
        .current_dir(dir)
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("STATUS_ADDR", "")
        .env("RUNTIME_DIR", runtime.root())
        .env("DATA_DIR", dir.join("data"))
        .env("NUM_COMPUTE_WORKERS", "2")
        .env("SUPERVISOR_CHECK_INTERVAL_S", "1")
        .env("SHUTDOWN_GRACE_S", "10")
        // Chaos kills far more often than production's restart budget allows on purpose.
        .env("RESTART_BUDGET_COUNT", "10000")
        .env("RESTART_BACKOFF_MAX_S", "1")
        .env("LOG_LEVEL", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0);
    Ok((cmd.spawn().context("cannot start the supervisor")?, runtime))
}

fn scrape(runtime: &RuntimeDir, t: f64, day: f64) -> Sample {
    let state = SupervisorState::read(runtime).unwrap_or_default();
    let addr = std::fs::read_to_string(runtime.metrics_addr_file()).unwrap_or_default();
    let text = crate::harness::http(&addr, "GET", "/metrics", None).unwrap_or_default();
    Sample {
        t,
        day,
        rss: state
            .children
            .iter()
            .map(|c| (c.name.clone(), c.pid, sample::rss_of(c.pid)))
            .collect(),
        lag_buckets: sample::buckets(&text, "gaia_io_event_loop_lag_seconds"),
        queue_depth: sample::max_of(&text, "gaia_ipc_queue_depth"),
        jobs: sample::sum_of(&text, "gaia_compute_jobs_total"),
        job_seconds: (
            sample::sum_of(&text, "gaia_compute_job_duration_seconds_sum"),
            sample::sum_of(&text, "gaia_compute_job_duration_seconds_count"),
        ),
        restarts: state.restarts.values().sum(),
        supervisor_restarts: 0,
    }
}

async fn run_once(
    args: &SoakArgs,
    out: &Path,
    name: &str,
    world: Arc<World>,
    world_dir: &Path,
    chaos_on: bool,
) -> anyhow::Result<RunOutcome> {
    let dir: PathBuf = out.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let start: DateTime<Utc> = BUSINESS_START.parse()?;
    let days = args.simulated_days.max(1);
    let chaos_on = chaos_on && args.chaos_every > 0.0;
    // The chaos run's storage (its SQLite file and DATA_DIR) is a tmpfs that fills for a while.
    let (mut disk, disk_error) = if chaos_on {
        match chaos::FullDisk::mount(chaos::FullDisk::size_for(args.miners, days)) {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    let db_dir = match (&disk, args.db) {
        (Some(d), SoakDb::Sqlite) => d.path().to_path_buf(),
        _ => out.to_path_buf(),
    };
    let db = database(args.db, &db_dir, name).await?;
    let (fleet, metagraph) =
        world::start_fleet(world, world::cycle_of(start, 0), &dir, args.miners).await?;
    let anchor = Utc::now();
    let mut env = world::validator_env(
        world_dir,
        &metagraph,
        &db.url,
        args.time_scale,
        start,
        anchor,
    );
    match args.fault {
        Some(SoakFault::Leak) => env.push((
            "GAIA_DEV_FAULT_LEAK_BYTES_PER_JOB".into(),
            (64 * 1024).to_string(),
        )),
        Some(SoakFault::Lossy) if chaos_on => {
            env.push(("GAIA_DEV_FAULT_DROP_SCORE_WRITE".into(), "1".into()));
        }
        _ => {}
    }
    // A supervisor killed across the daily run's hour is caught up when its successor starts
    // (at the start of a run the last occurrence is 23 h 50 old: not caught up, as in calm).
    env.push(("WEATHER__RUN_CATCH_UP_HOURS".into(), "20".into()));
    if let Some(d) = &disk {
        env.push((
            "DATA_DIR".into(),
            d.path().join("data").display().to_string(),
        ));
    }
    let (mut child, runtime) = spawn_validator(&dir, &env)?;
    let clock = gaia_validator::clock::BusinessClock::scaled(args.time_scale, start, anchor);
    let wall_total = f64::from(days) * 86_400.0 / args.time_scale;
    let began = Instant::now();
    let mut samples = Vec::new();
    let mut chaos = Vec::new();
    let mut next_chaos = args.chaos_every;
    let mut pg_restarted = false;
    let mut alive = true;
    let mut picks = 0x9e37_79b9u64;
    let plan = chaos::Plan::new(wall_total);
    let mut supervisor_killed = false;
    // Counters of the killed supervisors' incarnations, added to their successors' samples.
    let mut base = Sample::default();
    let mut log_mark = 0;
    let log = dir.join("validator.log");
    let holds = match args.db {
        SoakDb::Sqlite => "the SQLite file and DATA_DIR",
        SoakDb::Postgres => "DATA_DIR",
    };
    if let Some(e) = disk_error {
        tracing_note(&format!("no full-disk episode: {e}"));
        chaos.push(ChaosEvent {
            t: 0.0,
            kind: chaos::FULL_DISK.into(),
            what: format!("full disk skipped: {e}"),
            replaced: true,
        });
    }
    while began.elapsed().as_secs_f64() < wall_total {
        tokio::time::sleep(Duration::from_secs_f64(args.scrape_every_s)).await;
        let t = began.elapsed().as_secs_f64();
        let day = (clock.now() - start).num_milliseconds() as f64 / 86_400_000.0;
        if let Ok(Some(status)) = child.try_wait() {
            tracing_note(&format!("supervisor exited: {status}"));
            alive = false;
            break;
        }
        samples.push(offset(scrape(&runtime, t, day), &base));
        // No chaos in the first and last tenth: the run starts and ends cleanly.
        let in_window = t > 0.1 * wall_total && t < 0.85 * wall_total;
        if chaos_on && in_window && !supervisor_killed && plan.supervisor_kill_due(t, clock.now()) {
            supervisor_killed = true;
            base = samples.last().cloned().unwrap_or_default();
            base.supervisor_restarts += 1;
            let (event, successor) =
                restart_supervisor(&mut child, &runtime, &dir, &env, t).await?;
            tracing_note(&event.what);
            chaos.push(event);
            child = successor;
            next_chaos = began.elapsed().as_secs_f64() + args.chaos_every;
            continue;
        }
        if chaos_on && in_window && t >= next_chaos {
            next_chaos = t + args.chaos_every;
            let state = SupervisorState::read(&runtime).unwrap_or_default();
            if !state.children.is_empty() {
                picks = picks
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let victim = &state.children[(picks >> 33) as usize % state.children.len()];
                let _ = kill(Pid::from_raw(victim.pid as i32), Signal::SIGKILL);
                chaos.push(ChaosEvent {
                    t,
                    kind: chaos::KILL_CHILD.into(),
                    what: format!("kill {} (pid {})", victim.name, victim.pid),
                    replaced: false,
                });
            }
        }
        if chaos_on && !pg_restarted && t >= 0.5 * wall_total {
            if let Some(cluster) = db.pg.as_ref().and_then(|p| p.cluster()) {
                pg_restarted = true;
                let ok = tokio::task::spawn_blocking(move || cluster.restart()).await?;
                chaos.push(ChaosEvent {
                    t,
                    kind: chaos::RESTART_POSTGRES.into(),
                    what: "restart postgres".into(),
                    replaced: ok.is_ok(),
                });
            }
        }
        if let Some(d) = disk.as_mut() {
            if !d.is_full() && log_mark == 0 && t >= plan.full_disk_from {
                log_mark = std::fs::metadata(&log).map_or(1, |m| m.len().max(1));
                chaos.push(d.fill_event(t, holds));
                tracing_note(&chaos[chaos.len() - 1].what);
            } else if d.is_full() && t >= plan.full_disk_to {
                d.free_event(t, chaos::full_disk_lines_since(&log, log_mark), &mut chaos);
            }
        }
    }
    if let Some(d) = disk.as_mut().filter(|d| d.is_full()) {
        let met = chaos::full_disk_lines_since(&log, log_mark);
        d.free_event(began.elapsed().as_secs_f64(), met, &mut chaos);
    }
    // Drain: the runs whose results are compared must complete (business time goes on).
    let end = start + chrono::Duration::days(i64::from(days));
    let settled_before = end - chrono::Duration::days(1);
    let store = Store::open(&StoreConfig::new(db.url.as_str())).await?;
    let until = Instant::now() + Duration::from_secs(args.drain_timeout_s);
    while alive && Instant::now() < until {
        let runs = store
            .list_runs_since(start - chrono::Duration::days(1))
            .await?;
        let open = runs
            .iter()
            .filter(|r| r.gfs_init_time_utc + chrono::Duration::days(10) <= settled_before)
            .filter(|r| r.status != gaia_store::RunStatus::Completed)
            .count();
        let expected = (0..days)
            .filter(|d| world::cycle_of(start, *d) + chrono::Duration::days(10) <= settled_before)
            .count();
        if open == 0 && runs.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_secs_f64(args.scrape_every_s)).await;
        let t = began.elapsed().as_secs_f64();
        let day = (clock.now() - start).num_milliseconds() as f64 / 86_400_000.0;
        samples.push(offset(scrape(&runtime, t, day), &base));
        alive = matches!(child.try_wait(), Ok(None));
    }
    if let Ok(None) = child.try_wait() {
        let day = (clock.now() - start).num_milliseconds() as f64 / 86_400_000.0;
        samples.push(offset(
            scrape(&runtime, began.elapsed().as_secs_f64(), day),
            &base,
        ));
    } else {
        alive = false;
    }
    let business_end = clock.now();
    for ev in chaos.iter_mut().filter(|e| e.kind == chaos::KILL_CHILD) {
        let name = ev.what.split_whitespace().nth(1).unwrap_or_default();
        let pid = ev
            .what
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .trim_end_matches(')');
        ev.replaced = samples.iter().filter(|s| s.t > ev.t).any(|s| {
            s.rss
                .iter()
                .any(|(n, p, _)| n == name && p.to_string() != pid)
        });
    }
    let wall_s = began.elapsed().as_secs_f64();
    stop(&mut child, &runtime);
    let log = std::fs::read_to_string(dir.join("validator.log")).unwrap_or_default();
    let crashed = log.matches("\"msg\":\"child crashed; restarting\"").count() as u64;
    std::fs::write(dir.join("samples.json"), serde_json::to_vec(&samples)?)?;
    fleet.stop().await;
    let settled = data::settled(&store, start, settled_before).await?;
    let lead_rule = data::lead_rule(&store, start, business_end).await?;
    let weights = store
        .weight_history_since(start - chrono::Duration::days(1))
        .await?
        .last()
        .map(|w| {
            w.weights
                .as_slice()
                .iter()
                .take(usize::from(args.miners))
                .map(|v| v.unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    store.close().await;
    if let (Some(d), SoakDb::Sqlite) = (&disk, args.db) {
        // The database is kept under --out, as the calm run's is.
        for ext in ["db", "db-wal", "db-shm"] {
            let from = d.path().join(format!("{name}.{ext}"));
            if from.is_file() {
                std::fs::copy(&from, out.join(format!("{name}.{ext}")))?;
            }
        }
    }
    drop(disk);
    Ok(RunOutcome {
        samples,
        chaos,
        supervisor_alive: alive,
        crashed,
        wall_s,
        settled,
        lead_rule,
        weights,
    })
}

/// A sample of a restarted supervisor's validator with its predecessors' counters added, so
/// cumulative figures (jobs, job seconds, restarts) keep rising across a supervisor kill.
fn offset(mut s: Sample, base: &Sample) -> Sample {
    s.jobs += base.jobs;
    s.job_seconds.0 += base.job_seconds.0;
    s.job_seconds.1 += base.job_seconds.1;
    s.restarts += base.restarts;
    s.supervisor_restarts = base.supervisor_restarts;
    s
}

/// The chaos run's supervisor kill: SIGKILL the supervisor, check that every child dies with
/// it (parent-death signal), start a new `run` on the same database and runtime dir and wait
/// until it publishes its children and serves `/metrics` (its instance lock must not refuse a
/// dead owner).
async fn restart_supervisor(
    child: &mut Child,
    runtime: &RuntimeDir,
    dir: &Path,
    env: &[(String, String)],
    t: f64,
) -> anyhow::Result<(ChaosEvent, Child)> {
    let old = child.id();
    let pids: Vec<u32> = SupervisorState::read(runtime)
        .unwrap_or_default()
        .children
        .iter()
        .map(|c| c.pid)
        .collect();
    let orphans = tokio::task::block_in_place(|| {
        chaos::kill_supervisor(
            old,
            || {
                let _ = child.wait();
            },
            &pids,
            Duration::from_secs(30),
        )
    });
    let (successor, _) = spawn_validator(dir, env)?;
    let until = Instant::now() + Duration::from_secs(60);
    let mut up = false;
    while !up && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = SupervisorState::read(runtime).unwrap_or_default();
        let addr = std::fs::read_to_string(runtime.metrics_addr_file()).unwrap_or_default();
        up = state.supervisor_pid == successor.id()
            && !state.children.is_empty()
            && crate::harness::http(&addr, "GET", "/metrics", None).is_ok();
    }
    let fate = if orphans.survivors.is_empty() {
        format!("all gone after {:.1} s", orphans.gone_after_s)
    } else {
        format!("pids {:?} SIGKILLed by the harness", orphans.survivors)
    };
    let event = ChaosEvent {
        t,
        kind: chaos::KILL_SUPERVISOR.into(),
        what: format!(
            "kill supervisor (pid {old}): {} of {} children outlived it ({fate}); restarted as pid {} ({})",
            orphans.survivors.len(),
            orphans.children,
            successor.id(),
            if up { "up" } else { "NOT up within 60 s" }
        ),
        replaced: orphans.survivors.is_empty() && up,
    };
    Ok((event, successor))
}

fn tracing_note(what: &str) {
    eprintln!("soak: {what}");
}

/// SIGTERM the supervisor, wait for it, then SIGKILL every process group left.
fn stop(child: &mut Child, runtime: &RuntimeDir) {
    let pids: Vec<u32> = SupervisorState::read(runtime)
        .unwrap_or_default()
        .children
        .iter()
        .map(|c| c.pid)
        .chain([child.id()])
        .collect();
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in pids {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    let _ = child.wait();
}
