//! Subset mirrors of truth stores too large to copy whole: ARCO-ERA5 (hourly since 1940) and the
//! WeatherBench2 climatology at 0.25° hold hundreds of terabytes or gigabytes, of which a run
//! needs a few time steps or days of year. [`TruthCache::mirror_subset`] copies the metadata of
//! the requested arrays (renamed to the names the scorer reads), their coordinate arrays whole,
//! and only the data chunks that intersect the selected coordinate values — into a local Zarr v2
//! store the scorer opens like any other. Chunks outside the selection are absent; a reader
//! asking for them would see fill values, which is why the selection is part of the cache key.
//!
//! A selected value the remote store does not hold yet (ERA5 lags real time by days), or a
//! selected chunk it answers 404 for, is [`CacheError::NotAvailable`]: retry later.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::cache::{check_key, write, CacheError, TruthCache};

/// Which coordinate values of one dimension are wanted.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// CF-decoded times that must be present exactly (the `time` coordinate).
    Times(Vec<DateTime<Utc>>),
    /// Numeric coordinate values; the nearest stored value of each is taken.
    Nearest(Vec<f64>),
}

/// What to copy from a remote store.
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// Data arrays as (remote name, local name); their dimension coordinates come along whole.
    pub arrays: Vec<(String, String)>,
    /// Dimension name → the values wanted; dimensions not listed are copied whole.
    pub select: Vec<(String, Selection)>,
    /// Leave out requested arrays the store does not have (instead of failing).
    pub skip_missing: bool,
}

impl Subset {
    /// A canonical text of the subset, part of the cache key.
    fn key(&self) -> String {
        let arrays: Vec<String> = self
            .arrays
            .iter()
            .map(|(r, l)| format!("{r}>{l}"))
            .collect();
        let select: Vec<String> = self
            .select
            .iter()
            .map(|(dim, s)| match s {
                Selection::Times(t) => {
                    let t: Vec<String> = t.iter().map(DateTime::to_rfc3339).collect();
                    format!("{dim}={}", t.join(","))
                }
                Selection::Nearest(v) => {
                    let v: Vec<String> = v.iter().map(f64::to_string).collect();
                    format!("{dim}~{}", v.join(","))
                }
            })
            .collect();
        format!(
            "{}|{}|{}",
            arrays.join(","),
            select.join(";"),
            self.skip_missing
        )
    }
}

/// One remote array as the consolidated metadata describes it.
struct RemoteArray {
    zarray: Value,
    zattrs: Value,
    dims: Vec<String>,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    separator: String,
}

impl RemoteArray {
    fn parse(url: &str, meta: &Map<String, Value>, name: &str) -> Result<Self, CacheError> {
        let bad = |reason: String| CacheError::Metadata {
            url: url.into(),
            reason: format!("{name}: {reason}"),
        };
        check_key(url, name)?;
        let zarray = meta
            .get(&format!("{name}/.zarray"))
            .cloned()
            .ok_or_else(|| bad("no such array in the store".into()))?;
        let zattrs = meta
            .get(&format!("{name}/.zattrs"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let dims: Vec<String> = zattrs["_ARRAY_DIMENSIONS"]
            .as_array()
            .ok_or_else(|| bad("no _ARRAY_DIMENSIONS attribute".into()))?
            .iter()
            .map(|d| d.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("_ARRAY_DIMENSIONS is not a list of names".into()))?;
        let sizes = |field: &str| -> Result<Vec<u64>, CacheError> {
            zarray[field]
                .as_array()
                .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
                .ok_or_else(|| bad(format!("`{field}` is not a list of sizes")))
        };
        let (shape, chunks) = (sizes("shape")?, sizes("chunks")?);
        if shape.len() != chunks.len() || chunks.contains(&0) || dims.len() != shape.len() {
            return Err(bad("shape, chunks and dimensions do not match".into()));
        }
        let separator = zarray["dimension_separator"]
            .as_str()
            .unwrap_or(".")
            .to_owned();
        if separator != "." && separator != "/" {
            return Err(bad(format!("dimension separator {separator:?}")));
        }
        Ok(Self {
            zarray,
            zattrs,
            dims,
            shape,
            chunks,
            separator,
        })
    }

    /// Chunk keys of the array stored as `name`, restricted per dimension to the element
    /// indices in `wanted` (`None` = the whole dimension); at most `max` keys.
    fn chunk_keys(
        &self,
        url: &str,
        name: &str,
        wanted: &[Option<&BTreeSet<u64>>],
        max: u64,
    ) -> Result<Vec<String>, CacheError> {
        let per_dim: Vec<Vec<u64>> = (0..self.shape.len())
            .map(|d| {
                let grid = self.shape[d].div_ceil(self.chunks[d]).max(1);
                match wanted.get(d).copied().flatten() {
                    Some(indices) => indices
                        .iter()
                        .map(|i| i / self.chunks[d])
                        .filter(|c| *c < grid)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    None => (0..grid).collect(),
                }
            })
            .collect();
        let count = per_dim
            .iter()
            .try_fold(1u64, |acc, v| acc.checked_mul(v.len() as u64));
        if count.is_none_or(|n| n > max) {
            return Err(CacheError::TooLarge {
                url: url.into(),
                reason: format!("{name}: more than {max} chunks selected"),
            });
        }
        let mut keys = vec![String::new()];
        for options in &per_dim {
            keys = keys
                .iter()
                .flat_map(|prefix| {
                    options.iter().map(move |c| {
                        if prefix.is_empty() {
                            c.to_string()
                        } else {
                            format!("{prefix}{}{c}", self.separator)
                        }
                    })
                })
                .collect();
        }
        if per_dim.is_empty() {
            keys = vec!["0".into()];
        }
        Ok(keys.into_iter().map(|k| format!("{name}/{k}")).collect())
    }
}

impl TruthCache {
    /// Where the subset `subset` of `url` is mirrored (whether or not it exists yet).
    pub fn subset_path(&self, url: &str, subset: &Subset) -> PathBuf {
        let digest = Sha256::digest(format!("{url}#{}", subset.key()).as_bytes());
        let name = self
            .path_for(url)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let store = name.split_once('-').map_or(name.as_str(), |(_, n)| n);
        self.dir()
            .join(format!("{}-subset-{store}", hex::encode(&digest[..8])))
    }

    /// The local subset mirror of the store at `url`, downloading it first if needed.
    pub async fn mirror_subset(&self, url: &str, subset: &Subset) -> Result<PathBuf, CacheError> {
        let target = self.subset_path(url, subset);
        self.build_once(url, target, |partial| async move {
            self.download_subset(url, subset, &partial).await
        })
        .await
    }

    async fn download_subset(
        &self,
        url: &str,
        subset: &Subset,
        partial: &Path,
    ) -> Result<u64, CacheError> {
        let started = Instant::now();
        let (_, meta) = self.consolidated_metadata(url).await?;
        let meta = &meta;
        let mut data = Vec::new();
        for (remote, local) in &subset.arrays {
            check_key(url, local)?;
            if subset.skip_missing && !meta.contains_key(&format!("{remote}/.zarray")) {
                continue;
            }
            data.push((
                local.clone(),
                remote.clone(),
                RemoteArray::parse(url, meta, remote)?,
            ));
        }
        if data.is_empty() {
            return Err(CacheError::Metadata {
                url: url.into(),
                reason: "none of the requested arrays is in the store".into(),
            });
        }
        let mut coords = Vec::new();
        let dims: BTreeSet<&String> = data.iter().flat_map(|(_, _, a)| &a.dims).collect();
        for dim in dims {
            if meta.contains_key(&format!("{dim}/.zarray")) {
                coords.push((
                    dim.clone(),
                    dim.clone(),
                    RemoteArray::parse(url, meta, dim)?,
                ));
            }
        }
        // Local metadata: root group, coordinates, renamed data arrays.
        let mut local_meta = Map::new();
        for key in [".zgroup", ".zattrs"] {
            if let Some(v) = meta.get(key) {
                local_meta.insert(key.into(), v.clone());
            }
        }
        local_meta
            .entry(".zgroup")
            .or_insert_with(|| json!({"zarr_format": 2}));
        for (local, _, array) in coords.iter().chain(&data) {
            local_meta.insert(format!("{local}/.zarray"), array.zarray.clone());
            local_meta.insert(format!("{local}/.zattrs"), array.zattrs.clone());
        }
        for (key, value) in &local_meta {
            write(partial, key, value.to_string().as_bytes()).await?;
        }
        let consolidated = json!({"zarr_consolidated_format": 1, "metadata": local_meta});
        write(partial, ".zmetadata", consolidated.to_string().as_bytes()).await?;
        let total = AtomicU64::new(0);
        let mut coord_keys = Vec::new();
        for (name, _, array) in &coords {
            coord_keys.extend(array.chunk_keys(url, name, &[], self.limits().max_chunks)?);
        }
        let coord_keys = coord_keys.into_iter().map(|k| (k.clone(), k)).collect();
        self.fetch_keys(url, partial, coord_keys, false, &total)
            .await?;
        let wanted = self.selected_indices(url, partial, subset).await?;
        let mut chunk_keys = Vec::new();
        for (local, remote, array) in &data {
            let per_dim: Vec<Option<&BTreeSet<u64>>> = array
                .dims
                .iter()
                .map(|d| wanted.iter().find(|(w, _)| w == d).map(|(_, s)| s))
                .collect();
            let remote_keys = array.chunk_keys(url, remote, &per_dim, self.limits().max_chunks)?;
            chunk_keys.extend(remote_keys.into_iter().map(|key| {
                let local_key = format!("{local}{}", &key[remote.len()..]);
                (key, local_key)
            }));
        }
        let chunks = chunk_keys.len();
        self.fetch_keys(url, partial, chunk_keys, true, &total)
            .await?;
        let bytes = total.into_inner();
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(%url, chunks, bytes, seconds, "truth subset downloaded");
        Ok(bytes)
    }

    /// Element indices per selected dimension, read from the coordinates already mirrored.
    async fn selected_indices(
        &self,
        url: &str,
        partial: &Path,
        subset: &Subset,
    ) -> Result<Vec<(String, BTreeSet<u64>)>, CacheError> {
        let location = partial.display().to_string();
        let subset = subset.clone();
        let url_owned = url.to_owned();
        let bad = move |reason: String| CacheError::Metadata {
            url: url_owned.clone(),
            reason,
        };
        let not_available = |reason: String| CacheError::NotAvailable {
            url: url.into(),
            reason,
        };
        let read = tokio::task::spawn_blocking(move || {
            let options = gaia_scoring::zarr::OpenOptions::default();
            let ds = gaia_scoring::zarr::Dataset::open(&location, &options)
                .map_err(|e| bad(e.to_string()))?;
            let mut out = Vec::new();
            for (dim, selection) in &subset.select {
                let picked = match selection {
                    Selection::Times(times) => {
                        let stored = ds.times().map_err(|e| bad(format!("{dim}: {e}")))?;
                        Ok::<_, CacheError>(Picked::Times(times.clone(), stored))
                    }
                    Selection::Nearest(values) => {
                        let stored = ds.read_1d(dim).map_err(|e| bad(format!("{dim}: {e}")))?;
                        Ok(Picked::Nearest(values.clone(), stored))
                    }
                }?;
                out.push((dim.clone(), picked));
            }
            Ok::<_, CacheError>(out)
        })
        .await
        .map_err(|e| CacheError::Metadata {
            url: url.into(),
            reason: format!("coordinate reader stopped: {e}"),
        })??;
        read.into_iter()
            .map(|(dim, picked)| Ok((dim.clone(), picked.indices(&dim, &not_available)?)))
            .collect()
    }

    /// Download `(remote key, local key)` pairs into `partial`; a missing key is an error when
    /// `required`, otherwise left out (a fill-value chunk).
    async fn fetch_keys(
        &self,
        url: &str,
        partial: &Path,
        keys: Vec<(String, String)>,
        required: bool,
        total: &AtomicU64,
    ) -> Result<(), CacheError> {
        let base = url.trim_end_matches('/');
        let count = keys.len();
        let done = AtomicU64::new(0);
        let started = Instant::now();
        futures::stream::iter(keys.into_iter().map(|(remote, local)| {
            let done = &done;
            async move {
                let Some(bytes) = self.get(&format!("{base}/{remote}")).await? else {
                    if required {
                        return Err(CacheError::NotAvailable {
                            url: url.into(),
                            reason: format!("chunk {remote} is not there (yet)"),
                        });
                    }
                    return Ok(());
                };
                let size = bytes.len() as u64;
                let sum = total.fetch_add(size, Ordering::Relaxed) + size;
                if sum > self.limits().max_store_bytes {
                    return Err(CacheError::TooLarge {
                        url: url.into(),
                        reason: format!("over {} bytes", self.limits().max_store_bytes),
                    });
                }
                write(partial, &local, &bytes).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(50) || started.elapsed().as_secs() >= 30 && n.is_multiple_of(5)
                {
                    tracing::info!(%url, chunks = n, of = count, bytes = sum,
                        seconds = started.elapsed().as_secs_f64(), "truth subset progress");
                }
                Ok(())
            }
        }))
        .buffer_unordered(self.limits().concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
    }
}

/// Wanted values with the stored coordinate they are looked up in.
enum Picked {
    Times(Vec<DateTime<Utc>>, Vec<DateTime<Utc>>),
    Nearest(Vec<f64>, Vec<f64>),
}

impl Picked {
    fn indices(
        &self,
        dim: &str,
        not_available: &impl Fn(String) -> CacheError,
    ) -> Result<BTreeSet<u64>, CacheError> {
        match self {
            Picked::Times(wanted, stored) => wanted
                .iter()
                .map(|t| {
                    stored
                        .iter()
                        .position(|s| s == t)
                        .map(|i| i as u64)
                        .ok_or_else(|| {
                            let last = stored.iter().max().map(DateTime::to_rfc3339);
                            not_available(format!(
                                "{dim} {} not in the store yet (latest {})",
                                t.to_rfc3339(),
                                last.unwrap_or_else(|| "none".into())
                            ))
                        })
                })
                .collect(),
            Picked::Nearest(wanted, stored) => wanted
                .iter()
                .map(|v| {
                    stored
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_finite())
                        .min_by(|a, b| (a.1 - v).abs().total_cmp(&(b.1 - v).abs()))
                        .map(|(i, _)| i as u64)
                        .ok_or_else(|| not_available(format!("{dim} has no values")))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[path = "subset_tests.rs"]
mod tests;
