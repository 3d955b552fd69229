//! The soak's simulated world and fleet: truth stores for every simulated day (one set per GFS
//! cycle, named by the cycle so the validator's `{init}` templates find them), one climatology
//! covering every day of year a run scores, a behaviour mix for `N` miners, and the settings of a
//! validator that runs the daily cycle on a scaled business clock against them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use gaia_miner_sim::world::stores::{run_days_of_year, write_climatology};
use gaia_miner_sim::{write_world, Behaviour, Fleet, FleetConfig, MinerSpec, World, WorldConfig};
use gaia_validator::chain::MetagraphNode;

/// The behaviours the fleet cycles through: honest miners of three skills (most of the fleet),
/// then one of each misbehaviour whose outcome does not depend on timing (a rate-limited miner's
/// outcome would, and the calm and chaos runs must see the same fleet). The slow store answers
/// every read 100 ms late: slow, yet well inside the download deadline, so it is scored.
const MIX: [Behaviour; 13] = [
    Behaviour::Honest { skill: 0.9 },
    Behaviour::Honest { skill: 0.75 },
    Behaviour::Honest { skill: 0.5 },
    SLOW_STORE,
    Behaviour::Slow { polls: 2 },
    Behaviour::Honest { skill: 0.8 },
    Behaviour::Offline,
    Behaviour::GfsCloner,
    Behaviour::Honest { skill: 0.6 },
    Behaviour::LyingHash,
    Behaviour::ChunkSwapper,
    Behaviour::NanInjector,
    Behaviour::ReferenceLayout { skill: 0.7 },
];

/// The slow miner of the mix (uid 3 of every 13).
pub const SLOW_STORE: Behaviour = Behaviour::SlowStore { delay_ms: 100 };

/// `n` miners (uids 0 … n−1) cycling through the behaviour mix.
pub fn fleet_specs(n: u16) -> Vec<MinerSpec> {
    (0..n)
        .map(|uid| MinerSpec {
            uid,
            behaviour: MIX[usize::from(uid) % MIX.len()],
        })
        .collect()
}

/// The GFS cycle (00Z) of simulated day `day` counted from `start`.
pub fn cycle_of(start: DateTime<Utc>, day: u32) -> DateTime<Utc> {
    let midnight = start
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    midnight + Duration::days(i64::from(day))
}

/// Write the truth of every cycle of `days` simulated days from `start` under `dir/world`;
/// returns the world and the directory.
pub fn write_truth(
    dir: &Path,
    grid_deg: f64,
    start: DateTime<Utc>,
    days: u32,
) -> anyhow::Result<(Arc<World>, PathBuf)> {
    let world = Arc::new(World::new(WorldConfig { seed: 42, grid_deg })?);
    let world_dir = dir.join("world");
    let mut doy = Vec::new();
    for day in 0..days {
        let init = cycle_of(start, day);
        write_world(&world, &world_dir, init)?;
        doy.extend(run_days_of_year(init));
    }
    doy.sort_unstable();
    doy.dedup();
    write_climatology(&world, &world_dir.join("climatology.zarr"), &doy)?;
    Ok((world, world_dir))
}

/// Start the fleet (forecasts of the first cycle built before serving; later cycles are built
/// on the first request) and write its metagraph file.
pub async fn start_fleet(
    world: Arc<World>,
    first_cycle: DateTime<Utc>,
    dir: &Path,
    miners: u16,
) -> anyhow::Result<(Fleet, PathBuf)> {
    let fleet = Fleet::start(FleetConfig::new(world, first_cycle, fleet_specs(miners))).await?;
    let nodes: Vec<MetagraphNode> = fleet
        .miners()
        .iter()
        .filter_map(|m| {
            Some(MetagraphNode {
                uid: u8::try_from(m.uid).ok()?,
                hotkey: m.hotkey.clone(),
                coldkey: format!("coldkey-{}", m.uid),
                ip: m.ip.clone(),
                port: m.port,
                stake: 1.0,
                incentive: 0.0,
                trust: 0.0,
                vtrust: 0.0,
                validator_permit: false,
            })
        })
        .collect();
    let metagraph = dir.join("metagraph.json");
    std::fs::write(&metagraph, serde_json::to_string_pretty(&nodes)?)?;
    Ok((fleet, metagraph))
}

/// Settings of a validator running the daily cycle on the scaled clock against this world.
pub fn validator_env(
    world_dir: &Path,
    metagraph: &Path,
    database_url: &str,
    miners: u16,
    scale: f64,
    start: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Vec<(String, String)> {
    let p = |name: &str| world_dir.join(name).display().to_string();
    // Network waits and compute stay in wall time while business time runs `scale` times
    // faster: at each business midnight ten ERA5 leads per miner fall due at once, and an
    // ERA5 job spends much of its ~0.4 s waiting on the miner's store. More ledger slots,
    // download slots and workers for a bigger fleet let that burst clear well inside a
    // simulated day, as an operator with many miners would configure them.
    let slots = (usize::from(miners) / 8).clamp(4, 16).to_string();
    let workers = (usize::from(miners) / 8).clamp(2, 16).to_string();
    [
        ("DATABASE_URL", database_url.to_string()),
        ("TIME_SCALE", scale.to_string()),
        ("TIME_SCALE_ALLOWED", "true".into()),
        ("TIME_SCALE_START", start.to_rfc3339()),
        ("TIME_SCALE_ANCHOR", anchor.to_rfc3339()),
        ("WEATHER__ENABLED", "true".into()),
        ("WEATHER__RUN_HOUR_UTC", "18".into()),
        ("WEATHER__RUN_MINUTE_UTC", "0".into()),
        ("WEATHER__RUN_JITTER_MINUTES", "0".into()),
        ("WEATHER__ALLOW_PRIVATE_MINER_ADDRESSES", "true".into()),
        ("WEATHER__MINER_SCHEME", "http".into()),
        // Wall-time waits: short, as in the demo.
        ("WEATHER__POLL_INTERVAL_S", "1".into()),
        ("WEATHER__QUERY_RETRY_DELAYS_S", "[1,1]".into()),
        ("WEATHER__WAIT_RETRY_S", "1".into()),
        ("WEATHER__SCORING_RETRY_DELAY_S", "2".into()),
        ("WEATHER__SCORING_TIMEOUT_S", "20".into()),
        // Below the scoring timeout (the settings check refuses it otherwise).
        ("WEATHER__MINER_DOWNLOAD_DEADLINE_S", "15".into()),
        ("WEATHER__MINER_BUSY_RETRY_S", "1".into()),
        ("NUM_COMPUTE_WORKERS", workers),
        ("WEATHER__LEDGER_WORKERS", slots.clone()),
        ("WEATHER__MAX_CONCURRENT_MINER_DOWNLOADS", slots),
        ("WEATHER__LEDGER_IDLE_POLL_MS", "100".into()),
        // Longer than the slowest step (a recompute of 20 runs × 64 miners takes ~40 s): a
        // shorter lease let a second slot take a step still running. A killed IO-Engine's
        // steps come back without waiting for it: a restarted slot claimer gets back the job
        // it held (stable claimer names, docs/lifecycle.md).
        ("WEATHER__LEDGER_LEASE_S", "120".into()),
        // Once a business day, not twice: at scale 1440 the default cron queued a recompute
        // every 30 s of wall time and, each taking longer than that, kept two of the four
        // ledger slots busy rebuilding the same rows.
        ("WEATHER__RECOMPUTE_CRON", "0 12 * * *".into()),
        ("WEATHER__MINER_REQUESTS_PER_MINUTE", "6000".into()),
        // Business time: the synthetic ERA5 is published at once; the freeze window is wide
        // enough that a chaos kill (wall seconds, business hours) never decides an outcome.
        ("WEATHER__ERA5_DELAY_DAYS", "0".into()),
        ("WEATHER__ERA5_BUFFER_HOURS", "0".into()),
        ("WEATHER__MANIFEST_FREEZE_WINDOW_HOURS", "96".into()),
        ("WEATHER__MAINTENANCE_CRON", "0 * * * *".into()),
        (
            "WEATHER__GFS_ANALYSIS_SOURCE",
            p("gfs_analysis_{init}.zarr"),
        ),
        (
            "WEATHER__GFS_FORECAST_SOURCE",
            p("gfs_forecast_{init}.zarr"),
        ),
        ("WEATHER__ERA5_SOURCE", p("era5_{init}.zarr")),
        ("WEATHER__CLIMATOLOGY_SOURCE", p("climatology.zarr")),
        ("CHAIN__METAGRAPH_FILE", metagraph.display().to_string()),
        ("CHAIN__METAGRAPH_SYNC_CRON", "0 */6 * * *".into()),
        ("CHAIN__WEIGHTS_CHECK_CRON", "0 */4 * * *".into()),
        ("CHAIN__WEIGHTS_INTERVAL_BLOCKS", "100".into()),
        ("CHAIN__WEIGHTS_MODE", "on".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_cycles_and_cycles_are_midnights() {
        let specs = fleet_specs(26);
        assert_eq!(specs.len(), 26);
        assert_eq!(specs[13].behaviour, specs[0].behaviour);
        assert_eq!(specs[3].behaviour, SLOW_STORE);
        assert!(matches!(specs[6].behaviour, Behaviour::Offline));
        let start: DateTime<Utc> = "2026-01-01T17:50:00Z".parse().unwrap();
        assert_eq!(
            cycle_of(start, 2),
            "2026-01-03T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let env = validator_env(
            Path::new("/w"),
            Path::new("/m.json"),
            "sqlite://x",
            64,
            100.0,
            start,
            start,
        );
        assert!(env
            .iter()
            .any(|(k, v)| k == "WEATHER__ERA5_SOURCE" && v == "/w/era5_{init}.zarr"));
        assert!(env
            .iter()
            .any(|(k, v)| k == "WEATHER__LEDGER_WORKERS" && v == "8"));
    }
}
