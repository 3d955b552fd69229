//! Writing the world as Zarr v2 stores in the layouts the validator reads: the GFS analysis
//! (truth for Day-1), the GFS 00Z forecast (Day-1 reference), ERA5 (truth for leads 24…240 h)
//! and a WeatherBench2-layout climatology. [`write_dataset_to`] is also what miner forecasts use,
//! on disk or in memory ([`super::sink`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fields::{self, ATMOS_VARS, LEVELS_HPA, SURFACE_VARS};
use super::sink::ZarrSink;
use super::{ErrorModel, World};
use crate::zarr_v2::{attrs, f32_bytes, ArraySpec, Compressor, Dtype, StoreWriter};
use crate::SimError;

/// ERA5 truth times written, as leads in hours after the GFS init.
pub const ERA5_LEADS: [i64; 10] = [24, 48, 72, 96, 120, 144, 168, 192, 216, 240];
/// GFS analysis times written, as hours after the GFS init (Day-1 truth is at +12 h).
pub const ANALYSIS_HOURS: [i64; 4] = [0, 6, 12, 18];
/// The climatology's `hour` coordinate.
pub const CLIMATOLOGY_HOURS: [i64; 4] = [0, 6, 12, 18];

/// Where a world's stores were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldPaths {
    /// GFS analysis (truth for Day-1), times gfs_init + 0/6/12/18 h.
    pub gfs_analysis: PathBuf,
    /// GFS 00Z forecast (Day-1 reference), times gfs_init + 6…240 h.
    pub gfs_forecast: PathBuf,
    /// ERA5 truth, times gfs_init + 24…240 h every 24 h.
    pub era5: PathBuf,
    /// WeatherBench2-layout climatology (hour × dayofyear around the run).
    pub climatology: PathBuf,
}

/// Produces the values of `(variable, level hPa, time index)` for [`write_dataset`].
pub type PlaneFn<'a> = dyn FnMut(&str, Option<f64>, usize) -> Result<Vec<f32>, SimError> + 'a;

/// What goes into one forecast-layout dataset.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Valid times, one chunk row each.
    pub times: Vec<DateTime<Utc>>,
    /// Origin of the CF time encoding (`hours since <origin>`).
    pub time_origin: DateTime<Utc>,
    /// Optional `lead_time` coordinate (hours) along `time`, as miners write it.
    pub lead_hours: Option<Vec<i64>>,
    /// Group `title` attribute.
    pub title: String,
    /// How the store is laid out.
    pub layout: StoreLayout,
}

/// The on-disk layout of a forecast-layout dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreLayout {
    /// The layout of the spec's miner (§1.3) and of the validator's truth stores: level dim
    /// `pressure_level` (int64), float64 `time`, zstd, one chunk per time step and level.
    #[default]
    Reference,
    /// The production miner's layout (Gaia v2.9.96): dims `time, plev, lat, lon`, no
    /// `lead_time`, int64 `time` as hours since T0+6h, int32 `plev` (blosc-lz4), float32 values
    /// blosc-zstd level 3 with bit-shuffle, `coordinates` attributes, and all 13 levels of a time
    /// step in one chunk.
    Production,
}

fn cf_origin(t: DateTime<Utc>) -> String {
    format!("hours since {}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// The group attributes of a forecast-layout dataset.
pub fn group_attrs(spec: &DatasetSpec) -> serde_json::Map<String, serde_json::Value> {
    attrs([
        ("title", json!(spec.title)),
        ("source", json!("gaia-miner-sim synthetic world")),
    ])
}

/// Write a dataset with the nine variables on `world`'s grid (dims `time, [pressure_level,]
/// lat, lon`, chunks of one time step and one level) to the directory `path`. `units(var)`
/// gives each variable's `units` attribute; `plane(var, level, time_index)` its values.
pub fn write_dataset(
    path: &Path,
    world: &World,
    spec: &DatasetSpec,
    units: &dyn Fn(&str) -> String,
    plane: &mut PlaneFn<'_>,
) -> Result<PathBuf, SimError> {
    let mut w = StoreWriter::create(path, group_attrs(spec))?;
    write_dataset_to(&mut w, world, spec, units, Some(plane))?;
    Ok(w.finish()?)
}

/// The chunk keys and compression of data variables in `layout`.
pub fn data_compressor(layout: StoreLayout) -> Compressor {
    match layout {
        StoreLayout::Production => Compressor::PRODUCTION_VALUES,
        StoreLayout::Reference => Compressor::Zstd,
    }
}

/// The values of one data chunk: time index `ti` of `var`, level index `li` for pressure-level
/// variables in the reference layout (all 13 levels in one chunk in the production layout).
pub fn chunk_values(
    var: &str,
    ti: usize,
    li: Option<usize>,
    layout: StoreLayout,
    plane: &mut PlaneFn<'_>,
) -> Result<Vec<f32>, SimError> {
    if !ATMOS_VARS.contains(&var) {
        return plane(var, None, ti);
    }
    match (layout, li) {
        (StoreLayout::Production, _) => {
            let mut all = Vec::new();
            for lev in LEVELS_HPA {
                all.extend(plane(var, Some(lev as f64), ti)?);
            }
            Ok(all)
        }
        (StoreLayout::Reference, Some(li)) => {
            let lev = LEVELS_HPA
                .get(li)
                .ok_or_else(|| SimError::Config(format!("no level index {li}")))?;
            plane(var, Some(*lev as f64), ti)
        }
        (StoreLayout::Reference, None) => {
            Err(SimError::Config(format!("`{var}` needs a level index")))
        }
    }
}

/// [`write_dataset`] into any sink; with `plane` None only metadata and coordinates are
/// written (the data chunks are skipped).
pub fn write_dataset_to<S: ZarrSink>(
    w: &mut S,
    world: &World,
    spec: &DatasetSpec,
    units: &dyn Fn(&str) -> String,
    mut plane: Option<&mut PlaneFn<'_>>,
) -> Result<(), SimError> {
    let (nlat, nlon) = (world.lat().len() as u64, world.lon().len() as u64);
    let nt = spec.times.len() as u64;
    let nl = LEVELS_HPA.len() as u64;
    let production = spec.layout == StoreLayout::Production;
    let level_dim = if production { "plev" } else { "pressure_level" };
    if production {
        w.set_coord_compressor(Compressor::PRODUCTION_COORDS);
    }
    let hours: Vec<f64> = spec
        .times
        .iter()
        .map(|t| (*t - spec.time_origin).num_seconds() as f64 / 3600.0)
        .collect();
    let time_attrs = attrs([
        ("units", json!(cf_origin(spec.time_origin))),
        ("calendar", json!("proleptic_gregorian")),
        ("standard_name", json!("time")),
    ]);
    if production {
        let whole: Vec<i64> = hours.iter().map(|h| h.round() as i64).collect();
        w.put_coord_i64("time", &whole, time_attrs)?;
        let levels: Vec<i32> = LEVELS_HPA.iter().map(|&l| l as i32).collect();
        w.put_coord_i32(
            level_dim,
            &levels,
            attrs([("units", json!("hPa")), ("long_name", json!("pressure"))]),
        )?;
    } else {
        w.put_coord_f64("time", &hours, time_attrs)?;
        w.put_coord_i64(
            level_dim,
            &LEVELS_HPA,
            attrs([("units", json!("hPa")), ("long_name", json!("pressure"))]),
        )?;
    }
    w.put_coord_f64(
        "lat",
        world.lat(),
        attrs([("units", json!("degrees_north"))]),
    )?;
    w.put_coord_f64(
        "lon",
        world.lon(),
        attrs([("units", json!("degrees_east"))]),
    )?;
    let mut coordinates = None;
    if let Some(leads) = &spec.lead_hours {
        let lead_spec = ArraySpec {
            name: "lead_time".into(),
            dims: vec!["time".into()],
            shape: vec![leads.len() as u64],
            chunks: vec![leads.len() as u64],
            dtype: Dtype::I64,
            attrs: attrs([("units", json!("hours"))]),
            compressor: Compressor::Zstd,
        };
        w.add_array(&lead_spec)?;
        let raw: Vec<u8> = leads.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.put_chunk("lead_time", &[0], &raw)?;
        coordinates = Some(json!("lead_time"));
    }
    for var in SURFACE_VARS.iter().chain(ATMOS_VARS.iter()) {
        let atmos = ATMOS_VARS.contains(var);
        let mut a = attrs([
            ("units", json!(units(var))),
            ("long_name", json!(fields::long_name(var))),
        ]);
        if let Some(c) = &coordinates {
            a.insert("coordinates".into(), c.clone());
        }
        if production {
            let c = if atmos {
                "time plev lat lon"
            } else {
                "time lat lon"
            };
            a.insert("coordinates".into(), json!(c));
        }
        let level_chunk = if production { nl } else { 1 };
        let (dims, shape, chunks) = if atmos {
            (
                vec!["time", level_dim, "lat", "lon"],
                vec![nt, nl, nlat, nlon],
                vec![1, level_chunk, nlat, nlon],
            )
        } else {
            (
                vec!["time", "lat", "lon"],
                vec![nt, nlat, nlon],
                vec![1, nlat, nlon],
            )
        };
        w.add_array(&ArraySpec {
            name: (*var).to_owned(),
            dims: dims.into_iter().map(str::to_owned).collect(),
            shape,
            chunks,
            dtype: Dtype::F32,
            attrs: a,
            compressor: data_compressor(spec.layout),
        })?;
        let Some(plane) = plane.as_deref_mut() else {
            continue;
        };
        for ti in 0..spec.times.len() {
            let t = ti as u64;
            if atmos && !production {
                for li in 0..LEVELS_HPA.len() {
                    let v = chunk_values(var, ti, Some(li), spec.layout, plane)?;
                    w.put_chunk(var, &[t, li as u64, 0, 0], &f32_bytes(&v))?;
                }
            } else {
                let v = chunk_values(var, ti, None, spec.layout, plane)?;
                let index: &[u64] = if atmos { &[t, 0, 0, 0] } else { &[t, 0, 0] };
                w.put_chunk(var, index, &f32_bytes(&v))?;
            }
        }
    }
    Ok(())
}

fn canonical_units(var: &str) -> String {
    fields::units(var).to_owned()
}

fn truth_store(
    world: &World,
    path: &Path,
    gfs_init: DateTime<Utc>,
    leads: &[i64],
    err: ErrorModel,
    title: &str,
) -> Result<PathBuf, SimError> {
    let times: Vec<DateTime<Utc>> = leads
        .iter()
        .map(|h| gfs_init + TimeDelta::hours(*h))
        .collect();
    let spec = DatasetSpec {
        times: times.clone(),
        time_origin: gfs_init,
        lead_hours: None,
        title: title.into(),
        layout: StoreLayout::Reference,
    };
    write_dataset(
        path,
        world,
        &spec,
        &canonical_units,
        &mut |var, level, ti| world.plane(var, level, times[ti], leads[ti] as f64, &err),
    )
}

/// Write the WeatherBench2-layout climatology: long variable names, dims `hour, dayofyear,
/// [level,] latitude, longitude` (latitude ascending, as WeatherBench2 stores it), for the days
/// of year `days`.
pub fn write_climatology(world: &World, path: &Path, days: &[i64]) -> Result<PathBuf, SimError> {
    let mut w = StoreWriter::create(path, attrs([("title", json!("synthetic climatology"))]))?;
    let lat_asc: Vec<f64> = world.lat().iter().rev().copied().collect();
    w.put_coord_i64("hour", &CLIMATOLOGY_HOURS, Default::default())?;
    w.put_coord_i64("dayofyear", days, Default::default())?;
    w.put_coord_i64("level", &LEVELS_HPA, attrs([("units", json!("hPa"))]))?;
    w.put_coord_f64(
        "latitude",
        &lat_asc,
        attrs([("units", json!("degrees_north"))]),
    )?;
    w.put_coord_f64(
        "longitude",
        world.lon(),
        attrs([("units", json!("degrees_east"))]),
    )?;
    let (nh, nd) = (CLIMATOLOGY_HOURS.len() as u64, days.len() as u64);
    let (nlat, nlon) = (world.lat().len() as u64, world.lon().len() as u64);
    for var in SURFACE_VARS.iter().chain(ATMOS_VARS.iter()) {
        let atmos = ATMOS_VARS.contains(var);
        let name = fields::long_name(var);
        let levels: Vec<Option<f64>> = if atmos {
            LEVELS_HPA.iter().map(|l| Some(*l as f64)).collect()
        } else {
            vec![None]
        };
        let (dims, shape, chunks): (Vec<&str>, Vec<u64>, Vec<u64>) = if atmos {
            (
                vec!["hour", "dayofyear", "level", "latitude", "longitude"],
                vec![nh, nd, LEVELS_HPA.len() as u64, nlat, nlon],
                vec![1, 1, 1, nlat, nlon],
            )
        } else {
            (
                vec!["hour", "dayofyear", "latitude", "longitude"],
                vec![nh, nd, nlat, nlon],
                vec![1, 1, nlat, nlon],
            )
        };
        w.add_array(&ArraySpec {
            name: name.to_owned(),
            dims: dims.into_iter().map(str::to_owned).collect(),
            shape,
            chunks,
            dtype: Dtype::F32,
            attrs: attrs([("units", json!(fields::units(var)))]),
            compressor: Compressor::Zstd,
        })?;
        for (li, level) in levels.iter().enumerate() {
            // Stored south → north: flip the world's north → south rows.
            let plane = world.climatology_plane(var, *level);
            let nlon_us = world.lon().len();
            let flipped: Vec<f32> = plane
                .chunks(nlon_us)
                .rev()
                .flat_map(|row| row.iter().copied())
                .collect();
            let raw = f32_bytes(&flipped);
            for h in 0..nh {
                for d in 0..nd {
                    let idx: Vec<u64> = if atmos {
                        vec![h, d, li as u64, 0, 0]
                    } else {
                        vec![h, d, 0, 0]
                    };
                    w.put_chunk(name, &idx, &raw)?;
                }
            }
        }
    }
    Ok(w.finish()?)
}

/// Days of year (sorted, unique) of every valid time a run scores: gfs_init − 1 day … + 11 days.
pub fn run_days_of_year(gfs_init: DateTime<Utc>) -> Vec<i64> {
    let mut days: Vec<i64> = (-1..=11)
        .map(|d| i64::from((gfs_init + TimeDelta::days(d)).ordinal()))
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Write all four world stores for the run of `gfs_init` under `dir`.
pub fn write_world(
    world: &World,
    dir: &Path,
    gfs_init: DateTime<Utc>,
) -> Result<WorldPaths, SimError> {
    let tag = gfs_init.format("%Y%m%d%H").to_string();
    let leads: Vec<i64> = (1..=40).map(|k| 6 * k).collect();
    Ok(WorldPaths {
        gfs_analysis: truth_store(
            world,
            &dir.join(format!("gfs_analysis_{tag}.zarr")),
            gfs_init,
            &ANALYSIS_HOURS,
            ErrorModel::NONE,
            "synthetic GFS analysis",
        )?,
        gfs_forecast: truth_store(
            world,
            &dir.join(format!("gfs_forecast_{tag}.zarr")),
            gfs_init,
            &leads,
            ErrorModel::GFS,
            "synthetic GFS 00Z forecast",
        )?,
        era5: truth_store(
            world,
            &dir.join(format!("era5_{tag}.zarr")),
            gfs_init,
            &ERA5_LEADS,
            ErrorModel::NONE,
            "synthetic ERA5",
        )?,
        climatology: write_climatology(
            world,
            &dir.join("climatology.zarr"),
            &run_days_of_year(gfs_init),
        )?,
    })
}
