//! A blocking HTTP(S) store for zarrs: whole-key GETs with a Bearer token, a per-request timeout
//! and a body-size limit enforced while reading, so a miner's server cannot stall a worker or make
//! it allocate more than [`OpenOptions::max_chunk_bytes`](super::OpenOptions::max_chunk_bytes).
//!
//! Built on `ureq` (no tokio in the scoring crate). Redirects are not followed (the token must not
//! travel to another host); miners' self-signed certificates are accepted unless configured
//! otherwise.

use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, MaybeBytes, MaybeBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
};

use std::sync::Arc;

use super::polite::{parse_retry_after, Failed, Pacer};
use super::store::{slice_whole, ErrorSink};
use super::{OpenOptions, ZarrError};

/// A response with its declared `Content-Length`.
type Sent = (ureq::http::Response<ureq::Body>, Option<u64>);

/// A read-only Zarr store served over HTTP(S).
pub(super) struct HttpStore {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    max_bytes: u64,
    sink: ErrorSink,
    /// Whole-request timeout (shortened near the download deadline).
    timeout: std::time::Duration,
    /// Rate budget, retries, the download deadline and the transfer counters.
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for HttpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStore")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpStore {
    /// A store whose keys are fetched from `base_url/<key>`.
    pub(super) fn new(
        base_url: &str,
        options: &OpenOptions,
        sink: ErrorSink,
    ) -> Result<Self, ZarrError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if base.contains(['?', '#']) {
            return Err(ZarrError::BadLocation(base_url.to_owned()));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(options.accept_invalid_certs)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .build()
            .into();
        Ok(Self {
            base,
            token: options.bearer_token.clone(),
            agent,
            max_bytes: options.max_chunk_bytes.max(options.max_metadata_bytes),
            sink,
            timeout: options.timeout,
            pacer: Arc::new(
                Pacer::new(options.retry, options.requests_per_minute)
                    .with_deadline(options.download_deadline),
            ),
        })
    }

    /// The pacer (its counters say what this store fetched).
    pub(super) fn pacer(&self) -> Arc<Pacer> {
        Arc::clone(&self.pacer)
    }

    fn url(&self, key: &StoreKey) -> String {
        format!("{}/{}", self.base, key.as_str())
    }

    fn transport(&self, url: &str, err: ureq::Error) -> ZarrError {
        match err {
            ureq::Error::Timeout(_) => ZarrError::Timeout {
                url: url.to_owned(),
            },
            ureq::Error::BodyExceedsLimit(limit) => ZarrError::TooLarge {
                what: format!("response body of `{url}`"),
                size: limit.saturating_add(1),
                limit,
            },
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => ZarrError::Timeout {
                url: url.to_owned(),
            },
            other => ZarrError::Transport {
                url: url.to_owned(),
                message: other.to_string(),
            },
        }
    }

    /// Send a GET for `key`; `None` on 404; the declared length checked against the limit.
    fn send(&self, key: &StoreKey) -> Result<Option<Sent>, Failed> {
        let url = self.url(key);
        let mut builder = self.agent.get(&url);
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let timeout = self.pacer.request_timeout(self.timeout);
        let response = builder
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(|e| self.transport(&url, e))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => {
                let retry_after = parse_retry_after(
                    response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                );
                return Err(Failed {
                    error: ZarrError::HttpStatus { url, status },
                    retry_after,
                });
            }
        }
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared.filter(|len| *len > self.max_bytes) {
            return Err(ZarrError::TooLarge {
                what: format!("key `{}`", key.as_str()),
                size: len,
                limit: self.max_bytes,
            }
            .into());
        }
        Ok(Some((response, declared)))
    }

    /// One try: GET the whole value of `key`, reading at most the limit.
    fn fetch_once(&self, key: &StoreKey) -> Result<Option<Bytes>, Failed> {
        let Some((response, _)) = self.send(key)? else {
            return Ok(None);
        };
        let body = response
            .into_body()
            .into_with_config()
            .limit(self.max_bytes)
            .read_to_vec()
            .map_err(|e| self.transport(&self.url(key), e))?;
        self.pacer.counters.add_bytes(body.len() as u64);
        Ok(Some(Bytes::from(body)))
    }

    /// GET the whole value of `key` under the rate budget, retrying transient failures.
    fn fetch(&self, key: &StoreKey) -> Result<Option<Bytes>, ZarrError> {
        self.pacer.run(|| self.fetch_once(key))
    }
}

impl ReadableStorageTraits for HttpStore {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        self.fetch(key).map_err(|e| self.sink.record(e))
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        slice_whole(self.get(key)?, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        // zarrs only asks for sizes for partial reads, which this store does not offer; a GET
        // (bounded like every read) keeps the one code path.
        Ok(self.get(key)?.map(|b| b.len() as u64))
    }

    fn supports_get_partial(&self) -> bool {
        false
    }
}
