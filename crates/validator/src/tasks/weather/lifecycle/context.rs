//! What every lifecycle step shares: the store, the compute pool, the miner client, the data
//! sources, the chain and the settings — and the small helpers the steps have in common
//! (queueing a step, dispatching to the pool, settling a miner's response).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use gaia_ipc::WorkUnit;
use gaia_store::{
    ForecastStats, ForecastStatus, MinerResponse, NewJob, NodeRecord, ResponseStatus, Run, Store,
};
use serde_json::Value;

use crate::chain::Chain;
use crate::compute::handlers::weather::VERIFICATION_FAILED_PREFIX;
use crate::config::{ChainSettings, WeatherSettings};
use crate::io_engine::{DispatchError, Dispatcher};
use crate::tasks::ledger::StepError;
use crate::tasks::weather::fiber::{parse_axon_ip, MinerDirectory};
use crate::tasks::weather::miner_client::{MinerClient, MinerTransport};
use crate::tasks::weather::sources::DataSources;
use crate::tasks::weather::url_policy::MinerAddress;
use crate::telemetry::metrics::Metrics;

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
}

/// Why a compute job did not give a result.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchFailure {
    /// The forecast failed verification (the handler said so).
    pub verification: bool,
    /// A pool problem (timeout, worker died, shutdown) rather than the handler's verdict.
    pub transient: bool,
    /// The message.
    pub message: String,
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
    /// Queue a step unless its key exists.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue(
        &self,
        key: String,
        job_type: &str,
        payload: Value,
        priority: i32,
        max_attempts: u32,
        at: DateTime<Utc>,
        run_id: Option<i64>,
    ) -> Result<(), StepError> {
        let job = NewJob {
            job_key: key,
            job_type: job_type.to_string(),
            priority,
            payload,
            max_attempts: i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX),
            scheduled_at: at,
            run_id,
        };
        self.store.enqueue_job(&job, Utc::now()).await?;
        Ok(())
    }

    /// Run `task` in the compute pool and return its result.
    pub async fn dispatch(
        &self,
        job_id: String,
        task: &str,
        payload: Value,
        timeout_s: u64,
    ) -> Result<Value, DispatchFailure> {
        let mut unit = WorkUnit::new(job_id, task, payload);
        unit.timeout_seconds = timeout_s;
        match self.dispatcher.dispatch_and_wait(unit).await {
            Ok(r) if r.success => Ok(r.result.unwrap_or(Value::Null)),
            Ok(r) => Err(handler_failure(
                r.error.as_deref().unwrap_or("no error text"),
            )),
            Err(DispatchError::Handler(r)) => Err(handler_failure(
                r.error.as_deref().unwrap_or("no error text"),
            )),
            Err(e) => Err(DispatchFailure {
                verification: false,
                transient: true,
                message: e.to_string(),
            }),
        }
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
            .list_responses(run_id)
            .await?
            .into_iter()
            .find(|r| r.miner_uid == uid)
            .ok_or_else(|| StepError::fatal(format!("run {run_id} has no response for uid {uid}")))
    }

    /// Move a response to `status` (with a reason for failures), count it, and mark the
    /// miner's stats failed when the status ends the response unsuccessfully.
    pub async fn settle(
        &self,
        response: &MinerResponse,
        status: ResponseStatus,
        reason: Option<&str>,
    ) -> Result<(), StepError> {
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

    /// The delay between checks of a waiting step.
    pub fn wait_retry(&self) -> Duration {
        Duration::seconds(i64::try_from(self.weather.wait_retry_s).unwrap_or(600))
    }
}

fn handler_failure(message: &str) -> DispatchFailure {
    DispatchFailure {
        verification: message.contains(VERIFICATION_FAILED_PREFIX),
        transient: false,
        message: message.to_string(),
    }
}
