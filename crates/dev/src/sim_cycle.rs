//! One weather cycle against simulated miners, as `demo` and the lifecycle tests run it: a
//! synthetic world and fleet on loopback, a metagraph file listing the fleet, the run queued in
//! the database, and the compressed settings a validator needs to finish the cycle in minutes.
//!
//! The cycle's GFS init lies 11 days back and the synthetic ERA5 is available at once
//! (`WEATHER__ERA5_DELAY_DAYS=0`), so every ERA5 lead is already eligible (h + 6 h ≤ 10¼ days)
//! while the run's score row, stamped with the GFS init (spec §12-2), is still inside the 15-day
//! weights window: the real lifecycle runs unchanged, only the waits (poll interval, retries)
//! and the ERA5 publication delay are shortened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gaia_miner_sim::{
    write_world, Behaviour, Fleet, FleetConfig, MinerSpec, World, WorldConfig, WorldPaths,
};
use gaia_store::{ForecastStats, MinerResponse, Run, RunStatus, Store, StoreConfig};

use gaia_validator::chain::MetagraphNode;
use gaia_validator::tasks::steps::{RunPayload, Step, WeatherStep, WeightsTrigger};

/// How many days before today (00:00 UTC) the cycle's GFS init lies.
pub const GFS_INIT_DAYS_BACK: i64 = 11;

/// Why the cycle could not be set up or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SimCycleError {
    /// The simulated world or fleet failed.
    #[error("simulation: {0}")]
    Sim(#[from] gaia_miner_sim::SimError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] gaia_store::StoreError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The cycle did not complete in time.
    #[error("the cycle did not complete within {0:?}: {1}")]
    Timeout(Duration, String),
}

/// A prepared cycle: world, running fleet, metagraph file, queued run.
pub struct SimCycle {
    /// Running miners.
    pub fleet: Fleet,
    /// The truth stores.
    pub world: WorldPaths,
    /// The cycle.
    pub gfs_init: DateTime<Utc>,
    /// The metagraph file.
    pub metagraph: PathBuf,
    /// The database URL.
    pub database_url: String,
}

/// The default demo fleet minus the unit-confused miner: nine miners, one per behaviour.
pub fn demo_specs() -> Vec<MinerSpec> {
    gaia_miner_sim::demo_fleet()
        .into_iter()
        .filter(|m| !matches!(m.behaviour, Behaviour::WrongUnits))
        .collect()
}

impl SimCycle {
    /// [`SimCycle::start`], then [`SimCycle::queue_run`].
    pub async fn prepare(
        dir: &Path,
        database_url: &str,
        grid_deg: f64,
        miners: Vec<MinerSpec>,
    ) -> Result<SimCycle, SimCycleError> {
        let cycle = Self::start(dir, database_url, grid_deg, miners).await?;
        cycle.queue_run().await?;
        Ok(cycle)
    }

    /// Write the world under `dir`, start the fleet and write the metagraph file; the database
    /// at `database_url` is only recorded.
    pub async fn start(
        dir: &Path,
        database_url: &str,
        grid_deg: f64,
        miners: Vec<MinerSpec>,
    ) -> Result<SimCycle, SimCycleError> {
        let today = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default();
        let gfs_init = today.and_utc() - chrono::Duration::days(GFS_INIT_DAYS_BACK);
        let world = Arc::new(World::new(WorldConfig { seed: 42, grid_deg })?);
        let world_dir = dir.join("world");
        let w = world.clone();
        let wd = world_dir.clone();
        let paths = tokio::task::spawn_blocking(move || write_world(&w, &wd, gfs_init))
            .await
            .map_err(|e| SimCycleError::Timeout(Duration::ZERO, e.to_string()))??;
        let fleet = Fleet::start(FleetConfig::new(world, gfs_init, miners)).await?;
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
        let text = serde_json::to_string_pretty(&nodes).unwrap_or_default();
        std::fs::write(&metagraph, text).map_err(|source| SimCycleError::Io {
            path: metagraph.clone(),
            source,
        })?;
        Ok(SimCycle {
            fleet,
            world: paths,
            gfs_init,
            metagraph,
            database_url: database_url.to_string(),
        })
    }

    /// Queue the cycle's run in the database (migrated here).
    pub async fn queue_run(&self) -> Result<(), SimCycleError> {
        let gfs_init = self.gfs_init;
        let store = Store::open(&StoreConfig::new(self.database_url.as_str())).await?;
        store
            .enqueue_job(
                &WeatherStep::Run(RunPayload { gfs_init })
                    .step()
                    .new_job(5, Utc::now()),
                Utc::now(),
            )
            .await?;
        store.close().await;
        Ok(())
    }

    /// Settings (environment) of a validator that runs this cycle quickly.
    pub fn validator_env(&self) -> Vec<(String, String)> {
        let p = |p: &Path| p.display().to_string();
        [
            ("DATABASE_URL", self.database_url.clone()),
            ("WEATHER__ENABLED", "false".into()),
            ("WEATHER__ALLOW_PRIVATE_MINER_ADDRESSES", "true".into()),
            ("WEATHER__MINER_SCHEME", "http".into()),
            ("WEATHER__POLL_INTERVAL_S", "1".into()),
            ("WEATHER__QUERY_RETRY_DELAYS_S", "[1,1]".into()),
            ("WEATHER__WAIT_RETRY_S", "1".into()),
            ("WEATHER__SCORING_RETRY_DELAY_S", "2".into()),
            ("WEATHER__SCORING_TIMEOUT_S", "600".into()),
            ("WEATHER__MINER_DOWNLOAD_DEADLINE_S", "300".into()),
            ("WEATHER__MINER_BUSY_RETRY_S", "1".into()),
            ("WEATHER__LEDGER_IDLE_POLL_MS", "100".into()),
            ("WEATHER__ERA5_DELAY_DAYS", "0".into()),
            // Simulated miners on loopback do not rate-limit (except `rate_limited`, whose tests
            // set their own budget): no need to pace the reads as for production's 500/min.
            ("WEATHER__MINER_REQUESTS_PER_MINUTE", "6000".into()),
            ("WEATHER__GFS_ANALYSIS_SOURCE", p(&self.world.gfs_analysis)),
            ("WEATHER__GFS_FORECAST_SOURCE", p(&self.world.gfs_forecast)),
            ("WEATHER__ERA5_SOURCE", p(&self.world.era5)),
            ("WEATHER__CLIMATOLOGY_SOURCE", p(&self.world.climatology)),
            ("CHAIN__METAGRAPH_FILE", p(&self.metagraph)),
            ("CHAIN__WEIGHTS_INTERVAL_BLOCKS", "1000000".into()),
            // The offline chain sends nothing anyway; `on` records the vector as set.
            ("CHAIN__WEIGHTS_MODE", "on".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Wait until the run is completed and its weights are recorded; returns the run.
    pub async fn wait_done(&self, store: &Store, timeout: Duration) -> Result<Run, SimCycleError> {
        let start = std::time::Instant::now();
        let mut last = String::from("run not created yet");
        while start.elapsed() < timeout {
            let runs = store
                .list_runs_since(self.gfs_init - chrono::Duration::days(1))
                .await?;
            if let Some(run) = runs
                .into_iter()
                .find(|r| r.gfs_init_time_utc == self.gfs_init)
            {
                let key = Step::SetWeights(WeightsTrigger::run_completed(run.id)).key();
                let weights = store
                    .weight_history_since(self.gfs_init)
                    .await?
                    .into_iter()
                    .any(|w| w.attempt_key == key);
                if run.status == RunStatus::Completed && weights {
                    return Ok(run);
                }
                let open = store
                    .list_responses(run.id)
                    .await?
                    .iter()
                    .filter(|r| {
                        !gaia_validator::tasks::weather::lifecycle::SETTLED.contains(&r.status)
                    })
                    .map(|r| format!("{}:{}", r.miner_uid, r.status))
                    .collect::<Vec<_>>();
                last = format!(
                    "run {} is {}; open: {open:?}; weights: {weights}",
                    run.id, run.status
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(SimCycleError::Timeout(timeout, last))
    }
}

/// One miner's line of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerRow {
    /// uid.
    pub uid: u8,
    /// Behaviour name.
    pub behaviour: String,
    /// Final response status.
    pub status: String,
    /// Day-1 score.
    pub day1: Option<f64>,
    /// ERA5 score per lead (24 … 240 h).
    pub era5: [Option<f64>; 10],
    /// Overall score.
    pub overall: Option<f64>,
    /// Weight (last recorded vector).
    pub weight: Option<f64>,
}

/// The per-miner summary of a run from the database.
pub async fn summary(
    store: &Store,
    run: &Run,
    behaviours: &[(u8, String)],
) -> Result<Vec<MinerRow>, SimCycleError> {
    let responses: Vec<MinerResponse> = store.list_responses(run.id).await?;
    let stats: Vec<ForecastStats> = store.list_forecast_stats(run.id).await?;
    let weights = store
        .weight_history_since(run.run_initiation_time - chrono::Duration::days(1))
        .await?;
    let last = weights.last();
    Ok(responses
        .iter()
        .map(|r| {
            let st = stats.iter().find(|s| s.miner_uid == r.miner_uid);
            MinerRow {
                uid: r.miner_uid,
                behaviour: behaviours
                    .iter()
                    .find(|(u, _)| *u == r.miner_uid)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
                status: r.status.to_string(),
                day1: st.and_then(|s| s.forecast_score_initial),
                era5: st.map(|s| s.era5_by_lead()).unwrap_or([None; 10]),
                overall: st.and_then(|s| s.overall_forecast_score),
                weight: last.and_then(|w| w.weights.get(r.miner_uid)),
            }
        })
        .collect())
}

/// The summary as a text table.
pub fn render(rows: &[MinerRow]) -> String {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
    let mut out = format!(
        "{:>3} {:<14} {:<20} {:>6} {:<59} {:>7} {:>7}\n",
        "uid", "behaviour", "status", "day1", "era5 24h…240h", "overall", "weight"
    );
    for r in rows {
        let era5: Vec<String> = r
            .era5
            .iter()
            .map(|v| v.map_or("  -  ".to_string(), |x| format!("{x:.3}")))
            .collect();
        out.push_str(&format!(
            "{:>3} {:<14} {:<20} {:>6} {:<59} {:>7} {:>7}\n",
            r.uid,
            r.behaviour,
            r.status,
            f(r.day1),
            era5.join(" "),
            f(r.overall),
            f(r.weight)
        ));
    }
    out
}
