//! `soak`: weeks of simulated operation in minutes (issue 16). The real supervisor, IO-Engine and
//! workers run the daily weather cycle on a scaled business clock against a simulated fleet,
//! twice over the same world: once calm, once under chaos (a random child SIGKILLed every
//! `--chaos-every` seconds; once each: the supervisor SIGKILLed and started again, PostgreSQL
//! restarted, the validator's storage full for a window — [`chaos`]). The harness samples the
//! validator's own `/metrics` and `/proc` every few seconds, judges the five criteria, writes
//! `report.json` and `report.html` under `--out` (the databases stay there too, or in the
//! throwaway PostgreSQL clusters for the run's lifetime) and exits 0 only if every criterion
//! passes. `--calm-only` runs and judges the calm run alone, and `--judge-kept` judges the calm run
//! an earlier soak left on disk ([`judge`], [`kept`]): for long soaks, where a second run of the
//! same length does not fit. docs/soak.md says how to run it and read it.

pub mod chaos;
pub mod criteria;
pub mod data;
pub mod judge;
pub mod kept;
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
    if args.judge_kept {
        println!("soak: judging the calm run kept in {}", out.display());
        let calm = kept::outcome(args, out, "calm").await?;
        return Ok(judge::calm_only(args, days, calm));
    }
    let grid = args.grid_deg;
    let dir = out.to_path_buf();
    println!("soak: writing the truth of {} simulated days", days + 1);
    let (world, world_dir) =
        tokio::task::spawn_blocking(move || world::write_truth(&dir, grid, start, days + 1))
            .await??;
    println!("soak: calm run");
    let calm = run_once(args, out, "calm", world.clone(), &world_dir, false).await?;
    if args.calm_only {
        return Ok(judge::calm_only(args, days, calm));
    }
    println!("soak: chaos run");
    let chaos = run_once(args, out, "chaos", world, &world_dir, true).await?;
    Ok(judge::both(args, days, calm, chaos))
}
