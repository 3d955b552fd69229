//! A simulated miner's forecast store for one GFS cycle (spec §1.3 layout, §2.1 manifest): 40
//! steps of 6 h written from the world with the behaviour's errors and defects, then
//! `manifest.json` built with `gaia_protocol` exactly as the Python miner does and
//! `manifest.sig` signed with the miner's sr25519 key.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use gaia_protocol::{build_manifest, verification_hash, weather_job_id, Signer};

use crate::behaviour::Behaviour;
use crate::keys::store_dir_name;
use crate::world::fields::units;
use crate::world::stores::{write_dataset, DatasetSpec, StoreLayout};
use crate::world::{ErrorModel, World};
use crate::zarr_v2::{compress, f32_bytes};
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

/// Write miner `uid`'s forecast for `gfs_init` under `forecasts_root`, then its manifest and
/// signature. Replaces any earlier store of the same name.
pub fn build_forecast(
    world: &World,
    forecasts_root: &Path,
    uid: u16,
    signer: &Signer,
    behaviour: &Behaviour,
    gfs_init: DateTime<Utc>,
) -> Result<ForecastStore, SimError> {
    let hotkey = signer.ss58();
    let job_id = weather_job_id(gfs_init, &hotkey);
    let dir_name = store_dir_name(gfs_init, &hotkey, &job_id);
    let path = forecasts_root.join(&dir_name);
    let leads: Vec<i64> = (1..=STEPS).map(|k| k * STEP_HOURS).collect();
    let times: Vec<DateTime<Utc>> = leads
        .iter()
        .map(|h| gfs_init + TimeDelta::hours(*h))
        .collect();
    let layout = behaviour.layout();
    let production = layout == StoreLayout::Production;
    let spec = DatasetSpec {
        times: times.clone(),
        // Production miners count hours from the first step (T0+6h) and write no lead_time.
        time_origin: if production {
            gfs_init + TimeDelta::hours(STEP_HOURS)
        } else {
            gfs_init
        },
        lead_hours: (!production).then(|| leads.clone()),
        title: format!("Gaia weather forecast (simulated miner {uid}, {behaviour})"),
        layout,
    };
    let err = error_model(behaviour, uid);
    let (nlat, nlon) = (world.lat().len(), world.lon().len());
    let units_of = |var: &str| served_units(behaviour, var);
    write_dataset(&path, world, &spec, &units_of, &mut |var, level, ti| {
        let mut v = world.plane(var, level, times[ti], leads[ti] as f64, &err)?;
        defect(behaviour, var, &mut v, nlat, nlon);
        Ok(v)
    })?;
    let swap = match behaviour {
        Behaviour::ChunkSwapper => {
            let mut v = world.plane("2t", None, times[1], leads[1] as f64, &err)?;
            v.iter_mut().for_each(|x| *x += 3.0);
            Some(ChunkSwap {
                key: SWAPPED_CHUNK.into(),
                replacement: compress(&f32_bytes(&v))?,
            })
        }
        _ => None,
    };
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
    let claimed_hash = match behaviour {
        Behaviour::LyingHash => {
            let mut lie = built.bytes.clone();
            lie.extend_from_slice(b"\n");
            verification_hash(&lie)
        }
        _ => built.verification_hash.clone(),
    };
    Ok(ForecastStore {
        job_id,
        dir_name,
        path,
        manifest_hash: built.verification_hash,
        claimed_hash,
        swap,
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
