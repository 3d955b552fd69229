//! A small DAP2 (OPeNDAP) client over HTTP: `.dds`, `.das` and constrained `.dods` requests
//! against one dataset URL, with bounded response sizes, a per-request timeout and a bounded
//! number of retries with exponential back-off on rate limits (429), server errors (5xx),
//! timeouts, dropped connections and truncated bodies.
//!
//! A missing dataset (HTTP 404, or the DAP error text NOMADS answers with, "... is not an
//! available dataset") is [`DapError::NotAvailable`]: the cycle is not published yet.

use std::time::{Duration, Instant};

use super::dds::{Das, Dds};
use super::xdr::{self, DapVar, XdrError};
use crate::retry::{with_backoff, Backoff, Failed, Verdict};

/// Limits and retry policy of the client.
#[derive(Debug, Clone, Copy)]
pub struct DapOptions {
    /// Timeout of one request (connect + whole body).
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
    /// Largest single array decoded.
    pub max_elements: usize,
    /// Attempts per request (at least 1).
    pub attempts: u32,
    /// Pause before the first retry; doubled each time.
    pub backoff: Duration,
    /// Longest pause between two attempts.
    pub max_backoff: Duration,
}

impl Default for DapOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            max_response_bytes: 256 << 20,
            max_elements: 64 << 20,
            attempts: 4,
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(120),
        }
    }
}

/// Why a DAP request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DapError {
    /// The dataset does not exist (yet).
    #[error("{url}: dataset not available: {message}")]
    NotAvailable {
        /// The request URL.
        url: String,
        /// What the server said.
        message: String,
    },
    /// An HTTP status that is not retried (4xx other than 404/429), or a retried one that
    /// persisted.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The request URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Connection, timeout or body-read failure.
    #[error("{url}: {reason}")]
    Transport {
        /// The request URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The body exceeded the size limit.
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The request URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The server answered a DAP error.
    #[error("{url}: server error: {message}")]
    Server {
        /// The request URL.
        url: String,
        /// The error text.
        message: String,
    },
    /// The body is not a valid DAP2 answer.
    #[error("{url}: malformed answer: {reason}")]
    Malformed {
        /// The request URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The body ended early.
    #[error("{url}: truncated answer: {reason}")]
    Truncated {
        /// The request URL.
        url: String,
        /// Where it ended.
        reason: String,
    },
    /// Every attempt failed with a retryable error.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<DapError>,
    },
}

impl DapError {
    fn retryable(&self) -> bool {
        match self {
            DapError::Status { status, .. } => *status == 429 || *status >= 500,
            DapError::Transport { .. } | DapError::Truncated { .. } => true,
            _ => false,
        }
    }

    /// Whether this (possibly after retries) means "the dataset is not published yet".
    pub fn is_not_available(&self) -> bool {
        match self {
            DapError::NotAvailable { .. } => true,
            DapError::Exhausted { last, .. } => last.is_not_available(),
            _ => false,
        }
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct DapClient {
    http: reqwest::Client,
    options: DapOptions,
    /// Where each GET is counted (`gaia_truth_download_*{op="gfs_opendap"}`).
    pub(crate) metrics: Option<crate::telemetry::calls::CallMetrics>,
}

/// Classify a DAP error text: NOMADS answers a missing dataset with
/// `Error { code = 0; message = "... is not an available dataset"; }`.
fn server_error(url: &str, text: &str) -> DapError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("not an available dataset")
        || lower.contains("code = 404")
        || lower.contains("no such file")
    {
        DapError::NotAvailable {
            url: url.into(),
            message: text.chars().take(300).collect(),
        }
    } else {
        DapError::Server {
            url: url.into(),
            message: text.chars().take(300).collect(),
        }
    }
}

impl DapClient {
    /// A client with `options`.
    pub fn new(options: DapOptions) -> Result<Self, DapError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("gaia-validator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DapError::Transport {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            options,
            metrics: None,
        })
    }

    /// The dataset's structure.
    pub async fn dds(&self, dataset: &str) -> Result<Dds, DapError> {
        let url = format!("{dataset}.dds");
        let u = url.as_str();
        self.retry(u, || async move {
            let text = self.text(u).await?;
            Dds::parse(&text).map_err(|e| malformed(u, e))
        })
        .await
    }

    /// The dataset's attributes.
    pub async fn das(&self, dataset: &str) -> Result<Das, DapError> {
        let url = format!("{dataset}.das");
        let u = url.as_str();
        self.retry(u, || async move {
            let text = self.text(u).await?;
            Das::parse(&text).map_err(|e| malformed(u, e))
        })
        .await
    }

    /// The variables selected by the constraint expression `constraint`.
    pub async fn data(&self, dataset: &str, constraint: &str) -> Result<Vec<DapVar>, DapError> {
        let url = format!("{dataset}.dods?{constraint}");
        let u = url.as_str();
        self.retry(u, || async move {
            let body = self.bytes(u).await?;
            match xdr::decode(&body, self.options.max_elements) {
                Ok((_, vars)) => Ok(vars),
                Err(XdrError::ServerError(text)) => Err(server_error(u, &text)),
                Err(XdrError::Truncated { what }) => Err(DapError::Truncated {
                    url: u.into(),
                    reason: format!("in `{what}` after {} bytes", body.len()),
                }),
                Err(e) => Err(malformed(u, e)),
            }
        })
        .await
    }

    async fn retry<T, F, Fut>(&self, url: &str, mut attempt: F) -> Result<T, DapError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DapError>>,
    {
        let backoff = Backoff {
            attempts: self.options.attempts,
            first: self.options.backoff,
            max: self.options.max_backoff,
        };
        let classify = |e: &DapError| {
            if e.retryable() {
                Verdict::Retry(None)
            } else {
                Verdict::Stop
            }
        };
        with_backoff(backoff, url, |_| attempt(), classify)
            .await
            .map_err(|Failed { error, attempts }| {
                if error.retryable() {
                    DapError::Exhausted {
                        attempts,
                        last: Box::new(error),
                    }
                } else {
                    error
                }
            })
    }

    async fn text(&self, url: &str) -> Result<String, DapError> {
        let body = self.bytes(url).await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if text.trim_start().starts_with("Error") {
            return Err(server_error(url, text.trim()));
        }
        Ok(text)
    }

    /// One GET, the body read under the size limit, counted in the metrics.
    async fn bytes(&self, url: &str) -> Result<Vec<u8>, DapError> {
        let started = Instant::now();
        let result = self.bytes_uncounted(url).await;
        if let Some(metrics) = &self.metrics {
            let (outcome, bytes) = match &result {
                Ok(body) => ("ok", body.len() as u64),
                Err(_) => ("error", 0),
            };
            let seconds = started.elapsed().as_secs_f64();
            metrics.truth_download("gfs_opendap", outcome, bytes, seconds);
        }
        result
    }

    async fn bytes_uncounted(&self, url: &str) -> Result<Vec<u8>, DapError> {
        let transport = |e: reqwest::Error| DapError::Transport {
            url: url.into(),
            reason: if e.is_timeout() {
                format!("timed out after {:?}", self.options.timeout)
            } else {
                format!("{e}")
            },
        };
        let started = Instant::now();
        let response = self.http.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(DapError::NotAvailable {
                url: url.into(),
                message: "HTTP 404".into(),
            });
        }
        if !status.is_success() {
            return Err(DapError::Status {
                url: url.into(),
                status: status.as_u16(),
            });
        }
        let limit = self.options.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(DapError::TooLarge {
                url: url.into(),
                limit,
            });
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(DapError::TooLarge {
                    url: url.into(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(%url, bytes = body.len(), seconds = started.elapsed().as_secs_f64(), "OPeNDAP response");
        Ok(body)
    }
}

fn malformed(url: &str, e: impl std::fmt::Display) -> DapError {
    DapError::Malformed {
        url: url.into(),
        reason: e.to_string(),
    }
}
