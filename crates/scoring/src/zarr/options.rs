//! How a store is opened: credentials, timeouts and the limits that bound what a hostile store
//! can make the reader allocate.

use std::time::Duration;

use gaia_protocol::FrozenManifest;

use super::polite::{RetryPolicy, DEFAULT_REQUESTS_PER_MINUTE};

/// Default per-request timeout for HTTP stores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default limit on one stored key and on one decoded chunk: 256 MiB.
pub const DEFAULT_MAX_CHUNK_BYTES: u64 = 256 * 1024 * 1024;
/// Default limit on the elements of one array read (a field or a coordinate): 64 Mi.
pub const DEFAULT_MAX_ARRAY_ELEMENTS: u64 = 64 * 1024 * 1024;
/// Default limit on the decoded bytes of every chunk read through one opened store: 8 GiB (an
/// ERA5 lead of a 0.25° forecast reads ~0.3 GB, a whole 40-step forecast ~12 GB).
pub const DEFAULT_MAX_DECODED_STORE_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Default limit on a chunk's compression ratio (decoded ÷ stored) for chunks over
/// [`RATIO_CHECK_MIN_BYTES`]: weather fields compress 2–10×; a zstd bomb 9 KB → 256 MiB is
/// ~30 000×.
pub const DEFAULT_MAX_COMPRESSION_RATIO: u64 = 2048;
/// Chunks smaller than this decoded are not ratio-checked (coordinates, tiny test stores).
pub const RATIO_CHECK_MIN_BYTES: u64 = 1024 * 1024;
/// Default deadline of all downloads from one opened miner store (issue 15 point 3): a store
/// that answers every GET slowly ends its read here, well below the scoring job's timeout
/// (3600 s in production), instead of holding a worker and a download slot for the whole job.
pub const DEFAULT_DOWNLOAD_DEADLINE: Duration = Duration::from_secs(900);
/// Default limit on one metadata document (`zarr.json`, `.zmetadata`, ...): 32 MiB.
pub const DEFAULT_MAX_METADATA_BYTES: u64 = 32 * 1024 * 1024;

/// Options for [`Dataset::open`](super::Dataset::open) and
/// [`Climatology::open`](super::Climatology::open).
#[derive(Clone)]
pub struct OpenOptions {
    /// Sent as `Authorization: Bearer <token>` on every HTTP request (miner `/forecasts` JWT).
    pub bearer_token: Option<String>,
    /// Whole-request timeout for each HTTP request (connect + headers + body).
    pub timeout: Duration,
    /// Largest stored value of one key and largest decoded chunk, in bytes.
    pub max_chunk_bytes: u64,
    /// Largest number of elements of one array read (a 2-D field or a coordinate vector).
    pub max_array_elements: u64,
    /// Largest metadata document, in bytes.
    pub max_metadata_bytes: u64,
    /// Verify-on-read: every key read is hashed against this frozen manifest (spec §2.2 step 8).
    pub verify: Option<FrozenManifest>,
    /// How many chunks zarrs may decode concurrently (about cores ÷ compute workers).
    pub codec_concurrency: usize,
    /// Accept self-signed TLS certificates (miners serve HTTPS with them; Python used
    /// `ssl=False`).
    pub accept_invalid_certs: bool,
    /// How an HTTP request that failed transiently (429, 5xx, timeout) is retried.
    pub retry: RetryPolicy,
    /// Request budget of one opened HTTP store per minute (0 = unlimited).
    pub requests_per_minute: u32,
    /// Largest total of decoded chunk bytes read through one opened store: bounds the CPU a
    /// store of many well-compressed chunks can cost.
    pub max_decoded_store_bytes: u64,
    /// Largest compression ratio of a chunk of at least [`RATIO_CHECK_MIN_BYTES`] decoded.
    pub max_compression_ratio: u64,
    /// Time all HTTP reads of one opened store may take together, from its opening (`None`:
    /// only the per-request timeout). Miner stores get [`DEFAULT_DOWNLOAD_DEADLINE`] or the
    /// validator's setting; truth stores have none.
    pub download_deadline: Option<Duration>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            bearer_token: None,
            timeout: DEFAULT_TIMEOUT,
            max_chunk_bytes: DEFAULT_MAX_CHUNK_BYTES,
            max_array_elements: DEFAULT_MAX_ARRAY_ELEMENTS,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
            verify: None,
            codec_concurrency: 1,
            accept_invalid_certs: true,
            retry: RetryPolicy::default(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            max_decoded_store_bytes: DEFAULT_MAX_DECODED_STORE_BYTES,
            max_compression_ratio: DEFAULT_MAX_COMPRESSION_RATIO,
            download_deadline: None,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("max_chunk_bytes", &self.max_chunk_bytes)
            .field("max_array_elements", &self.max_array_elements)
            .field("max_metadata_bytes", &self.max_metadata_bytes)
            .field("verify", &self.verify.as_ref().map(|m| m.files.len()))
            .field("codec_concurrency", &self.codec_concurrency)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("retry", &self.retry)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("max_decoded_store_bytes", &self.max_decoded_store_bytes)
            .field("max_compression_ratio", &self.max_compression_ratio)
            .field("download_deadline", &self.download_deadline)
            .finish()
    }
}

/// A download deadline from a request's seconds (0: none).
pub fn deadline(seconds: u64) -> Option<Duration> {
    (seconds > 0).then(|| Duration::from_secs(seconds))
}
