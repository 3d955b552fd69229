//! What every lifecycle step shares: the store, the compute pool, the miner client, the data
//! sources, the chain and the settings — and the small helpers the steps have in common
//! (queueing a step, dispatching to the pool, settling a miner's response).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use gaia_store::{
    ForecastStats, ForecastStatus, MinerResponse, NodeRecord, ResponseState, ResponseStatus, Run,
    Store,
};

use crate::chain::Chain;
use crate::config::{ChainSettings, WeatherSettings};
use crate::io_engine::{ComputeFailure, Dispatcher};
use crate::jobs::ComputeJob;
use crate::miners::client::{MinerClient, MinerTransport};
use crate::miners::fiber::{parse_axon_ip, MinerDirectory};
use crate::miners::url_policy::MinerAddress;
use crate::tasks::ledger::{StepError, StepOutcome};
use crate::tasks::steps::WeatherStep;
use crate::telemetry::metrics::Metrics;
use crate::truth::sources::DataSources;

/// Everything the weather steps use.
pub struct WeatherContext {
    /// The database.
    pub store: Store,
    /// The compute pool.
    pub dispatcher: Arc<Dispatcher>,
    /// Miner endpoints under the URL policy.
    pub client: MinerClient<Arc<dyn MinerTransport>>,
    /// Truth, reference and climatology.
    pub sources: DataSources,
    /// Metagraph and weights.
    pub chain: Arc<dyn Chain>,
    /// `WEATHER__*`.
    pub weather: WeatherSettings,
    /// `CHAIN__*`.
    pub chain_settings: ChainSettings,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This validator's hotkey (SS58), sent in initiate-fetch.
    pub validator_hotkey: String,
    /// Where the fiber transport looks up the hotkey of the miner it signs for.
    pub directory: Option<Arc<MinerDirectory>>,
    /// One response's aggregations run one at a time (striped by response id).
    pub aggregation_locks: Arc<StripedLocks>,
    /// One run's score-row rebuilds run one at a time (striped by run id).
    pub score_row_locks: Arc<StripedLocks>,
    /// Who may read a miner's store now (one step per miner, a few over all miners).
    pub download_slots: Arc<DownloadSlots>,
}

/// Reading miners' stores politely (issue "real miners"): production miners allow 500 requests
/// a minute per client, and the reader keeps each opened store under its own budget
/// (`zarr::polite`), so one scoring step per miner at a time keeps the validator under the
/// miner's limit however many leads are due (catch-up after downtime); a semaphore caps the
/// downloads over all miners. A step that finds either busy yields its ledger slot
/// ([`StepOutcome::Yield`]) instead of waiting in it (issue 15 point 3).
#[derive(Debug)]
pub struct DownloadSlots {
    per_miner: [tokio::sync::Mutex<()>; 256],
    all: tokio::sync::Semaphore,
}

impl DownloadSlots {
    /// Slots for at most `concurrent` downloads at once.
    pub fn new(concurrent: usize) -> Self {
        Self {
            per_miner: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            all: tokio::sync::Semaphore::new(concurrent.max(1)),
        }
    }

    /// Miner `uid`'s turn and a download slot if both are free now; otherwise why not. A
    /// scoring step that gets `Err` yields its ledger slot instead of holding it while it
    /// waits (issue 15 point 3: a slow miner's other leads must not fill the ledger).
    pub fn try_acquire(&self, uid: u8) -> Result<DownloadTurn<'_>, &'static str> {
        let miner = self.per_miner[usize::from(uid)]
            .try_lock()
            .map_err(|_| "another step of this miner is reading its store")?;
        let slot = self
            .all
            .try_acquire()
            .map_err(|_| "every miner download slot is in use")?;
        Ok(DownloadTurn {
            _miner: miner,
            _slot: slot,
        })
    }
}

/// Held while a step reads a miner's store.
#[derive(Debug)]
pub struct DownloadTurn<'a> {
    _miner: tokio::sync::MutexGuard<'a, ()>,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

/// Turns for work that must not interleave per key, striped so the memory is fixed; two keys
/// rarely share a stripe and only wait for each other when they do. Two uses:
///
/// - the aggregations of one response (spec §12-1: after every lead, and the final one): ERA5
///   leads of a response may finish at the same moment, and an aggregation that read fewer
///   leads must not overwrite one that read more;
/// - the score-row rebuilds of one run: the aggregations of two miners of a run finish at the
///   same moment and each rebuilds the row from the stats it reads; without turns the rebuild
///   that read the older stats could write last and leave the row stale until the next lead.
#[derive(Debug)]
pub struct StripedLocks([tokio::sync::Mutex<()>; 64]);

impl Default for StripedLocks {
    fn default() -> Self {
        Self(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl StripedLocks {
    /// Wait for the lock of `key`'s stripe.
    pub async fn lock(&self, key: i64) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = usize::try_from(key.rem_euclid(64)).unwrap_or(0);
        self.0[stripe].lock().await
    }
}

/// Response statuses after which nothing more happens to a response.
pub const SETTLED: [ResponseStatus; 7] = [
    ResponseStatus::Completed,
    ResponseStatus::Failed,
    ResponseStatus::MinerOffline,
    ResponseStatus::VerificationFailed,
    ResponseStatus::VerificationError,
    ResponseStatus::VerificationTimeout,
    ResponseStatus::Era5ScoringFailed,
];

impl WeatherContext {
    /// Queue a step at `at` unless its key exists.
    pub async fn enqueue(
        &self,
        step: WeatherStep,
        max_attempts: u32,
        at: DateTime<Utc>,
    ) -> Result<(), StepError> {
        let job = step.step().new_job(max_attempts, at);
        self.store.enqueue_job(&job, Utc::now()).await?;
        Ok(())
    }

    /// Run compute job `J` in the pool with the scoring timeout and return its response.
    pub async fn compute<J: ComputeJob>(
        &self,
        job_id: String,
        request: &J::Request,
    ) -> Result<J::Response, ComputeFailure> {
        self.dispatcher
            .run::<J>(job_id, request, self.weather.scoring_timeout_s)
            .await
    }

    /// The miner address of a node, or why it cannot be called.
    pub fn miner_address(&self, node: &NodeRecord) -> Result<MinerAddress, String> {
        let ip: IpAddr = parse_axon_ip(&node.ip).ok_or_else(|| {
            format!(
                "node {} does not serve an axon (ip {:?})",
                node.uid, node.ip
            )
        })?;
        if node.port == 0 {
            return Err(format!("node {} does not serve an axon (port 0)", node.uid));
        }
        let address = MinerAddress {
            ip,
            port: node.port,
            scheme: if self.weather.miner_scheme == "http" {
                "http"
            } else {
                "https"
            },
        };
        if let Some(directory) = &self.directory {
            directory.set(&address, &node.hotkey);
        }
        Ok(address)
    }

    /// The run `id` (a missing run is a fatal step error).
    pub async fn run(&self, id: i64) -> Result<Run, StepError> {
        self.store
            .get_run(id)
            .await?
            .ok_or_else(|| StepError::fatal(format!("run {id} not found")))
    }

    /// The response `id` (a missing response is a fatal step error).
    pub async fn response(&self, id: i64) -> Result<MinerResponse, StepError> {
        self.store
            .get_response(id)
            .await?
            .ok_or_else(|| StepError::fatal(format!("response {id} not found")))
    }

    /// The response of `uid` in `run_id`.
    pub async fn response_of(&self, run_id: i64, uid: u8) -> Result<MinerResponse, StepError> {
        self.store
            .response_of(run_id, uid)
            .await?
            .ok_or_else(|| StepError::fatal(format!("run {run_id} has no response for uid {uid}")))
    }

    /// Move a response to `status` (with a reason for failures), count it, and mark the
    /// miner's stats failed when the status ends the response unsuccessfully.
    pub async fn settle(
        &self,
        response: impl Into<ResponseState>,
        status: ResponseStatus,
        reason: Option<&str>,
    ) -> Result<(), StepError> {
        let response: ResponseState = response.into();
        self.store
            .update_response_status(response.id, status, reason)
            .await?;
        self.metrics.pipeline.miner_outcome(status.as_str());
        if SETTLED.contains(&status) && status != ResponseStatus::Completed {
            let mut stats = ForecastStats::new(
                response.run_id,
                response.miner_uid,
                &response.miner_hotkey,
                ForecastStatus::Failed,
                Utc::now(),
            );
            stats.current_forecast_stage = Some(status.as_str().to_string());
            self.store.upsert_forecast_stats(&stats).await?;
            tracing::warn!(
                miner_uid = response.miner_uid,
                run_id = response.run_id,
                status = status.as_str(),
                reason = reason.unwrap_or(""),
                "miner response settled unsuccessfully"
            );
        }
        Ok(())
    }

    /// When ERA5 lead `lead_hours` of the cycle `gfs_init` may be scored.
    pub fn era5_eligible_at(&self, gfs_init: DateTime<Utc>, lead_hours: i32) -> DateTime<Utc> {
        gfs_init
            + Duration::hours(i64::from(lead_hours))
            + Duration::days(i64::from(self.weather.era5_delay_days))
            + Duration::hours(i64::from(self.weather.era5_buffer_hours))
    }

    /// The delay before a scoring retry.
    pub fn scoring_retry(&self) -> Duration {
        Duration::seconds(i64::try_from(self.weather.scoring_retry_delay_s).unwrap_or(1800))
    }

    /// A scoring step that found its miner's store busy: try again after
    /// `WEATHER__MINER_BUSY_RETRY_S`, without spending an attempt.
    pub fn busy(&self, what: &str) -> StepOutcome {
        let secs = i64::try_from(self.weather.miner_busy_retry_s).unwrap_or(10);
        StepOutcome::Yield {
            at: Utc::now() + Duration::seconds(secs),
            reason: what.to_owned(),
        }
    }

    /// The delay between checks of a waiting step.
    pub fn wait_retry(&self) -> Duration {
        Duration::seconds(i64::try_from(self.weather.wait_retry_s).unwrap_or(600))
    }
}

#[cfg(test)]
mod tests {
    use super::DownloadSlots;

    #[test]
    fn a_busy_miner_or_full_slots_are_named_not_waited_for() {
        let slots = DownloadSlots::new(2);
        let first = slots.try_acquire(7).expect("free");
        assert_eq!(
            slots.try_acquire(7).err(),
            Some("another step of this miner is reading its store")
        );
        let other = slots.try_acquire(8).expect("another miner");
        assert_eq!(
            slots.try_acquire(9).err(),
            Some("every miner download slot is in use")
        );
        drop(first);
        let _again = slots.try_acquire(7).expect("free again");
        drop(other);
    }
}
