//! A simulated miner's forecast store for one GFS cycle (spec §1.3 layout, §2.1 manifest): 40
//! steps of 6 h from the world with the behaviour's errors and defects, `manifest.json` exactly
//! as the Python miner writes it and `manifest.sig` signed with the miner's sr25519 key.
//! [`ForecastPlan`] decides every byte; [`build_forecast`] writes the store to disk, while the
//! miners serve it from memory ([`crate::served`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use gaia_protocol::{build_manifest, verification_hash, weather_job_id, Signer};

use crate::behaviour::Behaviour;
use crate::keys::store_dir_name;
use crate::world::fields::{units, ATMOS_VARS, LEVELS_HPA, SURFACE_VARS};
use crate::world::sink::ZarrSink;
use crate::world::stores::{
    chunk_values, data_compressor, group_attrs, write_dataset_to, DatasetSpec, PlaneFn, StoreLayout,
};
use crate::world::{ErrorModel, World};
use crate::zarr_v2::{compress, f32_bytes, StoreWriter};
use crate::SimError;

/// Forecast steps (`WEATHER_INFERENCE_STEPS`).
pub const STEPS: i64 = 40;
/// Hours per step (`WEATHER_FORECAST_STEP_HOURS`).
pub const STEP_HOURS: i64 = 6;
/// The chunk the chunk swapper rewrites: `2t` at time index 1 (lead 12 h, the Day-1 lead).
pub const SWAPPED_CHUNK: &str = "2t/1.0.0";
/// Skill of the values served by behaviours other than `honest` and `gfs_cloner`.
pub const DEFAULT_SKILL: f64 = 0.75;

/// A chunk to be replaced after the manifest was fetched.
#[derive(Debug, Clone)]
pub struct ChunkSwap {
    /// Store-relative key (`2t/1.0.0`).
    pub key: String,
    /// The bytes written over it.
    pub replacement: Vec<u8>,
}

/// A finished forecast store.
#[derive(Debug, Clone)]
pub struct ForecastStore {
    /// The deterministic job id (spec §1.3 DJ).
    pub job_id: String,
    /// Directory name (`weather_forecast_..._.zarr`), the token's `file_path`.
    pub dir_name: String,
    /// Absolute path of the store.
    pub path: PathBuf,
    /// SHA-256 of `manifest.json` as written.
    pub manifest_hash: String,
    /// The hash the miner reports (differs from `manifest_hash` only for `lying_hash`).
    pub claimed_hash: String,
    /// Set for `chunk_swapper`.
    pub swap: Option<ChunkSwap>,
}

/// The error model behind a behaviour's values for miner `uid`.
pub fn error_model(behaviour: &Behaviour, uid: u16) -> ErrorModel {
    let stream = 0x1000 + u64::from(uid);
    match behaviour {
        Behaviour::Honest { skill } => ErrorModel::honest(*skill, stream),
        Behaviour::GfsCloner => ErrorModel::GFS,
        Behaviour::Slow { .. } => ErrorModel::honest(behaviour.skill(), stream),
        _ => ErrorModel::honest(DEFAULT_SKILL, stream),
    }
}

/// True inside the NaN injector's hole: an interior block of ~15 % of the grid (rows 25–65 %,
/// columns 33–70 %), away from the border the ERA5 edge salvage would repair.
fn in_hole(i: usize, j: usize, nlat: usize, nlon: usize) -> bool {
    let r = i as f64 / nlat as f64;
    let c = j as f64 / nlon as f64;
    (0.25..0.65).contains(&r) && (0.33..0.705).contains(&c)
}

fn served_units(behaviour: &Behaviour, var: &str) -> String {
    match (behaviour, var) {
        (Behaviour::WrongUnits, "2t" | "t") => "degC".into(),
        (Behaviour::WrongUnits, "msl") => "hPa".into(),
        _ => units(var).into(),
    }
}

fn defect(behaviour: &Behaviour, var: &str, values: &mut [f32], nlat: usize, nlon: usize) {
    match (behaviour, var) {
        (Behaviour::WrongUnits, "2t" | "t") => values.iter_mut().for_each(|v| *v -= 273.15),
        (Behaviour::WrongUnits, "msl") => values.iter_mut().for_each(|v| *v /= 100.0),
        (Behaviour::NanInjector, _) => {
            for (k, v) in values.iter_mut().enumerate() {
                if in_hole(k / nlon, k % nlon, nlat, nlon) {
                    *v = f32::NAN;
                }
            }
        }
        _ => {}
    }
}

/// Everything that decides a miner's forecast store for one GFS cycle: the store is a pure
/// function of the world, this plan and the variable and chunk index, so it can be written to
/// disk ([`build_forecast`]) or generated chunk by chunk on request ([`crate::served`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastPlan {
    /// The miner's uid (its noise stream).
    pub uid: u16,
    /// Its SS58 hotkey (job id, directory name, manifest signer).
    pub hotkey: String,
    /// What it does.
    pub behaviour: Behaviour,
    /// The GFS cycle.
    pub gfs_init: DateTime<Utc>,
}

impl ForecastPlan {
    /// The plan of miner `uid` with `hotkey` for `gfs_init`.
    pub fn new(uid: u16, hotkey: &str, behaviour: Behaviour, gfs_init: DateTime<Utc>) -> Self {
        Self {
            uid,
            hotkey: hotkey.to_owned(),
            behaviour,
            gfs_init,
        }
    }

    /// The deterministic job id (spec §1.3 DJ).
    pub fn job_id(&self) -> String {
        weather_job_id(self.gfs_init, &self.hotkey)
    }

    /// The store's directory name (the token's `file_path`).
    pub fn dir_name(&self) -> String {
        store_dir_name(self.gfs_init, &self.hotkey, &self.job_id())
    }

    /// The store layout.
    pub fn layout(&self) -> StoreLayout {
        self.behaviour.layout()
    }

    fn leads(&self) -> Vec<i64> {
        (1..=STEPS).map(|k| k * STEP_HOURS).collect()
    }

    fn times(&self) -> Vec<DateTime<Utc>> {
        self.leads()
            .iter()
            .map(|h| self.gfs_init + TimeDelta::hours(*h))
            .collect()
    }

    /// The dataset's times, coordinates and title.
    pub fn spec(&self) -> DatasetSpec {
        let layout = self.layout();
        let production = layout == StoreLayout::Production;
        DatasetSpec {
            times: self.times(),
            // Production miners count hours from the first step (T0+6h) and write no lead_time.
            time_origin: if production {
                self.gfs_init + TimeDelta::hours(STEP_HOURS)
            } else {
                self.gfs_init
            },
            lead_hours: (!production).then(|| self.leads()),
            title: format!(
                "Gaia weather forecast (simulated miner {}, {})",
                self.uid, self.behaviour
            ),
            layout,
        }
    }

    /// The values of `(variable, level, time index)` this miner serves, defects included.
    pub fn plane(
        &self,
        world: &World,
        var: &str,
        level: Option<f64>,
        ti: usize,
    ) -> Result<Vec<f32>, SimError> {
        let lead = self
            .leads()
            .get(ti)
            .copied()
            .ok_or_else(|| SimError::Config(format!("no time index {ti}")))?;
        let valid = self.gfs_init + TimeDelta::hours(lead);
        let err = error_model(&self.behaviour, self.uid);
        let mut v = world.plane(var, level, valid, lead as f64, &err)?;
        defect(
            &self.behaviour,
            var,
            &mut v,
            world.lat().len(),
            world.lon().len(),
        );
        Ok(v)
    }

    /// Write the store into `sink`: metadata and coordinates, and the data chunks too when
    /// `data` is set.
    pub fn write_to<S: ZarrSink>(
        &self,
        world: &World,
        sink: &mut S,
        data: bool,
    ) -> Result<(), SimError> {
        let units_of = |var: &str| served_units(&self.behaviour, var);
        let mut plane =
            |var: &str, level: Option<f64>, ti: usize| self.plane(world, var, level, ti);
        let plane: Option<&mut PlaneFn<'_>> = if data { Some(&mut plane) } else { None };
        write_dataset_to(sink, world, &self.spec(), &units_of, plane)
    }

    /// The stored bytes of the data chunk `key` (`2t/1.0.0`, `t/3.5.0.0`, …), or None if the
    /// store has no such chunk.
    pub fn chunk(&self, world: &World, key: &str) -> Result<Option<Vec<u8>>, SimError> {
        let Some((var, index)) = key.split_once('/') else {
            return Ok(None);
        };
        if !is_data_var(var) {
            return Ok(None);
        }
        let idx: Option<Vec<usize>> = index.split('.').map(canonical_index).collect();
        let Some(idx) = idx else {
            return Ok(None);
        };
        let layout = self.layout();
        let atmos = ATMOS_VARS.contains(&var);
        let (ti, li) = match (atmos, layout, idx.as_slice()) {
            (false, _, [ti, 0, 0]) => (*ti, None),
            (true, StoreLayout::Production, [ti, 0, 0, 0]) => (*ti, None),
            (true, StoreLayout::Reference, [ti, li, 0, 0]) if *li < LEVELS_HPA.len() => {
                (*ti, Some(*li))
            }
            _ => return Ok(None),
        };
        if ti >= STEPS as usize {
            return Ok(None);
        }
        let mut plane =
            |var: &str, level: Option<f64>, ti: usize| self.plane(world, var, level, ti);
        let v = chunk_values(var, ti, li, layout, &mut plane)?;
        Ok(Some(data_compressor(layout).compress(&f32_bytes(&v), 4)?))
    }

    /// The chunk keys of data variable `var` (empty for any other name).
    pub fn chunk_keys(&self, var: &str) -> Vec<String> {
        if !is_data_var(var) {
            return Vec::new();
        }
        let atmos = ATMOS_VARS.contains(&var);
        let reference = self.layout() == StoreLayout::Reference;
        (0..STEPS)
            .flat_map(|ti| match (atmos, reference) {
                (true, true) => (0..LEVELS_HPA.len())
                    .map(|li| format!("{ti}.{li}.0.0"))
                    .collect::<Vec<_>>(),
                (true, false) => vec![format!("{ti}.0.0.0")],
                (false, _) => vec![format!("{ti}.0.0")],
            })
            .collect()
    }

    /// The chunk swapper's replacement of [`SWAPPED_CHUNK`] (`2t` + 3 K at lead 12 h).
    pub fn swap(&self, world: &World) -> Result<Option<ChunkSwap>, SimError> {
        if self.behaviour != Behaviour::ChunkSwapper {
            return Ok(None);
        }
        let mut v = self.plane(world, "2t", None, 1)?;
        v.iter_mut().for_each(|x| *x += 3.0);
        Ok(Some(ChunkSwap {
            key: SWAPPED_CHUNK.into(),
            replacement: compress(&f32_bytes(&v))?,
        }))
    }

    /// The hash this miner reports for a manifest of `bytes` (a wrong one for `lying_hash`).
    pub fn claimed_hash(&self, bytes: &[u8]) -> String {
        match self.behaviour {
            Behaviour::LyingHash => {
                let mut lie = bytes.to_vec();
                lie.extend_from_slice(b"\n");
                verification_hash(&lie)
            }
            _ => verification_hash(bytes),
        }
    }
}

/// True for the nine forecast variables (the arrays whose chunks are generated on request).
pub fn is_data_var(name: &str) -> bool {
    SURFACE_VARS.contains(&name) || ATMOS_VARS.contains(&name)
}

/// A chunk index component as the writer names it (decimal, no sign, no leading zero).
fn canonical_index(p: &str) -> Option<usize> {
    let n: usize = p.parse().ok()?;
    (n.to_string() == p).then_some(n)
}

/// Write miner `uid`'s forecast for `gfs_init` under `forecasts_root`, then its manifest and
/// signature (the on-disk form of what [`crate::served`] serves from memory; tests score it
/// from disk). Replaces any earlier store of the same name.
pub fn build_forecast(
    world: &World,
    forecasts_root: &Path,
    uid: u16,
    signer: &Signer,
    behaviour: &Behaviour,
    gfs_init: DateTime<Utc>,
) -> Result<ForecastStore, SimError> {
    let hotkey = signer.ss58();
    let plan = ForecastPlan::new(uid, &hotkey, *behaviour, gfs_init);
    let dir_name = plan.dir_name();
    let path = forecasts_root.join(&dir_name);
    let mut w = StoreWriter::create(&path, group_attrs(&plan.spec()))?;
    plan.write_to(world, &mut w, true)?;
    w.finish()?;
    let built = build_manifest(&path, &hotkey)?;
    let manifest_path = path.join("manifest.json");
    std::fs::write(&manifest_path, &built.bytes).map_err(|source| SimError::Io {
        path: manifest_path,
        source,
    })?;
    let sig_path = path.join("manifest.sig");
    std::fs::write(&sig_path, signer.sign(&built.bytes)).map_err(|source| SimError::Io {
        path: sig_path,
        source,
    })?;
    Ok(ForecastStore {
        job_id: plan.job_id(),
        dir_name,
        path,
        claimed_hash: plan.claimed_hash(&built.bytes),
        manifest_hash: built.verification_hash,
        swap: plan.swap(world)?,
    })
}

impl ForecastStore {
    /// Apply the chunk swap (if any) to the store on disk; returns whether bytes changed.
    pub fn apply_swap(&self) -> Result<bool, SimError> {
        let Some(swap) = &self.swap else {
            return Ok(false);
        };
        let target = self.path.join(&swap.key);
        let tmp = self.path.join(format!("{}.swap", swap.key));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SimError::Io { path, source }
        };
        std::fs::write(&tmp, &swap.replacement).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        Ok(true)
    }
}
