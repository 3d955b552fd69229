//! Starting the validator's tasks inside the IO-Engine: open the store, build the miner client,
//! data sources and chain from the settings, register the lifecycle steps with the ledger
//! runner, and drive the scheduled tasks. [`TaskRuntime::shutdown`] stops claiming new steps and
//! lets running ones finish within the grace period.

use std::sync::Arc;
use std::time::Duration;

use gaia_store::{Store, StoreConfig};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::instance::{keep_instance, SharedLock, KEEP_EVERY};
use super::ledger::{LedgerRunner, RunnerConfig};
use super::metagraph::MetagraphStep;
use super::scheduled::{
    drive, MaintenanceTask, PeriodicStepTask, WeatherRunTask, WeightsCheckTask,
};
use super::steps::{Step, WeatherStep, SET_WEIGHTS, SYNC_METAGRAPH};
use super::weather::lifecycle::{DownloadSlots, WeatherContext, WeatherSteps};
use super::weights::{WeightsMode, WeightsStep};
use super::GaiaTask;
use crate::chain::offline::OfflineChain;
use crate::chain::online::{Confirmation, OnlineChain};
use crate::chain::rpc::RpcOptions;
use crate::chain::wallet::load_hotkey;
use crate::chain::Chain;
use crate::config::Settings;
use crate::io_engine::Dispatcher;
use crate::miners::client::{MinerClient, MinerTransport, PlainJsonTransport};
use crate::miners::fiber::{dev_validator_signer, FiberOptions, FiberTransport, MinerDirectory};
use crate::miners::url_policy::UrlPolicy;
use crate::telemetry::metrics::Metrics;
use crate::truth::cache::{CacheError, CacheLimits, TruthCache};
use crate::truth::gfs::{FieldSet, GfsError, GfsFetcher, GfsOptions};
use crate::truth::sources::DataSources;
use gaia_protocol::Signer;

/// Why the tasks could not start.
#[derive(Debug, thiserror::Error)]
pub enum TaskStartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] gaia_store::StoreError),
    /// The truth cache could not be set up.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The GFS OPeNDAP fetcher could not be set up.
    #[error(transparent)]
    Gfs(#[from] GfsError),
    /// The validator's key could not be loaded, or the fiber transport not built.
    #[error("validator identity: {0}")]
    Identity(String),
    /// The miner transport could not be built.
    #[error(transparent)]
    Transport(#[from] crate::miners::client::MinerError),
}

/// The running tasks.
pub struct TaskRuntime {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    store: Store,
    /// This validator is the database's only one while this is held (kept by
    /// [`keep_instance`], released at shutdown).
    instance: SharedLock,
    /// Why the instance lock was lost to another validator, once it was.
    lock_lost: watch::Receiver<Option<String>>,
}

impl TaskRuntime {
    /// Open the store and start the ledger runner and the schedules.
    pub async fn start(
        settings: &Settings,
        dispatcher: Arc<Dispatcher>,
        metrics: Arc<Metrics>,
    ) -> Result<TaskRuntime, TaskStartError> {
        let store = open_store(settings).await?;
        let instance = store.lock_instance().await?;
        let _ = dispatcher.database.set(store.clone());
        metrics.calls.set_weights_mode(&settings.chain.weights_mode);
        let chain = build_chain(settings, &store, &metrics)?;
        let signer = validator_signer(settings)?;
        let validator_hotkey = signer.ss58();
        let (client, directory) = miner_client(settings, signer)?;
        let client = client.with_metrics(metrics.calls.miner.clone());
        let (sources, truth_cache) = data_sources(settings, &metrics)?;
        let ctx = Arc::new(WeatherContext {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            client,
            sources,
            chain: chain.clone(),
            weather: settings.weather.clone(),
            chain_settings: settings.chain.clone(),
            metrics: metrics.clone(),
            validator_hotkey,
            directory,
            aggregation_locks: Default::default(),
            score_row_locks: Default::default(),
            download_slots: Arc::new(DownloadSlots::new(
                settings.weather.max_concurrent_miner_downloads,
            )),
        });
        let compare = crate::rollout::scheduled::from_settings(settings, &store, &metrics)
            .map_err(|e| TaskStartError::Identity(format!("control comparison: {e}")))?;
        let runner = ledger_runner(settings, &store, &chain, ctx, dispatcher, metrics);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(runner.run(stop_rx.clone()));
        for (task, catch_up) in schedules(settings, &store, chain, truth_cache) {
            tasks.spawn(drive(task, catch_up, stop_rx.clone()));
        }
        let instance: SharedLock = Arc::new(tokio::sync::Mutex::new(Some(instance)));
        let (lost_tx, lock_lost) = watch::channel(None);
        tasks.spawn(keep_instance(
            instance.clone(),
            store.clone(),
            KEEP_EVERY,
            stop_rx.clone(),
            lost_tx,
        ));
        if let Some(task) = compare {
            // A missed comparison is not caught up: the next one measures the same thing.
            tasks.spawn(drive(task, chrono::Duration::zero(), stop_rx.clone()));
        }
        tracing::info!(database = store.redacted_url(), "validator tasks started");
        Ok(TaskRuntime {
            stop,
            tasks,
            store,
            instance,
            lock_lost,
        })
    }

    /// Resolves, with the reason, when another validator took the database's instance lock
    /// (after the server cut this one's session); the caller then stops this validator.
    pub async fn lock_lost(&mut self) -> String {
        loop {
            if let Some(why) = self.lock_lost.borrow_and_update().clone() {
                return why;
            }
            if self.lock_lost.changed().await.is_err() {
                // The keeper ended without a loss (stopping): nothing more will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stop claiming steps; wait up to `grace` for running ones, then abort the rest.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("tasks still running after the grace period; aborting them");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        if let Some(instance) = self.instance.lock().await.take() {
            instance.release().await;
        }
        self.store.close().await;
    }
}

/// Open (and migrate) the database of `DATABASE_URL`, creating a SQLite file's directory.
async fn open_store(settings: &Settings) -> Result<Store, TaskStartError> {
    let config = StoreConfig::new(settings.resolved_database_url()).with_pool(
        settings.db_pool_min_connections,
        settings.db_pool_max_connections,
    );
    if let Some(parent) = sqlite_parent(&settings.resolved_database_url()) {
        let _ = std::fs::create_dir_all(parent);
    }
    Ok(Store::open(&config).await?)
}

/// The miner client over whichever transport the settings chose.
type SharedMinerClient = MinerClient<Arc<dyn MinerTransport>>;

/// The miner client of `WEATHER__MINER_TRANSPORT` (fiber, or plain JSON for tests), and the
/// directory the fiber transport looks miners' hotkeys up in.
fn miner_client(
    settings: &Settings,
    signer: Signer,
) -> Result<(SharedMinerClient, Option<Arc<MinerDirectory>>), TaskStartError> {
    let (transport, directory): (Arc<dyn MinerTransport>, _) =
        if settings.weather.miner_transport == "plain" {
            (Arc::new(PlainJsonTransport::new()?), None)
        } else {
            let directory = Arc::new(MinerDirectory::default());
            let fiber =
                FiberTransport::new(Arc::new(signer), directory.clone(), FiberOptions::default())
                    .map_err(|e| TaskStartError::Identity(e.to_string()))?;
            (Arc::new(fiber), Some(directory))
        };
    let policy = UrlPolicy {
        allow_private: settings.weather.allow_private_miner_addresses,
    };
    Ok((MinerClient::new(transport, policy), directory))
}

/// Truth, reference and climatology sources, with the truth cache (unless its retention is 0)
/// and the GFS OPeNDAP fetcher.
fn data_sources(
    settings: &Settings,
    metrics: &Metrics,
) -> Result<(DataSources, Option<TruthCache>), TaskStartError> {
    let w = &settings.weather;
    let mut sources = DataSources::new(w.source_templates(&settings.data_dir));
    let truth_cache = match w.truth_cache_retention_days {
        0 => None,
        _ => Some(
            TruthCache::new(
                settings.data_dir.join("truth-cache"),
                CacheLimits::default(),
            )?
            .with_metrics(metrics.calls.clone()),
        ),
    };
    if let Some(cache) = &truth_cache {
        sources = sources.with_cache(cache.clone());
    }
    sources = sources.with_gfs(
        GfsFetcher::new(
            settings.data_dir.join("truth-cache"),
            GfsOptions {
                fields: FieldSet::parse(&w.gfs_opendap_fields).map_err(GfsError::from)?,
                lead_hours: w.day1_lead_hours,
                ..GfsOptions::default()
            },
        )?
        .with_metrics(metrics.calls.clone()),
    );
    Ok((sources, truth_cache))
}

/// The ledger runner with every step kind registered: the weather lifecycle, the weight
/// setting and the metagraph sync.
fn ledger_runner(
    settings: &Settings,
    store: &Store,
    chain: &Arc<dyn Chain>,
    ctx: Arc<WeatherContext>,
    dispatcher: Arc<Dispatcher>,
    metrics: Arc<Metrics>,
) -> LedgerRunner {
    let w = &settings.weather;
    let mut runner = LedgerRunner::new(
        store.clone(),
        RunnerConfig {
            slots: w.ledger_workers,
            lease: Duration::from_secs(w.ledger_lease_s),
            idle_poll: Duration::from_millis(w.ledger_idle_poll_ms),
            reserved_prefixes: vec!["weights.".into(), "metagraph.".into()],
        },
        metrics.clone(),
    );
    WeatherSteps::register(&mut runner, ctx);
    runner.register(
        SET_WEIGHTS,
        Arc::new(WeightsStep {
            chain: chain.clone(),
            store: store.clone(),
            dispatcher,
            metrics,
            mode: WeightsMode::from_setting(&settings.chain.weights_mode),
            netuid: settings.chain.netuid,
        }),
    );
    runner.register(
        SYNC_METAGRAPH,
        Arc::new(MetagraphStep {
            chain: chain.clone(),
            store: store.clone(),
        }),
    );
    runner
}

/// The scheduled tasks with how far back each catches up a missed occurrence: the metagraph
/// sync, the weights check and maintenance always; the score-row recompute and the daily run
/// when the weather task is enabled.
fn schedules(
    settings: &Settings,
    store: &Store,
    chain: Arc<dyn Chain>,
    truth_cache: Option<TruthCache>,
) -> Vec<(Arc<dyn GaiaTask>, chrono::Duration)> {
    let w = &settings.weather;
    let hour = chrono::Duration::hours(1);
    let mut schedules: Vec<(Arc<dyn GaiaTask>, chrono::Duration)> = vec![
        (
            Arc::new(PeriodicStepTask {
                store: store.clone(),
                cron: settings.chain.metagraph_sync_cron.clone(),
                name: "metagraph",
                step: Step::SyncMetagraph,
            }),
            hour,
        ),
        (
            Arc::new(WeightsCheckTask {
                store: store.clone(),
                chain,
                cron: settings.chain.weights_check_cron.clone(),
                interval_blocks: settings.chain.weights_interval_blocks,
                mode: WeightsMode::from_setting(&settings.chain.weights_mode),
            }),
            hour,
        ),
        (
            Arc::new(MaintenanceTask {
                store: store.clone(),
                cron: w.maintenance_cron.clone(),
                retention_days: w.db_run_retention_days,
                truth_cache: truth_cache.map(|c| {
                    let days = u64::from(w.truth_cache_retention_days);
                    (c, Duration::from_secs(days * 86_400))
                }),
            }),
            hour,
        ),
    ];
    if w.enabled {
        schedules.push((
            Arc::new(PeriodicStepTask {
                store: store.clone(),
                cron: w.recompute_cron.clone(),
                name: "recompute",
                step: |o| WeatherStep::Recompute(o).step(),
            }),
            hour,
        ));
        schedules.push((
            Arc::new(WeatherRunTask {
                store: store.clone(),
                cron: format!("{} {} * * *", w.run_minute_utc, w.run_hour_utc),
                jitter_minutes: w.run_jitter_minutes,
            }),
            chrono::Duration::hours(i64::from(w.run_catch_up_hours)),
        ));
    }
    schedules
}

/// The chain of `CHAIN__MODE`: the offline chain, or a subtensor node over JSON-RPC signing with
/// `CHAIN__HOTKEY_FILE` (without one it can read the metagraph but not set weights).
fn build_chain(
    settings: &Settings,
    store: &Store,
    metrics: &Metrics,
) -> Result<Arc<dyn Chain>, TaskStartError> {
    let c = &settings.chain;
    if c.mode != "online" {
        return Ok(Arc::new(OfflineChain::new(
            c.metagraph_file.clone(),
            c.block_time_s,
            store.clone(),
        )));
    }
    let hotkey = match &c.hotkey_file {
        Some(path) => Some(
            load_hotkey(path)
                .map_err(|e| TaskStartError::Identity(e.to_string()))?
                .into_signer(),
        ),
        None => None,
    };
    let options = RpcOptions {
        timeout: Duration::from_secs(c.rpc_timeout_s),
        metrics: Some(metrics.calls.chain.clone()),
        ..RpcOptions::default()
    };
    let chain = OnlineChain::new(&c.endpoint, options, c.netuid, hotkey)
        .map_err(|e| TaskStartError::Identity(format!("chain client: {e}")))?
        .with_confirmation(Confirmation::for_block_time(c.block_time_s));
    tracing::info!(
        endpoint = chain.node().url(),
        netuid = c.netuid,
        "online chain"
    );
    Ok(Arc::new(chain))
}

/// The key that signs fiber requests: the hotkey file of `CHAIN__HOTKEY_FILE` (checked against
/// its SS58 address), or the public development key (with a warning) when none is configured.
fn validator_signer(settings: &Settings) -> Result<Signer, TaskStartError> {
    match &settings.chain.hotkey_file {
        Some(path) => load_hotkey(path)
            .map(|h| h.into_signer())
            .map_err(|e| TaskStartError::Identity(e.to_string())),
        None => {
            tracing::warn!("no CHAIN__HOTKEY_FILE: signing with the public development key");
            Ok(dev_validator_signer())
        }
    }
}

/// The directory of a `sqlite://` database file, to create before opening it.
fn sqlite_parent(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    std::path::Path::new(path).parent().map(|p| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/chain/wallets")
            .join(rel)
    }

    #[test]
    fn the_validator_signs_with_its_hotkey_file_or_the_dev_key() {
        let mut settings = Settings::default();
        assert_eq!(
            validator_signer(&settings).unwrap().ss58(),
            dev_validator_signer().ss58()
        );
        settings.chain.hotkey_file = Some(fixture("gaia/hotkeys/default"));
        assert_eq!(
            validator_signer(&settings).unwrap().ss58(),
            "5GbhzqYzcsTqzNv73GJo77Tm3UwFqzqcg1FnD2Xg1wWYwdmr"
        );
        settings.chain.hotkey_file = Some(fixture("no/such/hotkey"));
        let err = validator_signer(&settings).err().unwrap().to_string();
        assert!(
            err.contains("validator identity") && err.contains("no/such/hotkey"),
            "{err}"
        );
        assert_eq!(
            sqlite_parent("sqlite:///tmp/x/gaia.db?mode=rwc"),
            Some(std::path::PathBuf::from("/tmp/x"))
        );
        assert_eq!(sqlite_parent("postgres://h/db"), None);
    }
}
