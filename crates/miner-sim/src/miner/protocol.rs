//! Request and response bodies of the miner's weather endpoints (miner-protocol.md §7, spec
//! §1.3), independent of the transport: the plain-JSON server parses these from the body, the
//! fiber-encrypted transport will parse them from the decrypted plaintext. Responses serialise
//! every key, absent ones as `null` (pydantic `model_dump()`), except `output_ready` which the
//! poll handler only adds when true.

use serde::{Deserialize, Serialize};

/// The POST body shape `{"data": {...}, "nonce": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Endpoint-specific request data.
    pub data: T,
    /// Fiber's body nonce (never checked, as in the Python miner).
    #[serde(default)]
    pub nonce: Option<String>,
}

/// `data` of `/weather-initiate-fetch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitiateFetchData {
    /// GFS init T0 (ISO 8601; naive values are UTC).
    pub forecast_start_time: String,
    /// T0 − 6 h (ISO 8601).
    pub previous_step_time: String,
    /// The calling validator's SS58 hotkey.
    #[serde(default)]
    pub validator_hotkey: Option<String>,
    /// The hotkey the validator believes this miner has.
    #[serde(default)]
    pub expected_miner_hotkey: Option<String>,
}

/// `data` of `/weather-poll-job-status` and `/weather-kerchunk-request`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobIdData {
    /// The miner's job id.
    #[serde(default)]
    pub job_id: String,
}

/// Response of `/weather-initiate-fetch` (OUT `WeatherInitiateFetchResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiateFetchResponse {
    /// `fetch_accepted`, `fetch_rejected`, `completed` (fast path) or `error`.
    pub status: String,
    /// The deterministic job id.
    pub job_id: Option<String>,
    /// Human-readable detail.
    pub message: Option<String>,
    /// On hotkey mismatch: the hotkey the validator expected.
    pub expected_hotkey: Option<String>,
    /// On hotkey mismatch: this miner's hotkey.
    pub actual_hotkey: Option<String>,
    /// Fast path: relative `/forecasts/<dir>.zarr`.
    pub zarr_store_url: Option<String>,
    /// Fast path: SHA-256 of `manifest.json` as claimed.
    pub verification_hash: Option<String>,
    /// Fast path: JWT for `/forecasts/`.
    pub access_token: Option<String>,
}

/// Response of `/weather-poll-job-status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollResponse {
    /// `processing`, `completed`, `fetch_error` or `not_found`.
    pub status: String,
    /// The job id asked about.
    pub job_id: String,
    /// Human-readable detail.
    pub message: Option<String>,
    /// Present (true) when the job completed with an output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_ready: Option<bool>,
}

/// Response of `/weather-kerchunk-request` (OUT `WeatherKerchunkResponseData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KerchunkResponse {
    /// `completed`, `processing`, `error` or `not_found`.
    pub status: String,
    /// Human-readable detail.
    pub message: Option<String>,
    /// Relative `/forecasts/<dir>.zarr`.
    pub zarr_store_url: Option<String>,
    /// SHA-256 of `manifest.json` as claimed.
    pub verification_hash: Option<String>,
    /// JWT for `/forecasts/`.
    pub access_token: Option<String>,
}

/// A `/forecasts/` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileReply {
    /// File bytes.
    Bytes(Vec<u8>),
    /// Directory listing (`{"files": [...]}`).
    Listing(Vec<String>),
}

/// A refused request, mapped to an HTTP status by the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 400 (e.g. `Missing job_id in request`).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: missing, invalid or expired access token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: validator not allowed, or a path outside the token's store.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such file.
    #[error("not found: {0}")]
    NotFound(String),
    /// 422: the payload does not parse.
    #[error("invalid request payload: {0}")]
    Invalid(String),
    /// 500: the miner failed internally.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Rejection {
    /// The HTTP status code of this rejection.
    pub fn status_code(&self) -> u16 {
        match self {
            Rejection::BadRequest(_) => 400,
            Rejection::Unauthorized(_) => 401,
            Rejection::Forbidden(_) => 403,
            Rejection::NotFound(_) => 404,
            Rejection::Invalid(_) => 422,
            Rejection::Internal(_) => 500,
        }
    }
}
