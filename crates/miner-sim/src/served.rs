//! A miner's forecast store served from memory, never written to disk: each data chunk is
//! generated on request from the world and the [`ForecastPlan`] (world seed, behaviour, GFS
//! cycle, variable, chunk index); metadata, coordinates and `manifest.json` are computed the same
//! way. What stays resident per store is its names, hashes and signature (a few hundred bytes);
//! the metadata and manifest bytes are a cache the miner drops for all but its most recently
//! used stores and recomputes on demand, checking the recomputed manifest against the hash it
//! first reported. So a fleet of any size costs no disk, a request costs at most one chunk (or
//! one pass over the store, hashing chunk by chunk, for a dropped manifest), and every byte is
//! identical across requests and restarts (the manifest's sr25519 signature, randomised by
//! schnorrkel, is made once per store). See docs/miner-sim.md.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gaia_protocol::{
    verification_hash, Manifest, Signer, CHUNK_HASH_ALGORITHM, MANIFEST_SCHEMA_VERSION,
    PROFILE_STRUCTURE_VERSION,
};

use crate::forecast::{is_data_var, ForecastPlan, SWAPPED_CHUNK};
use crate::world::sink::{Files, MemSink};
use crate::world::stores::group_attrs;
use crate::world::World;
use crate::SimError;

/// `manifest.json` and `manifest.sig`, served beside the store's files.
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";

/// What a store path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file and its bytes.
    File(Vec<u8>),
    /// A directory and its sorted entry names.
    Dir(Vec<String>),
}

/// One miner's store for one GFS cycle.
#[derive(Debug)]
pub struct ServedForecast {
    world: Arc<World>,
    plan: ForecastPlan,
    /// The deterministic job id.
    pub job_id: String,
    /// Directory name (`weather_forecast_..._.zarr`), the token's `file_path`.
    pub dir_name: String,
    /// SHA-256 of `manifest.json`.
    pub manifest_hash: String,
    /// The hash the miner reports (differs from `manifest_hash` only for `lying_hash`).
    pub claimed_hash: String,
    signature: Vec<u8>,
    swapped: AtomicBool,
    last_used: AtomicU64,
    meta: Mutex<Option<Arc<Files>>>,
    manifest: Mutex<Option<Arc<Vec<u8>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The manifest of `plan`'s store: one pass generating every file, hashing and dropping each.
fn compute_manifest(world: &World, plan: &ForecastPlan) -> Result<Vec<u8>, SimError> {
    let mut sink = MemSink::create(
        group_attrs(&plan.spec()),
        &crate::world::fields::SURFACE_VARS
            .iter()
            .chain(crate::world::fields::ATMOS_VARS.iter())
            .copied()
            .collect::<Vec<_>>(),
    )?;
    plan.write_to(world, &mut sink, true)?;
    let (_, files) = sink.finish()?;
    Ok(Manifest {
        manifest_schema_version: MANIFEST_SCHEMA_VERSION.into(),
        profile_structure_version: PROFILE_STRUCTURE_VERSION.into(),
        chunk_hash_algorithm: CHUNK_HASH_ALGORITHM.into(),
        signer_hotkey_ss58: plan.hotkey.clone(),
        files,
    }
    .to_python_bytes())
}

/// Metadata and coordinate files of `plan`'s store (no data chunk is generated).
fn compute_meta(world: &World, plan: &ForecastPlan) -> Result<Files, SimError> {
    let mut sink = MemSink::create(group_attrs(&plan.spec()), &[])?;
    plan.write_to(world, &mut sink, false)?;
    Ok(sink.finish()?.0)
}

impl ServedForecast {
    /// Compute the store's manifest (one pass over every chunk), sign it with `signer` and keep
    /// the bytes cached.
    pub fn build(world: Arc<World>, plan: ForecastPlan, signer: &Signer) -> Result<Self, SimError> {
        let bytes = compute_manifest(&world, &plan)?;
        Ok(Self {
            job_id: plan.job_id(),
            dir_name: plan.dir_name(),
            manifest_hash: verification_hash(&bytes),
            claimed_hash: plan.claimed_hash(&bytes),
            signature: signer.sign(&bytes).to_vec(),
            swapped: AtomicBool::new(false),
            last_used: AtomicU64::new(0),
            meta: Mutex::new(None),
            manifest: Mutex::new(Some(Arc::new(bytes))),
            world,
            plan,
        })
    }

    /// What the store was built from.
    pub fn plan(&self) -> &ForecastPlan {
        &self.plan
    }

    /// Whether the chunk swapper has swapped its chunk.
    pub fn swapped(&self) -> bool {
        self.swapped.load(Ordering::SeqCst)
    }

    /// Chunk swapper: swap once, on the first manifest fetch; other behaviours never swap.
    pub fn on_manifest_fetched(&self) {
        if self.plan.behaviour == crate::Behaviour::ChunkSwapper
            && !self.swapped.swap(true, Ordering::SeqCst)
        {
            tracing::info!(key = SWAPPED_CHUNK, "chunk swapped after manifest fetch");
        }
    }

    /// Mark the store used at `tick` (the miner keeps caches of its latest-used stores).
    pub(crate) fn touch(&self, tick: u64) {
        self.last_used.store(tick, Ordering::Relaxed);
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Drop the cached metadata and manifest bytes (recomputed when asked for again).
    pub fn drop_cache(&self) {
        *lock(&self.meta) = None;
        *lock(&self.manifest) = None;
    }

    /// Whether metadata or manifest bytes are cached.
    pub fn is_cached(&self) -> bool {
        lock(&self.meta).is_some() || lock(&self.manifest).is_some()
    }

    /// The exact bytes of `manifest.json`.
    pub fn manifest_bytes(&self) -> Result<Arc<Vec<u8>>, SimError> {
        if let Some(m) = lock(&self.manifest).as_ref() {
            return Ok(Arc::clone(m));
        }
        let bytes = compute_manifest(&self.world, &self.plan)?;
        if verification_hash(&bytes) != self.manifest_hash {
            return Err(SimError::Encode(format!(
                "the manifest of {} recomputed to other bytes",
                self.dir_name
            )));
        }
        let bytes = Arc::new(bytes);
        *lock(&self.manifest) = Some(Arc::clone(&bytes));
        Ok(bytes)
    }

    fn meta(&self) -> Result<Arc<Files>, SimError> {
        if let Some(m) = lock(&self.meta).as_ref() {
            return Ok(Arc::clone(m));
        }
        let m = Arc::new(compute_meta(&self.world, &self.plan)?);
        *lock(&self.meta) = Some(Arc::clone(&m));
        Ok(m)
    }

    /// The file or directory at store-relative `rel` (`""` is the root), as currently served
    /// (the swapped chunk once swapped); None if the store has no such path. Never triggers the
    /// swap.
    pub fn entry(&self, rel: &str) -> Result<Option<Entry>, SimError> {
        let rel = rel.trim_matches('/');
        match rel {
            MANIFEST => return Ok(Some(Entry::File(self.manifest_bytes()?.to_vec()))),
            SIGNATURE => return Ok(Some(Entry::File(self.signature.clone()))),
            _ => {}
        }
        let meta = self.meta()?;
        if let Some(b) = meta.get(rel) {
            return Ok(Some(Entry::File(b.clone())));
        }
        if rel == SWAPPED_CHUNK && self.swapped() {
            let swap = self.plan.swap(&self.world)?;
            return Ok(swap.map(|s| Entry::File(s.replacement)));
        }
        if let Some(b) = self.plan.chunk(&self.world, rel)? {
            return Ok(Some(Entry::File(b)));
        }
        // Directories: the root and one per array.
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        let mut names: BTreeSet<String> = meta
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        if rel.is_empty() {
            names.extend([MANIFEST.to_owned(), SIGNATURE.to_owned()]);
        } else if is_data_var(rel) {
            names.extend(self.plan.chunk_keys(rel));
        }
        Ok(Some(Entry::Dir(names.into_iter().collect())))
    }
}

#[cfg(test)]
mod tests;
