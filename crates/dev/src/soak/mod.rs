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
pub mod run;
pub mod sample;
pub mod supervisor;
pub mod world;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::cli::SoakArgs;
use run::run_once;

/// Business time of the soak's start: ten minutes before the first daily run (18:00 UTC).
pub const BUSINESS_START: &str = "2026-01-01T17:50:00Z";

/// Run the soak.
pub fn run(args: &SoakArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    // Ctrl-C or SIGTERM abandons the soak: dropping it stops the running validator (its own
    // process group, which the terminal's signal does not reach), the fleet, the PostgreSQL
    // cluster and the full-disk tmpfs, in that order.
    let report = rt.block_on(async {
        tokio::select! {
            report = soak(args, &out) => report,
            signal = interrupted() => Err(anyhow::anyhow!(
                "soak interrupted by {signal}: its validator was stopped; no report written"
            )),
        }
    })?;
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

/// The name of the first SIGINT or SIGTERM the process receives (pending forever when the
/// handlers cannot be installed).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
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
            "{} settled responses, {} score rows compared{}{}",
            calm.settled.responses.len(),
            calm.settled.rows.len(),
            [("calm", &calm), ("chaos", &chaos)]
                .iter()
                .filter(|(_, r)| r.drained_s.is_none())
                .map(|(n, _)| format!("; the {n} run's drain timed out with runs still open"))
                .collect::<String>(),
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
        "drain_s_calm": calm.drained_s,
        "drain_s_chaos": chaos.drained_s,
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
