//! One validator run of the soak: its database, the real supervisor (`gaia-dev run`) started
//! against the fleet on the scaled clock, the sampling loop with the chaos run's events, the
//! drain until the compared runs complete, and what the run left behind (samples, chaos events,
//! settled scores, the lead-by-lead check, the last weights).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use gaia_miner_sim::World;
use gaia_store::{Store, StoreConfig};
use gaia_validator::runtime::{RuntimeDir, SupervisorState};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::sample::{self, ChaosEvent, Sample};
use super::supervisor::{offset, restart_supervisor};
use super::{chaos, data, world, BUSINESS_START};
use crate::cli::{SoakArgs, SoakDb, SoakFault};

/// What one validator run left behind.
pub struct RunOutcome {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// What the harness did to it.
    pub chaos: Vec<ChaosEvent>,
    /// Whether a supervisor was still running at the end.
    pub supervisor_alive: bool,
    /// Child crashes the supervisors logged.
    pub crashed: u64,
    /// Wall seconds, drain included.
    pub wall_s: f64,
    /// Wall seconds the drain took until the compared runs were complete; `None` when it
    /// timed out (`--drain-timeout-s`) with some of them still open.
    pub drained_s: Option<f64>,
    /// The settled scores.
    pub settled: data::Settled,
    /// Overall scores checked against spec §12-1, and the violations.
    pub lead_rule: (usize, Vec<String>),
    /// The last weights recorded (uid order).
    pub weights: Vec<f64>,
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

/// Start `gaia-dev run` for one run, in its own process group.
pub fn spawn_validator(
    dir: &Path,
    env: &[(String, String)],
) -> anyhow::Result<(Child, RuntimeDir)> {
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
        .env("SUPERVISOR_CHECK_INTERVAL_S", "1")
        .env("SHUTDOWN_GRACE_S", "10")
        // Chaos kills far more often than production's restart budget allows on purpose.
        .env("RESTART_BUDGET_COUNT", "10000")
        .env("RESTART_BACKOFF_MAX_S", "1")
        // A killed compute worker costs the job it ran an attempt (a job that kills its worker
        // must not loop). With a kill every few seconds, three in a row can land on one slow
        // store's ERA5 lead (seen once: the chaos run then lacked a lead the calm run scored),
        // so both runs allow more attempts than production's 3.
        .env("WEATHER__SCORING_MAX_ATTEMPTS", "8")
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

/// One validator run (`name`: `calm` or `chaos`) over `world` until `--simulated-days` have
/// passed and the compared runs completed; `chaos_on` adds the chaos events.
pub async fn run_once(
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
        args.miners,
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
    // Business time goes on during the drain (at scale 17280 a day in 5 s): keep every run of
    // the soak and its drain, so run retention (90 days by default) never deletes a compared
    // run still being scored.
    env.push((
        "WEATHER__DB_RUN_RETENTION_DAYS".into(),
        retention_days(days, args.drain_timeout_s, args.time_scale).to_string(),
    ));
    // A supervisor killed across the daily run's hour is caught up when its successor starts
    // (at the start of a run the last occurrence is 23 h 50 old: not caught up, as in calm).
    env.push(("WEATHER__RUN_CATCH_UP_HOURS".into(), "20".into()));
    if let Some(d) = &disk {
        env.push((
            "DATA_DIR".into(),
            d.path().join("data").display().to_string(),
        ));
    }
    let (child, runtime) = spawn_validator(&dir, &env)?;
    let mut validator = RunningValidator {
        child,
        runtime,
        stopped: false,
    };
    let RunningValidator { child, runtime, .. } = &mut validator;
    let runtime: &RuntimeDir = runtime;
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
        samples.push(offset(scrape(runtime, t, day), &base));
        // No chaos in the first and last tenth: the run starts and ends cleanly.
        let in_window = t > 0.1 * wall_total && t < 0.85 * wall_total;
        let kill_in = clock.wall_duration(chaos::Plan::until_supervisor_kill(clock.now()));
        if chaos_on
            && in_window
            && !supervisor_killed
            && t >= plan.supervisor_kill_from
            && kill_in.as_secs_f64() < args.scrape_every_s
        {
            tokio::time::sleep(kill_in).await;
            let t = began.elapsed().as_secs_f64();
            supervisor_killed = true;
            base = samples.last().cloned().unwrap_or_default();
            base.supervisor_restarts += 1;
            let event = restart_supervisor(child, runtime, &dir, &env, t).await?;
            tracing_note(&event.what);
            chaos.push(event);
            next_chaos = began.elapsed().as_secs_f64() + args.chaos_every;
            continue;
        }
        if chaos_on && in_window && t >= next_chaos {
            next_chaos = t + args.chaos_every;
            let state = SupervisorState::read(runtime).unwrap_or_default();
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
    let store = Store::open(&StoreConfig::new(db.url.as_str())).await?;
    let drain_began = Instant::now();
    let until = drain_began + Duration::from_secs(args.drain_timeout_s);
    let mut drained_s = None;
    while alive && Instant::now() < until {
        if data::compared_runs_complete(&store, start, days).await? {
            drained_s = Some(drain_began.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_secs_f64(args.scrape_every_s)).await;
        let t = began.elapsed().as_secs_f64();
        let day = (clock.now() - start).num_milliseconds() as f64 / 86_400_000.0;
        samples.push(offset(scrape(runtime, t, day), &base));
        alive = matches!(child.try_wait(), Ok(None));
    }
    if let Ok(None) = child.try_wait() {
        let day = (clock.now() - start).num_milliseconds() as f64 / 86_400_000.0;
        samples.push(offset(
            scrape(runtime, began.elapsed().as_secs_f64(), day),
            &base,
        ));
    } else {
        alive = false;
    }
    if drained_s.is_none() {
        tracing_note(&format!(
            "{name}: drain timed out after {} s with compared runs still open",
            args.drain_timeout_s
        ));
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
    validator.stop();
    let log = std::fs::read_to_string(dir.join("validator.log")).unwrap_or_default();
    let crashed = log.matches(super::kept::CRASH_LINE).count() as u64;
    std::fs::write(dir.join("samples.json"), serde_json::to_vec(&samples)?)?;
    fleet.stop().await;
    let results = data::results(&store, start, days, business_end, args.miners).await?;
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
        drained_s,
        settled: results.settled,
        lead_rule: results.lead_rule,
        weights: results.weights,
    })
}

fn tracing_note(what: &str) {
    eprintln!("soak: {what}");
}

/// The supervisor of a run while the harness drives it: stopped (with its children) when the
/// run ends, and also when the run is abandoned half-way — an error, or `soak` interrupted by
/// Ctrl-C or SIGTERM, which drops the run — so that no validator outlives the harness (it runs
/// in its own process group, out of reach of the terminal's signals).
struct RunningValidator {
    child: Child,
    runtime: RuntimeDir,
    stopped: bool,
}

impl RunningValidator {
    /// Stop the supervisor and every child it started (once).
    fn stop(&mut self) {
        if !std::mem::replace(&mut self.stopped, true) {
            stop(&mut self.child, &self.runtime);
        }
    }
}

impl Drop for RunningValidator {
    fn drop(&mut self) {
        if !self.stopped {
            tracing_note("stopping the validator of an unfinished run");
        }
        self.stop();
    }
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

/// Business days of run retention that keep every run of a soak of `days` simulated days and
/// a drain of at most `drain_timeout_s` wall seconds at `scale` (two days of margin), and never
/// less than the validator's default of 90.
fn retention_days(days: u32, drain_timeout_s: u64, scale: f64) -> u64 {
    let drain_days = (drain_timeout_s as f64 * scale / 86_400.0).ceil();
    let needed = u64::from(days) + drain_days.clamp(0.0, 36_500.0) as u64 + 2;
    needed.clamp(90, 36_500)
}

#[cfg(test)]
mod retention_tests {
    #[test]
    fn retention_outlasts_the_soak_and_its_drain() {
        // The CI's compressed soak: 12 days, then up to 480 s at a day per 5 s.
        assert_eq!(super::retention_days(12, 480, 17_280.0), 12 + 96 + 2);
        // The default run (60 days at scale 1440, 1 h drain): 60 + 60 + 2.
        assert_eq!(super::retention_days(60, 3600, 1440.0), 122);
        // Short soaks keep the validator's default.
        assert_eq!(super::retention_days(2, 60, 17_280.0), 90);
        assert_eq!(super::retention_days(5, u64::MAX, 1e9), 36_500);
    }
}
