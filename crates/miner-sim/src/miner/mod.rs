//! One simulated miner's state and endpoint logic, independent of the transport: job registry
//! keyed by the deterministic job id, forecast stores per GFS cycle (their manifest computed in
//! the background on first request, their bytes served from memory by [`crate::served`]), poll
//! statuses per behaviour, access tokens and `/forecasts/` file access with the token's path
//! confinement. [`crate::server`] puts it behind plain-JSON HTTP.

pub mod files;
pub mod protocol;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use gaia_protocol::{weather_job_id, Signer};

use crate::behaviour::Behaviour;
use crate::forecast::ForecastPlan;
use crate::keys::{dev_jwt_secret, dev_signer};
use crate::served::ServedForecast;
use crate::world::World;
use crate::{jwt, SimError};
use protocol::{
    InitiateFetchData, InitiateFetchResponse, KerchunkResponse, PollResponse, Rejection,
};

/// Default access-token lifetime (`WEATHER_ACCESS_TOKEN_EXPIRE_MINUTES` = 120).
pub const DEFAULT_TOKEN_TTL_MINUTES: i64 = 120;
/// Stores whose metadata and manifest bytes a miner keeps cached (its most recently used).
pub const CACHED_STORES: usize = 2;

/// Settings of one simulated miner.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// The miner's uid (also selects its development keys).
    pub uid: u16,
    /// What it does.
    pub behaviour: Behaviour,
    /// The world its forecasts come from.
    pub world: Arc<World>,
    /// Access-token lifetime.
    pub token_ttl: TimeDelta,
    /// When set, only these validator hotkeys may call the POST endpoints (403 otherwise).
    pub allowed_validators: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
enum ForecastState {
    Building,
    Ready(Arc<ServedForecast>),
    Failed(String),
}

#[derive(Debug)]
struct Job {
    gfs_init: DateTime<Utc>,
    polls: u32,
}

#[derive(Debug, Default)]
struct State {
    forecasts: HashMap<DateTime<Utc>, ForecastState>,
    jobs: HashMap<String, Job>,
}

/// One simulated miner.
pub struct MinerCore {
    config: MinerConfig,
    signer: Signer,
    hotkey: String,
    jwt_secret: Vec<u8>,
    state: Mutex<State>,
    ticks: AtomicU64,
}

impl std::fmt::Debug for MinerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinerCore")
            .field("uid", &self.config.uid)
            .field("hotkey", &self.hotkey)
            .field("behaviour", &self.config.behaviour)
            .finish()
    }
}

/// Parse an ISO 8601 time as the Python miner does (naive = UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, Rejection> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(n.and_utc());
        }
    }
    Err(Rejection::Invalid(format!(
        "`{t}` is not an ISO 8601 datetime"
    )))
}

impl MinerCore {
    /// Create the miner (keys from its uid); nothing is built yet.
    pub fn new(config: MinerConfig) -> Result<Arc<Self>, SimError> {
        let signer = dev_signer(config.uid)?;
        let hotkey = signer.ss58();
        Ok(Arc::new(Self {
            jwt_secret: dev_jwt_secret(config.uid),
            config,
            signer,
            hotkey,
            state: Mutex::new(State::default()),
            ticks: AtomicU64::new(0),
        }))
    }

    /// The miner's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// The miner's settings.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// The HS256 secret of its access tokens (tests forge expired tokens with it).
    pub fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Build the forecast for `gfs_init` now (blocking) unless it exists; returns the store.
    pub fn prepare(&self, gfs_init: DateTime<Utc>) -> Result<Arc<ServedForecast>, SimError> {
        if let Some(ForecastState::Ready(r)) = self.lock().forecasts.get(&gfs_init) {
            return Ok(r.clone());
        }
        self.lock()
            .forecasts
            .insert(gfs_init, ForecastState::Building);
        self.build_now(gfs_init)
    }

    fn build_now(&self, gfs_init: DateTime<Utc>) -> Result<Arc<ServedForecast>, SimError> {
        let plan = ForecastPlan::new(
            self.config.uid,
            &self.hotkey,
            self.config.behaviour,
            gfs_init,
        );
        let built = ServedForecast::build(Arc::clone(&self.config.world), plan, &self.signer);
        let mut st = self.lock();
        match built {
            Ok(store) => {
                let r = Arc::new(store);
                st.forecasts
                    .insert(gfs_init, ForecastState::Ready(r.clone()));
                drop(st);
                self.used(&r);
                Ok(r)
            }
            Err(e) => {
                st.forecasts
                    .insert(gfs_init, ForecastState::Failed(e.to_string()));
                Err(e)
            }
        }
    }

    /// Start building `gfs_init`'s forecast in the background if nobody has (needs a tokio
    /// runtime).
    fn ensure_building(self: &Arc<Self>, gfs_init: DateTime<Utc>) {
        let mut st = self.lock();
        if st.forecasts.contains_key(&gfs_init) {
            return;
        }
        st.forecasts.insert(gfs_init, ForecastState::Building);
        drop(st);
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = me.build_now(gfs_init) {
                tracing::warn!(uid = me.config.uid, error = %e, "forecast build failed");
            }
        });
    }

    fn validator_allowed(&self, hotkey: Option<&str>) -> Result<(), Rejection> {
        match (&self.config.allowed_validators, hotkey) {
            (None, _) => Ok(()),
            (Some(list), Some(h)) if list.iter().any(|a| a == h) => Ok(()),
            _ => Err(Rejection::Forbidden("Hotkey not found in metagraph".into())),
        }
    }

    /// The job's forecast if the job has completed (ready and past the slow polls).
    fn completed(&self, st: &State, job: &Job) -> Option<Arc<ServedForecast>> {
        match st.forecasts.get(&job.gfs_init) {
            Some(ForecastState::Ready(r))
                if job.polls >= self.config.behaviour.processing_polls() =>
            {
                Some(r.clone())
            }
            _ => None,
        }
    }

    fn grant(&self, r: &ServedForecast) -> Result<(String, String, String), Rejection> {
        let expires = Utc::now() + self.config.token_ttl;
        let token = jwt::issue(&self.jwt_secret, &r.job_id, &r.dir_name, expires)
            .map_err(|e| Rejection::Internal(e.to_string()))?;
        Ok((
            format!("/forecasts/{}", r.dir_name),
            r.claimed_hash.clone(),
            token,
        ))
    }

    /// `/weather-initiate-fetch`. `header_validator` is the transport's authenticated validator
    /// hotkey, if it has one.
    pub fn initiate_fetch(
        self: &Arc<Self>,
        data: &InitiateFetchData,
        header_validator: Option<&str>,
    ) -> Result<InitiateFetchResponse, Rejection> {
        let gfs_init = parse_time(&data.forecast_start_time)?;
        parse_time(&data.previous_step_time)?;
        self.validator_allowed(header_validator.or(data.validator_hotkey.as_deref()))?;
        if let Some(expected) = data.expected_miner_hotkey.as_deref() {
            if expected != self.hotkey {
                return Ok(InitiateFetchResponse {
                    status: "fetch_rejected".into(),
                    message: Some("Miner hotkey verification failed".into()),
                    expected_hotkey: Some(expected.to_owned()),
                    actual_hotkey: Some(self.hotkey.clone()),
                    ..Default::default()
                });
            }
        }
        let job_id = weather_job_id(gfs_init, &self.hotkey);
        let mut st = self.lock();
        if let Some(job) = st.jobs.get(&job_id) {
            if let Some(r) = self.completed(&st, job) {
                drop(st);
                let (url, hash, token) = self.grant(&r)?;
                return Ok(InitiateFetchResponse {
                    status: "completed".into(),
                    job_id: Some(job_id),
                    message: Some("Forecast already completed".into()),
                    zarr_store_url: Some(url),
                    verification_hash: Some(hash),
                    access_token: Some(token),
                    ..Default::default()
                });
            }
            return Ok(InitiateFetchResponse {
                status: "fetch_accepted".into(),
                job_id: Some(job_id),
                message: Some("Job already in progress".into()),
                ..Default::default()
            });
        }
        st.jobs.insert(job_id.clone(), Job { gfs_init, polls: 0 });
        drop(st);
        self.ensure_building(gfs_init);
        Ok(InitiateFetchResponse {
            status: "fetch_accepted".into(),
            job_id: Some(job_id),
            message: Some("Fetch and inference started".into()),
            ..Default::default()
        })
    }

    /// `/weather-poll-job-status`.
    pub fn poll(&self, job_id: &str) -> Result<PollResponse, Rejection> {
        if job_id.trim().is_empty() {
            return Err(Rejection::BadRequest("Missing job_id in request".into()));
        }
        let mut st = self.lock();
        let Some(job) = st.jobs.get_mut(job_id) else {
            return Ok(PollResponse {
                status: "not_found".into(),
                job_id: job_id.to_owned(),
                message: Some("Job not found".into()),
                output_ready: None,
            });
        };
        let gfs_init = job.gfs_init;
        let polls_before = job.polls;
        job.polls = job.polls.saturating_add(1);
        let slow = polls_before < self.config.behaviour.processing_polls();
        let (status, message, ready) = match st.forecasts.get(&gfs_init) {
            Some(ForecastState::Failed(e)) => ("fetch_error", e.clone(), None),
            Some(ForecastState::Ready(_)) if !slow => {
                ("completed", "Forecast ready".into(), Some(true))
            }
            _ => ("processing", "Inference running".into(), None),
        };
        Ok(PollResponse {
            status: status.into(),
            job_id: job_id.to_owned(),
            message: Some(message),
            output_ready: ready,
        })
    }

    /// `/weather-kerchunk-request`: URL, claimed hash and a fresh token once completed.
    pub fn kerchunk(&self, job_id: &str) -> Result<KerchunkResponse, Rejection> {
        if job_id.trim().is_empty() {
            return Err(Rejection::BadRequest("Missing job_id in request".into()));
        }
        let st = self.lock();
        let Some(job) = st.jobs.get(job_id) else {
            return Ok(KerchunkResponse {
                status: "not_found".into(),
                message: Some("Job not found".into()),
                ..Default::default()
            });
        };
        if let Some(ForecastState::Failed(e)) = st.forecasts.get(&job.gfs_init) {
            return Ok(KerchunkResponse {
                status: "error".into(),
                message: Some(e.clone()),
                ..Default::default()
            });
        }
        let Some(r) = self.completed(&st, job) else {
            return Ok(KerchunkResponse {
                status: "processing".into(),
                message: Some("Forecast not ready".into()),
                ..Default::default()
            });
        };
        drop(st);
        let (url, hash, token) = self.grant(&r)?;
        Ok(KerchunkResponse {
            status: "completed".into(),
            message: Some("Forecast ready".into()),
            zarr_store_url: Some(url),
            verification_hash: Some(hash),
            access_token: Some(token),
        })
    }

    /// The ready store called `dir_name`, if any.
    pub fn store_named(&self, dir_name: &str) -> Option<Arc<ServedForecast>> {
        self.lock().forecasts.values().find_map(|f| match f {
            ForecastState::Ready(r) if r.dir_name == dir_name => Some(r.clone()),
            _ => None,
        })
    }

    /// The ready store of `gfs_init`, if built.
    pub fn store_for(&self, gfs_init: DateTime<Utc>) -> Option<Arc<ServedForecast>> {
        match self.lock().forecasts.get(&gfs_init) {
            Some(ForecastState::Ready(r)) => Some(r.clone()),
            _ => None,
        }
    }

    /// Mark `r` as just used and drop the caches of all but the [`CACHED_STORES`] most recently
    /// used stores: the miner's memory stays bounded however many cycles it has served.
    pub(crate) fn used(&self, r: &ServedForecast) {
        r.touch(self.ticks.fetch_add(1, Ordering::Relaxed) + 1);
        let mut ready: Vec<Arc<ServedForecast>> = self
            .lock()
            .forecasts
            .values()
            .filter_map(|f| match f {
                ForecastState::Ready(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        ready.sort_by_key(|r| std::cmp::Reverse(r.last_used()));
        for stale in ready.iter().skip(CACHED_STORES) {
            stale.drop_cache();
        }
    }
}
