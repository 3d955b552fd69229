//! On-disk cache of remote truth stores: a Zarr v2 store served over HTTP(S) (consolidated
//! `.zmetadata`, as xarray writes it and WeatherBench2 serves it) is mirrored once into
//! `<DATA_DIR>/truth-cache/`, and every scoring job of the cycle reads the local copy instead of
//! fetching the same chunks again per miner.
//!
//! A mirror is written under `<name>.partial/` and renamed into place when complete, so a crash
//! mid-download never leaves a store that looks whole. Sizes are bounded (per file and per store);
//! mirrors older than the retention are removed by [`TruthCache::prune`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::retry::{with_backoff, Backoff, Failed, Verdict};
use crate::telemetry::calls::CallMetrics;

/// Why a store could not be mirrored.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An HTTP request failed or answered an unexpected status.
    #[error("{url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The consolidated metadata is not what a Zarr v2 store has.
    #[error("{url}: bad consolidated metadata: {reason}")]
    Metadata {
        /// The store URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A limit was exceeded.
    #[error("{url}: {reason}")]
    TooLarge {
        /// The store URL.
        url: String,
        /// Which limit.
        reason: String,
    },
    /// The remote store does not hold what was asked for yet (a time step, a chunk): retry later.
    #[error("{url}: not available yet: {reason}")]
    NotAvailable {
        /// The store URL.
        url: String,
        /// What is missing.
        reason: String,
    },
    /// The local copy could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Limits of one mirror.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Largest store.
    pub max_store_bytes: u64,
    /// Most chunk keys tried per store.
    pub max_chunks: u64,
    /// Parallel downloads.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per key: rate limits (429), server errors (5xx) and transport failures are
    /// retried with exponential back-off.
    pub attempts: u32,
    /// First back-off; doubled per retry, and raised to a server's `Retry-After` (at most
    /// [`MAX_RETRY_AFTER`]).
    pub backoff: Duration,
}

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 1 << 30,
            max_store_bytes: 256 << 30,
            max_chunks: 2_000_000,
            concurrency: 8,
            timeout: Duration::from_secs(120),
            attempts: 4,
            backoff: Duration::from_secs(2),
        }
    }
}

/// A failed GET: the error, whether it is worth retrying, and the server's `Retry-After`.
struct GetFailure(CacheError, bool, Option<Duration>);

impl std::fmt::Display for GetFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The cache directory and its HTTP client.
#[derive(Debug, Clone)]
pub struct TruthCache {
    dir: PathBuf,
    http: reqwest::Client,
    limits: CacheLimits,
    /// One lock per target directory: concurrent scoring jobs of a cycle wait for one download
    /// instead of deleting each other's partial copy.
    locks: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
    /// Where each GET is counted (`gaia_truth_download_*{op="zarr_http"}`).
    metrics: Option<CallMetrics>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TruthCache {
    /// A cache under `dir`.
    pub fn new(dir: PathBuf, limits: CacheLimits) -> Result<Self, CacheError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(limits.timeout)
            .build()
            .map_err(|e| CacheError::Http {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            dir,
            http,
            limits,
            locks: Arc::default(),
            metrics: None,
        })
    }

    /// Count every GET (outcome, bytes, latency) in `metrics`.
    pub fn with_metrics(mut self, metrics: CallMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limits of every download.
    pub fn limits(&self) -> &CacheLimits {
        &self.limits
    }

    /// Hold the download lock of `target` (a mirror directory).
    pub(super) async fn lock(&self, target: &Path) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(target.to_path_buf()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Where the mirror of `url` lives (whether or not it exists yet).
    pub fn path_for(&self, url: &str) -> PathBuf {
        let digest = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
        let name = url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("store")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(80)
            .collect::<String>();
        self.dir.join(format!("{digest}-{name}"))
    }

    /// The local copy of the store at `url`, downloading it first if needed.
    pub async fn mirror(&self, url: &str) -> Result<PathBuf, CacheError> {
        let target = self.path_for(url);
        self.build_once(url, target, |partial| async move {
            self.download(url, &partial).await
        })
        .await
    }

    /// `target`, built once: under its download lock an existing directory is reused; otherwise
    /// `fill` writes into `<target>.partial/` (its byte count returned), which is renamed into
    /// place when complete and removed on failure, so a crash never leaves a store that looks
    /// whole.
    pub(super) async fn build_once<F, Fut>(
        &self,
        url: &str,
        target: PathBuf,
        fill: F,
    ) -> Result<PathBuf, CacheError>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<u64, CacheError>>,
    {
        let _guard = self.lock(&target).await;
        if target.is_dir() {
            return Ok(target);
        }
        let partial = target.with_extension("partial");
        let _ = tokio::fs::remove_dir_all(&partial).await;
        tokio::fs::create_dir_all(&partial)
            .await
            .map_err(io(&partial))?;
        match fill(partial.clone()).await {
            Ok(bytes) => {
                tokio::fs::rename(&partial, &target)
                    .await
                    .map_err(io(&target))?;
                tracing::info!(%url, path = %target.display(), bytes, "truth store mirrored");
                Ok(target)
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                Err(e)
            }
        }
    }

    /// Copy the whole store at `url` into `partial`; returns the bytes written.
    async fn download(&self, url: &str, partial: &Path) -> Result<u64, CacheError> {
        let base = url.trim_end_matches('/');
        let (zmeta, metadata) = self.consolidated_metadata(url).await?;
        let total = std::sync::atomic::AtomicU64::new(zmeta.len() as u64);
        write(partial, ".zmetadata", &zmeta).await?;
        let mut chunks = Vec::new();
        for (key, value) in &metadata {
            check_key(url, key)?;
            let text = serde_json::to_vec(value).unwrap_or_default();
            write(partial, key, &text).await?;
            if let Some(array) = key.strip_suffix("/.zarray") {
                chunks.extend(chunk_keys(url, array, value, self.limits.max_chunks)?);
            }
        }
        let downloaded = futures::stream::iter(chunks.into_iter().map(|key| {
            let total = &total;
            async move {
                let Some(bytes) = self.get(&format!("{base}/{key}")).await? else {
                    return Ok(());
                };
                let size = bytes.len() as u64;
                let sum = total.fetch_add(size, std::sync::atomic::Ordering::Relaxed) + size;
                if sum > self.limits.max_store_bytes {
                    return Err(CacheError::TooLarge {
                        url: url.into(),
                        reason: format!("over {} bytes", self.limits.max_store_bytes),
                    });
                }
                write(partial, &key, &bytes).await
            }
        }))
        .buffer_unordered(self.limits.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await;
        downloaded?;
        Ok(total.into_inner())
    }

    /// The consolidated metadata of the Zarr v2 store at `url`: the raw `.zmetadata` and its
    /// `metadata` map (key → JSON document).
    pub(super) async fn consolidated_metadata(
        &self,
        url: &str,
    ) -> Result<(Vec<u8>, serde_json::Map<String, Value>), CacheError> {
        let bad = |reason: String| CacheError::Metadata {
            url: url.into(),
            reason,
        };
        let zmeta = self
            .get(&format!("{}/.zmetadata", url.trim_end_matches('/')))
            .await?
            .ok_or_else(|| {
                bad(".zmetadata not found (only consolidated Zarr v2 stores are mirrored)".into())
            })?;
        let parsed: Value = serde_json::from_slice(&zmeta).map_err(|e| bad(e.to_string()))?;
        match parsed {
            Value::Object(mut root) => match root.remove("metadata") {
                Some(Value::Object(metadata)) => Ok((zmeta, metadata)),
                _ => Err(bad("no `metadata` object".into())),
            },
            _ => Err(bad("no `metadata` object".into())),
        }
    }

    /// GET a key: `Some(bytes)`, `None` on 404, an error otherwise (bounded size). Rate limits,
    /// server errors and transport failures are retried with back-off (see [`CacheLimits`]).
    pub(super) async fn get(&self, url: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let started = std::time::Instant::now();
        let result = self.get_retried(url).await;
        if let Some(metrics) = &self.metrics {
            let (outcome, bytes) = match &result {
                Ok(Some(body)) => ("ok", body.len() as u64),
                Ok(None) => ("missing", 0),
                Err(_) => ("error", 0),
            };
            let seconds = started.elapsed().as_secs_f64();
            metrics.truth_download("zarr_http", outcome, bytes, seconds);
        }
        result
    }

    async fn get_retried(&self, url: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let backoff = Backoff {
            attempts: self.limits.attempts,
            first: self.limits.backoff,
            max: MAX_RETRY_AFTER,
        };
        let classify = |GetFailure(_, retryable, hint): &GetFailure| {
            if *retryable {
                Verdict::Retry(*hint)
            } else {
                Verdict::Stop
            }
        };
        match with_backoff(backoff, url, |_| self.get_once(url), classify).await {
            Ok(body) => Ok(body),
            Err(Failed {
                error: GetFailure(CacheError::Http { url, reason }, ..),
                attempts,
            }) if attempts > 1 => Err(CacheError::Http {
                url,
                reason: format!("{reason} (after {attempts} attempts)"),
            }),
            Err(Failed { error, .. }) => Err(error.0),
        }
    }

    /// One GET; an error says whether it is worth retrying and what `Retry-After` asked for.
    async fn get_once(&self, url: &str) -> Result<Option<Vec<u8>>, GetFailure> {
        let err = |reason: String| CacheError::Http {
            url: url.to_string(),
            reason,
        };
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| GetFailure(err(e.to_string()), true, None))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let retryable =
                status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(GetFailure(
                err(format!("HTTP {status}")),
                retryable,
                retry_after,
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| GetFailure(err(e.to_string()), true, None))?
        {
            if (body.len() + chunk.len()) as u64 > self.limits.max_file_bytes {
                let reason = format!("over {} bytes", self.limits.max_file_bytes);
                return Err(GetFailure(err(reason), false, None));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// Remove mirrors (and abandoned partial downloads) older than `max_age`; returns how many.
    pub fn prune(&self, max_age: Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            if old && std::fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// A key from the metadata must stay inside the store.
pub(super) fn check_key(url: &str, key: &str) -> Result<(), CacheError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.split('/').any(|p| p == ".." || p.is_empty())
        || key.contains('\\');
    if bad {
        return Err(CacheError::Metadata {
            url: url.into(),
            reason: format!("key {key:?} escapes the store"),
        });
    }
    Ok(())
}

/// Every chunk key of the array `name` from its `.zarray`.
fn chunk_keys(url: &str, name: &str, zarray: &Value, max: u64) -> Result<Vec<String>, CacheError> {
    let bad = |reason: String| CacheError::Metadata {
        url: url.into(),
        reason: format!("{name}/.zarray: {reason}"),
    };
    let dims = |field: &str| -> Result<Vec<u64>, CacheError> {
        zarray[field]
            .as_array()
            .ok_or_else(|| bad(format!("no `{field}`")))?
            .iter()
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| bad(format!("`{field}` is not a list of sizes")))
            })
            .collect()
    };
    let shape = dims("shape")?;
    let chunks = dims("chunks")?;
    if shape.len() != chunks.len() || chunks.contains(&0) {
        return Err(bad("shape and chunks do not match".into()));
    }
    let sep = zarray["dimension_separator"].as_str().unwrap_or(".");
    let grid: Vec<u64> = shape
        .iter()
        .zip(&chunks)
        .map(|(s, c)| s.div_ceil(*c).max(1))
        .collect();
    let count = grid.iter().try_fold(1u64, |acc, g| acc.checked_mul(*g));
    match count {
        Some(n) if n <= max => {}
        _ => return Err(bad(format!("more than {max} chunks"))),
    }
    let mut keys = Vec::new();
    let mut index = vec![0u64; grid.len()];
    loop {
        let parts: Vec<String> = if index.is_empty() {
            vec!["0".to_string()]
        } else {
            index.iter().map(u64::to_string).collect()
        };
        keys.push(format!("{name}/{}", parts.join(sep)));
        let mut d = grid.len();
        loop {
            if d == 0 {
                return Ok(keys);
            }
            d -= 1;
            index[d] += 1;
            if index[d] < grid[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

/// Write `bytes` under `key` below `root`, creating directories.
pub(super) async fn write(root: &Path, key: &str, bytes: &[u8]) -> Result<(), CacheError> {
    let path = root.join(key);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(parent))?;
    }
    tokio::fs::write(&path, bytes).await.map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;

    /// A static file server over `root` counting its requests.
    async fn serve(root: PathBuf) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let state = (root, hits.clone());
        let app = axum::Router::new()
            .route(
                "/{*path}",
                axum::routing::get(
                    |State((root, hits)): State<(PathBuf, Arc<AtomicUsize>)>,
                     UrlPath(path): UrlPath<String>| async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        match tokio::fs::read(root.join(path)).await {
                            Ok(b) => Ok(b),
                            Err(_) => Err(StatusCode::NOT_FOUND),
                        }
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), hits)
    }

    fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                    out.push((rel, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    fn world(dir: &Path) -> gaia_miner_sim::WorldPaths {
        let world = gaia_miner_sim::World::new(gaia_miner_sim::WorldConfig {
            seed: 7,
            grid_deg: 15.0,
        })
        .unwrap();
        let init = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .to_utc();
        gaia_miner_sim::write_world(&world, dir, init).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_remote_store_is_mirrored_byte_for_byte_once() {
        let src = tempfile::tempdir().unwrap();
        let paths = world(src.path());
        let (base, hits) = serve(src.path().to_path_buf()).await;
        let name = paths
            .era5
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let url = format!("{base}/{name}");
        let cache_dir = tempfile::tempdir().unwrap();
        let cache =
            TruthCache::new(cache_dir.path().to_path_buf(), CacheLimits::default()).unwrap();
        let local = cache.mirror(&url).await.unwrap();
        assert_eq!(local, cache.path_for(&url));
        let (got, want) = (files(&local), files(&paths.era5));
        let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got), names(&want), "the same keys");
        for ((name, a), (_, b)) in got.iter().zip(&want) {
            if name.rsplit('/').next().is_some_and(|f| f.starts_with(".z")) {
                // Metadata is rewritten from `.zmetadata`: the same JSON, not the same spacing.
                let a: Value = serde_json::from_slice(a).unwrap();
                let b: Value = serde_json::from_slice(b).unwrap();
                assert_eq!(a, b, "{name}");
            } else {
                assert!(a == b, "chunk {name} differs");
            }
        }
        let before = hits.load(Ordering::SeqCst);
        assert_eq!(cache.mirror(&url).await.unwrap(), local);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            before,
            "second use reads the cache"
        );
        let ds = gaia_scoring::Dataset::open(&local.display().to_string(), &Default::default());
        assert!(ds.is_ok(), "the mirror opens as a dataset");

        let missing = cache
            .mirror(&format!("{base}/nothing.zarr"))
            .await
            .unwrap_err();
        assert!(
            missing.to_string().contains(".zmetadata not found"),
            "{missing}"
        );
        let tiny = TruthCache::new(
            cache_dir.path().join("tiny"),
            CacheLimits {
                max_store_bytes: 10_000,
                ..CacheLimits::default()
            },
        )
        .unwrap();
        let err = tiny.mirror(&url).await.unwrap_err();
        assert!(matches!(err, CacheError::TooLarge { .. }), "{err}");
        assert!(
            !tiny.path_for(&url).exists()
                && !tiny.path_for(&url).with_extension("partial").exists()
        );

        assert_eq!(
            cache.prune(Duration::from_secs(3600)),
            0,
            "fresh mirrors stay"
        );
        let old = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::open(&local)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(cache.prune(Duration::from_secs(3600)), 1);
        assert!(!local.exists());
    }

    #[test]
    fn chunk_keys_cover_the_grid_and_hostile_metadata_is_refused() {
        let z = serde_json::json!({"shape": [3, 4], "chunks": [2, 4]});
        assert_eq!(chunk_keys("u", "a", &z, 10).unwrap(), ["a/0.0", "a/1.0"]);
        let slash =
            serde_json::json!({"shape": [2, 2], "chunks": [1, 1], "dimension_separator": "/"});
        assert_eq!(chunk_keys("u", "b", &slash, 10).unwrap().len(), 4);
        assert_eq!(chunk_keys("u", "b", &slash, 10).unwrap()[3], "b/1/1");
        let scalar = serde_json::json!({"shape": [], "chunks": []});
        assert_eq!(chunk_keys("u", "s", &scalar, 10).unwrap(), ["s/0"]);
        assert!(chunk_keys("u", "a", &z, 1).is_err(), "too many chunks");
        let zero = serde_json::json!({"shape": [3], "chunks": [0]});
        assert!(chunk_keys("u", "a", &zero, 10).is_err());
        assert!(chunk_keys("u", "a", &serde_json::json!({}), 10).is_err());
        for key in ["../x/.zarray", "/abs", "a//b", "a\\b"] {
            assert!(check_key("u", key).is_err(), "{key}");
        }
        assert!(check_key("u", "t/.zarray").is_ok());
    }
}
