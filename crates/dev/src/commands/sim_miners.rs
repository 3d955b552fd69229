//! `gaia-dev sim-miners`: write a synthetic world (GFS analysis and forecast, ERA5,
//! climatology) and serve a fleet of simulated miners on loopback until Ctrl-C, for manual
//! runs of the validator against known behaviours (docs/miner-sim.md).
//!
//! Prints one JSON line with the world's store paths, then one JSON line per miner. The
//! miners speak fiber by default (`--transport`, docs/fiber.md); each line names it.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use gaia_miner_sim::{
    demo_fleet, write_world, Behaviour, Fleet, FleetConfig, MinerSpec, Transport, World,
    WorldConfig,
};
use serde_json::json;

use crate::cli::SimMinersArgs;

/// The GFS cycle: `--gfs-init` (RFC 3339 or a date) or today's 00Z.
fn gfs_init(arg: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    let Some(text) = arg else {
        let today = Utc::now().date_naive();
        return Ok(today.and_hms_opt(0, 0, 0).context("midnight")?.and_utc());
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("--gfs-init `{text}` is neither RFC 3339 nor YYYY-MM-DD"))?;
    Ok(d.and_hms_opt(0, 0, 0).context("midnight")?.and_utc())
}

/// The miners: `--behaviours` as given, else the first `--count` of the demo fleet (extra
/// miners beyond it are honest with decreasing skill).
pub fn specs(args: &SimMinersArgs) -> anyhow::Result<Vec<MinerSpec>> {
    if let Some(list) = &args.behaviours {
        let parsed: Result<Vec<Behaviour>, _> = list.split(',').map(str::parse).collect();
        return Ok(parsed?
            .into_iter()
            .enumerate()
            .map(|(i, behaviour)| MinerSpec {
                uid: i as u16,
                behaviour,
            })
            .collect());
    }
    if args.count == 0 || args.count > 256 {
        bail!("--count must be between 1 and 256");
    }
    let mut out: Vec<MinerSpec> = demo_fleet().into_iter().take(args.count).collect();
    for uid in out.len()..args.count {
        let skill = (0.95 - 0.05 * (uid % 10) as f64).max(0.3);
        out.push(MinerSpec {
            uid: uid as u16,
            behaviour: Behaviour::Honest { skill },
        });
    }
    Ok(out)
}

/// Run `sim-miners`.
pub fn run(args: &SimMinersArgs) -> anyhow::Result<ExitCode> {
    let init = gfs_init(args.gfs_init.as_deref())?;
    let transport: Transport = args.transport.parse()?;
    let miners = specs(args)?;
    let world = Arc::new(World::new(WorldConfig {
        seed: args.seed,
        grid_deg: args.grid_deg,
    })?);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let paths = write_world(&world, &args.out.join("world"), init)?;
    let mut config = FleetConfig::new(world, init, miners);
    config.token_ttl = TimeDelta::minutes(args.token_ttl_minutes);
    config.transport = transport;
    if !args.allow_validator.is_empty() {
        config.allowed_validators = Some(args.allow_validator.clone());
    }
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    rt.block_on(async move {
        let fleet = Fleet::start(config).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", json!({ "gfs_init": init, "world": paths }))?;
        for m in fleet.miners() {
            let line = json!({
                "uid": m.uid, "hotkey": m.hotkey, "ip": m.ip, "port": m.port,
                "behaviour": m.behaviour.to_string(), "job_id": m.job_id,
                "transport": fleet.transport().to_string(),
            });
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        drop(out);
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        fleet.stop().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(count: usize, behaviours: Option<&str>) -> SimMinersArgs {
        SimMinersArgs {
            count,
            behaviours: behaviours.map(str::to_owned),
            out: "x".into(),
            seed: 1,
            grid_deg: 4.0,
            gfs_init: None,
            token_ttl_minutes: 120,
            allow_validator: vec![],
            transport: "fiber".into(),
        }
    }

    #[test]
    fn fleet_from_arguments() {
        assert_eq!(specs(&args(3, None)).unwrap().len(), 3);
        let many = specs(&args(14, None)).unwrap();
        assert_eq!(many.len(), 14);
        assert!(matches!(many[13].behaviour, Behaviour::Honest { .. }));
        let listed = specs(&args(1, Some("offline,lying_hash"))).unwrap();
        assert_eq!(listed[1].behaviour, Behaviour::LyingHash);
        assert!(specs(&args(1, Some("dragon"))).is_err());
        assert!(specs(&args(0, None)).is_err());
        assert_eq!(
            gfs_init(Some("2026-11-28")).unwrap().to_rfc3339(),
            "2026-11-28T00:00:00+00:00"
        );
        assert!(gfs_init(Some("soon")).is_err());
        for t in ["fiber", "fiber_only", "plain"] {
            let a = SimMinersArgs {
                transport: t.into(),
                ..args(1, None)
            };
            assert_eq!(a.transport.parse::<Transport>().unwrap().to_string(), t);
        }
        assert!("smoke-signals".parse::<Transport>().is_err());
        assert_eq!(gfs_init(None).unwrap().time(), chrono::NaiveTime::MIN);
    }
}
