//! `demo`, the README's first command: one full weather cycle against simulated miners on the
//! embedded SQLite store, with no configuration.
//!
//! It writes a synthetic world, starts nine simulated miners on loopback (honest ones of three
//! skills, a slow one, an offline one, a GFS cloner, a lying hash, a chunk swapper and a NaN
//! injector), starts the real supervisor (`run`) with compressed timings, waits until the run is
//! completed and its weights recorded, prints a per-miner table and stops everything.
//! `demo --spine` runs the older process-spine demo instead.

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use gaia_store::{Store, StoreConfig};

use gaia_validator::cli::GlobalArgs;
use gaia_validator::runtime::RuntimeDir;

use crate::cli::DemoArgs;
use crate::sim_cycle::{demo_specs, render, summary, SimCycle};

/// Run the demo.
pub fn run(global: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.spine {
        return super::demo_spine::run(global, args);
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let data = root.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let url = format!("sqlite://{}/gaia.db", data.display());
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    rt.block_on(async {
        println!(
            "demo: building the simulated world and fleet under {}",
            root.display()
        );
        let specs = demo_specs();
        let cycle = SimCycle::prepare(&root, &url, args.grid_deg, specs.clone()).await?;
        println!(
            "demo: {} miners on loopback, GFS cycle {}, world ready after {:.1} s",
            cycle.fleet.miners().len(),
            cycle.gfs_init.format("%Y-%m-%d %HZ"),
            started.elapsed().as_secs_f64()
        );
        let runtime = RuntimeDir::new(root.join("rt"));
        let log_path = root.join("validator.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        if let Some(c) = &global.config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["--log-format", "json", "run"])
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("RUNTIME_DIR", runtime.root())
            .env("DATA_DIR", &data)
            .env("NUM_COMPUTE_WORKERS", "2")
            .env("SHUTDOWN_GRACE_S", "10")
            .env("SUPERVISOR_CHECK_INTERVAL_S", "1")
            .env("LOG_LEVEL", "info")
            .envs(cycle.validator_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = cmd.spawn().context("cannot start the supervisor")?;
        println!(
            "demo: validator pid {} started (logs: {})",
            child.id(),
            log_path.display()
        );
        let store = Store::open(&StoreConfig::new(url.as_str())).await?;
        let waited = cycle
            .wait_done(&store, Duration::from_secs(args.timeout_s))
            .await;
        let behaviours: Vec<(u8, String)> = cycle
            .fleet
            .miners()
            .iter()
            .filter_map(|m| Some((u8::try_from(m.uid).ok()?, m.behaviour.to_string())))
            .collect();
        let outcome = match waited {
            Ok(run) => {
                let rows = summary(&store, &run, &behaviours).await?;
                println!("\n{}", render(&rows));
                println!(
                    "demo: run {} completed in {:.1} s of wall time",
                    run.id,
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Err(e) => Err(e),
        };
        store.close().await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
            nix::sys::signal::Signal::SIGTERM,
        )?;
        let status = child.wait()?;
        cycle.fleet.stop().await;
        println!("demo: supervisor exit: {status}");
        outcome?;
        anyhow::Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
