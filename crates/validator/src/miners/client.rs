//! The validator's client for the miners' weather endpoints (spec §1.3, miner-protocol.md §7),
//! over a replaceable transport. [`PlainJsonTransport`] posts `{"data": ..., "nonce": null}` as
//! plain JSON (simulated miners, local tests); the fiber-encrypted transport of real miners plugs
//! in behind the same [`MinerTransport`] trait. Everything a miner answers is hostile: answers
//! are bounded in size and time and parsed into types whose every field may be missing.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::url_policy::{MinerAddress, UrlPolicy, UrlRefusal};
use crate::telemetry::calls::CallFamily;

/// Largest answer accepted from a miner endpoint.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Timeout of `/weather-initiate-fetch`.
pub const INITIATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of `/weather-poll-job-status`.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout of `/weather-kerchunk-request`.
pub const KERCHUNK_TIMEOUT: Duration = Duration::from_secs(45);

/// Why a call to a miner failed.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The address or a returned URL is refused by the SSRF policy.
    #[error("refused: {0}")]
    Refused(#[from] UrlRefusal),
    /// No answer in time.
    #[error("{endpoint}: no answer within {timeout:?}")]
    Timeout {
        /// Endpoint path.
        endpoint: String,
        /// The limit.
        timeout: Duration,
    },
    /// Connection or protocol failure.
    #[error("{endpoint}: transport error: {reason}")]
    Transport {
        /// Endpoint path.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// A non-success HTTP status.
    #[error("{endpoint}: HTTP {status}: {detail}")]
    Status {
        /// Endpoint path.
        endpoint: String,
        /// Status code.
        status: u16,
        /// The miner's text (its `detail` or `error` field, truncated).
        detail: String,
    },
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    #[error("{endpoint}: answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge {
        /// Endpoint path.
        endpoint: String,
    },
    /// The answer is not the JSON the endpoint returns.
    #[error("{endpoint}: malformed answer: {reason}")]
    Malformed {
        /// Endpoint path.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// A `completed` answer lacks the URL, hash or token.
    #[error("miner answered completed without {0}")]
    Incomplete(&'static str),
}

impl MinerError {
    /// The failure class, for metrics: `refused`, `timeout`, `transport`, `http`, `too_large`,
    /// `malformed` or `incomplete`.
    pub fn kind(&self) -> &'static str {
        match self {
            MinerError::Refused(_) => "refused",
            MinerError::Timeout { .. } => "timeout",
            MinerError::Transport { .. } => "transport",
            MinerError::Status { .. } => "http",
            MinerError::TooLarge { .. } => "too_large",
            MinerError::Malformed { .. } => "malformed",
            MinerError::Incomplete(_) => "incomplete",
        }
    }
}

/// The boxed future a transport returns.
pub type TransportFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, MinerError>> + Send + 'a>>;

/// How requests reach a miner.
pub trait MinerTransport: Send + Sync {
    /// POST `data` to `endpoint` of `miner` and return the JSON answer.
    fn post<'a>(
        &'a self,
        miner: &'a MinerAddress,
        endpoint: &'a str,
        data: Value,
        timeout: Duration,
    ) -> TransportFuture<'a>;
}

/// A shared transport is a transport (the lifecycle holds `Arc<dyn MinerTransport>`).
impl<T: MinerTransport + ?Sized> MinerTransport for std::sync::Arc<T> {
    fn post<'a>(
        &'a self,
        miner: &'a MinerAddress,
        endpoint: &'a str,
        data: Value,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        (**self).post(miner, endpoint, data, timeout)
    }
}

/// Plain JSON over HTTP: the local transport of simulated miners.
#[derive(Debug, Clone)]
pub struct PlainJsonTransport {
    http: reqwest::Client,
}

impl PlainJsonTransport {
    /// A transport with its own connection pool (no proxies, no redirects).
    pub fn new() -> Result<Self, MinerError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| MinerError::Transport {
                endpoint: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self { http })
    }
}

async fn read_bounded(
    endpoint: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, MinerError> {
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| MinerError::Transport {
            endpoint: endpoint.into(),
            reason: e.to_string(),
        })?;
        let Some(chunk) = chunk else { return Ok(body) };
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(MinerError::TooLarge {
                endpoint: endpoint.into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
}

impl MinerTransport for PlainJsonTransport {
    fn post<'a>(
        &'a self,
        miner: &'a MinerAddress,
        endpoint: &'a str,
        data: Value,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        Box::pin(async move {
            let url = format!("{}{endpoint}", miner.base_url());
            let call = async {
                let response = self
                    .http
                    .post(&url)
                    .json(&json!({ "data": data, "nonce": null }))
                    .send()
                    .await
                    .map_err(|e| MinerError::Transport {
                        endpoint: endpoint.into(),
                        reason: e.to_string(),
                    })?;
                let status = response.status();
                if !status.is_success() {
                    let body = read_bounded(endpoint, response).await.unwrap_or_default();
                    return Err(MinerError::Status {
                        endpoint: endpoint.into(),
                        status: status.as_u16(),
                        detail: crate::miners::fiber::detail_of(&body),
                    });
                }
                let body = read_bounded(endpoint, response).await?;
                serde_json::from_slice(&body).map_err(|e| MinerError::Malformed {
                    endpoint: endpoint.into(),
                    reason: e.to_string(),
                })
            };
            tokio::time::timeout(timeout, call)
                .await
                .map_err(|_| MinerError::Timeout {
                    endpoint: endpoint.into(),
                    timeout,
                })?
        })
    }
}

/// Answer of `/weather-initiate-fetch` (every key optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct InitiateFetchAnswer {
    /// `fetch_accepted`, `fetch_rejected`, `completed`, `error`, ...
    pub status: Option<String>,
    /// The miner's job id.
    pub job_id: Option<String>,
    /// Free text.
    pub message: Option<String>,
    /// Fast path: relative store URL.
    pub zarr_store_url: Option<String>,
    /// Fast path: manifest hash.
    pub verification_hash: Option<String>,
    /// Fast path: JWT.
    pub access_token: Option<String>,
}

/// Answer of `/weather-poll-job-status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PollAnswer {
    /// `processing`, `running`, `completed`, `fetch_error`, `not_found`, ...
    pub status: Option<String>,
    /// Echoed job id.
    pub job_id: Option<String>,
    /// Free text.
    pub message: Option<String>,
}

/// Answer of `/weather-kerchunk-request`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct KerchunkAnswer {
    /// `completed`, `processing`, `error`, `not_found`.
    pub status: Option<String>,
    /// Free text.
    pub message: Option<String>,
    /// Relative store URL.
    pub zarr_store_url: Option<String>,
    /// Claimed SHA-256 of `manifest.json`.
    pub verification_hash: Option<String>,
    /// JWT for `/forecasts/`.
    pub access_token: Option<String>,
}

/// Where to read a finished forecast, checked against the URL policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// Absolute URL on the miner's own address.
    pub url: String,
    /// Bearer token.
    pub token: String,
    /// The hash the miner claims for its manifest.
    pub claimed_hash: String,
}

fn parse<T: for<'de> Deserialize<'de>>(endpoint: &str, v: Value) -> Result<T, MinerError> {
    serde_json::from_value(v).map_err(|e| MinerError::Malformed {
        endpoint: endpoint.into(),
        reason: e.to_string(),
    })
}

/// Python's `isoformat()` of a tz-aware UTC datetime: `2025-11-26T00:00:00+00:00`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// The weather endpoints over some transport, under a URL policy.
pub struct MinerClient<T: MinerTransport> {
    transport: T,
    policy: UrlPolicy,
    metrics: Option<CallFamily>,
}

impl<T: MinerTransport> MinerClient<T> {
    /// A client.
    pub fn new(transport: T, policy: UrlPolicy) -> Self {
        Self {
            transport,
            policy,
            metrics: None,
        }
    }

    /// Count every call's outcome and latency in `metrics` (by endpoint).
    pub fn with_metrics(mut self, metrics: CallFamily) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Ask a miner to start its forecast for `gfs_init`.
    pub async fn initiate_fetch(
        &self,
        miner: &MinerAddress,
        gfs_init: DateTime<Utc>,
        validator_hotkey: &str,
        miner_hotkey: &str,
    ) -> Result<InitiateFetchAnswer, MinerError> {
        let data = json!({
            "forecast_start_time": iso(gfs_init),
            "previous_step_time": iso(gfs_init - chrono::Duration::hours(6)),
            "validator_hotkey": validator_hotkey,
            "expected_miner_hotkey": miner_hotkey,
        });
        self.call(miner, "/weather-initiate-fetch", data, INITIATE_TIMEOUT)
            .await
    }

    /// Poll a job.
    pub async fn poll(&self, miner: &MinerAddress, job_id: &str) -> Result<PollAnswer, MinerError> {
        let data = json!({ "job_id": job_id });
        self.call(miner, "/weather-poll-job-status", data, POLL_TIMEOUT)
            .await
    }

    /// Ask for the store URL, claimed hash and a fresh token of a finished job.
    pub async fn kerchunk(
        &self,
        miner: &MinerAddress,
        job_id: &str,
    ) -> Result<KerchunkAnswer, MinerError> {
        let data = json!({ "job_id": job_id });
        self.call(miner, "/weather-kerchunk-request", data, KERCHUNK_TIMEOUT)
            .await
    }

    /// Policy check, transport call and typed parse of one endpoint.
    async fn call<A: for<'de> Deserialize<'de>>(
        &self,
        miner: &MinerAddress,
        endpoint: &str,
        data: Value,
        timeout: Duration,
    ) -> Result<A, MinerError> {
        let started = std::time::Instant::now();
        let result = match self.policy.check_miner(miner) {
            Ok(()) => match self.transport.post(miner, endpoint, data, timeout).await {
                Ok(answer) => parse(endpoint, answer),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        };
        if let Some(metrics) = &self.metrics {
            let outcome = result.as_ref().map_or_else(MinerError::kind, |_| "ok");
            metrics.observe(endpoint, outcome, started.elapsed().as_secs_f64());
        }
        result
    }

    /// The checked store location of a `completed` kerchunk answer.
    pub fn store_location(
        &self,
        miner: &MinerAddress,
        answer: &KerchunkAnswer,
    ) -> Result<StoreLocation, MinerError> {
        let url = answer
            .zarr_store_url
            .as_deref()
            .ok_or(MinerError::Incomplete("zarr_store_url"))?;
        let claimed_hash = answer
            .verification_hash
            .clone()
            .ok_or(MinerError::Incomplete("verification_hash"))?;
        let token = answer
            .access_token
            .clone()
            .ok_or(MinerError::Incomplete("access_token"))?;
        let valid_hash =
            claimed_hash.len() == 64 && claimed_hash.chars().all(|c| c.is_ascii_hexdigit());
        if !valid_hash {
            return Err(MinerError::Malformed {
                endpoint: "/weather-kerchunk-request".into(),
                reason: "verification_hash is not 64 hex digits".into(),
            });
        }
        Ok(StoreLocation {
            url: self.policy.resolve_store_url(miner, url)?,
            token,
            claimed_hash,
        })
    }
}
