//! Fetching one GFS cycle's subset over OPeNDAP into a local Zarr store in the scorer's layout.
//!
//! For a cycle `C` and forecast step `s` the dataset `{base}/gfs{YYYYmmdd}/{name}_{HH}z` is
//! read: its DDS (variables present), DAS (missing values), the `time`, `lev`, `lat`, `lon`
//! axes, then for every wanted field one constrained request for exactly one time index and
//! one level (`var[t:t][l:l][0:nlat-1][0:nlon-1]`). Values are renamed, converted
//! ([`super::fields`]), reoriented ([`super::grid`]) and written as a consolidated Zarr v2 store
//! (`time, [pressure_level,] lat, lon`, float32, zstd, one chunk per plane) under
//! `<cache>/gfs-{name}-{C}-f{sss}-{hash}.zarr`, first as a `.partial-{pid}` directory renamed
//! into place when complete. A store already present is reused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Timelike, Utc};
use gaia_scoring::zarr::write::{attrs, f32_bytes, ArraySpec, Dtype, StoreWriter, WriteError};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::dap::{DapClient, DapError, DapOptions};
use super::dds::ArrayDecl;
use super::fields::FieldSet;
use super::grid::{level_indices, step_index, Orientation};
use super::xdr::DapVar;
use super::GfsError;

/// Which GFS product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GfsProduct {
    /// The analysis (step 0) of the cycle at the valid time: Day-1 truth.
    Analysis,
    /// The forecast of the run's cycle at the lead: Day-1 reference.
    Forecast,
}

/// What to fetch and how.
#[derive(Debug, Clone)]
pub struct GfsOptions {
    /// The fields.
    pub fields: FieldSet,
    /// Lead of the Day-1 check (hours): the valid time is `gfs_init + lead`.
    pub lead_hours: f64,
    /// HTTP limits and retries.
    pub dap: DapOptions,
}

impl Default for GfsOptions {
    fn default() -> Self {
        Self {
            fields: FieldSet::day1(),
            lead_hours: 12.0,
            dap: DapOptions::default(),
        }
    }
}

/// Fetches GFS subsets into a cache directory; one fetch at a time per fetcher.
#[derive(Debug, Clone)]
pub struct GfsFetcher {
    dir: PathBuf,
    client: DapClient,
    options: GfsOptions,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl GfsFetcher {
    /// A fetcher writing under `dir` (the truth cache directory).
    pub fn new(dir: PathBuf, options: GfsOptions) -> Result<Self, GfsError> {
        Ok(Self {
            dir,
            client: DapClient::new(options.dap)?,
            options,
            lock: Default::default(),
        })
    }

    /// Count every OPeNDAP GET (outcome, bytes, latency) in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::telemetry::calls::CallMetrics) -> Self {
        self.client.metrics = Some(metrics);
        self
    }

    /// The cycle and step of `product` for the run whose GFS init is `gfs_init`.
    pub fn cycle_and_step(
        &self,
        product: GfsProduct,
        gfs_init: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, u32), GfsError> {
        let lead = self.options.lead_hours;
        if !(0.0..=384.0).contains(&lead) || lead.fract() != 0.0 {
            return Err(GfsError::Lead(lead));
        }
        let lead = lead as u32;
        let (cycle, step) = match product {
            GfsProduct::Analysis => (gfs_init + chrono::TimeDelta::hours(i64::from(lead)), 0),
            GfsProduct::Forecast => (gfs_init, lead),
        };
        if cycle.hour() % 6 != 0 || cycle.minute() != 0 || cycle.second() != 0 {
            return Err(GfsError::NotACycle(cycle.to_rfc3339()));
        }
        Ok((cycle, step))
    }

    /// The local store of `product` for `gfs_init`, fetched from the server at `base` if needed.
    pub async fn fetch(
        &self,
        base: &str,
        product: GfsProduct,
        gfs_init: DateTime<Utc>,
    ) -> Result<PathBuf, GfsError> {
        let (cycle, step) = self.cycle_and_step(product, gfs_init)?;
        self.fetch_cycle(base, cycle, step).await
    }

    /// The dataset URL of `cycle` under `base` (e.g. `.../dods/gfs_0p25` →
    /// `.../dods/gfs_0p25/gfs20261101/gfs_0p25_12z`).
    pub fn dataset_url(base: &str, cycle: DateTime<Utc>) -> String {
        let base = base.trim_end_matches('/');
        let name = base.rsplit('/').next().unwrap_or("gfs_0p25");
        format!(
            "{base}/gfs{}/{name}_{:02}z",
            cycle.format("%Y%m%d"),
            cycle.hour()
        )
    }

    /// Where the store of (`base`, `cycle`, `step`) lives, whether or not it exists yet.
    pub fn store_path(&self, base: &str, cycle: DateTime<Utc>, step: u32) -> PathBuf {
        let base = base.trim_end_matches('/');
        let key = format!("{base}|{}", self.options.fields.canonical());
        let hash = hex::encode(&Sha256::digest(key.as_bytes())[..4]);
        let name: String = base
            .rsplit('/')
            .next()
            .unwrap_or("gfs")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        self.dir.join(format!(
            "gfs-{name}-{}-f{step:03}-{hash}.zarr",
            cycle.format("%Y%m%d%H")
        ))
    }

    /// The local store of step `step` of `cycle`, fetched if needed.
    pub async fn fetch_cycle(
        &self,
        base: &str,
        cycle: DateTime<Utc>,
        step: u32,
    ) -> Result<PathBuf, GfsError> {
        let target = self.store_path(base, cycle, step);
        if target.is_dir() {
            return Ok(target);
        }
        let _guard = self.lock.lock().await;
        if target.is_dir() {
            return Ok(target);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GfsError::Io { path, source }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        let partial = target.with_extension(format!("partial-{}", std::process::id()));
        let outcome = self.download(base, cycle, step, &partial).await;
        match outcome {
            Ok(()) => {
                tokio::fs::rename(&partial, &target)
                    .await
                    .map_err(io(&target))?;
                Ok(target)
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                Err(e)
            }
        }
    }

    async fn download(
        &self,
        base: &str,
        cycle: DateTime<Utc>,
        step: u32,
        out: &Path,
    ) -> Result<(), GfsError> {
        let url = Self::dataset_url(base, cycle);
        let started = Instant::now();
        tracing::info!(%url, step_hours = step, fields = %self.options.fields.canonical(), "fetching GFS over OPeNDAP");
        let dds = self.client.dds(&url).await?;
        let fields = self.options.fields.entries();
        let mut decls = Vec::with_capacity(fields.len());
        for (v, _) in fields {
            decls.push(
                dds.array(v.remote)
                    .ok_or_else(|| GfsError::MissingVariable {
                        url: url.clone(),
                        variable: v.remote.into(),
                    })?,
            );
        }
        let das = self.client.das(&url).await?;
        let levels = self.options.fields.levels();
        let coords = if levels.is_empty() {
            "time,lat,lon"
        } else {
            "time,lev,lat,lon"
        };
        let axes = self.client.data(&url, coords).await?;
        let axis = |name: &str| -> Result<Vec<f64>, GfsError> {
            find(&axes, name)
                .map(|v| v.values.to_f64())
                .ok_or_else(|| GfsError::MissingVariable {
                    url: url.clone(),
                    variable: name.into(),
                })
        };
        let grid = |e| GfsError::Grid {
            url: url.clone(),
            source: e,
        };
        let t = step_index(&axis("time")?, cycle, step).map_err(grid)?;
        let lev_index = if levels.is_empty() {
            vec![]
        } else {
            level_indices(&axis("lev")?, &levels).map_err(grid)?
        };
        let orient = Orientation::new(&axis("lat")?, &axis("lon")?).map_err(grid)?;
        let (nlat, nlon) = (orient.lat.len(), orient.lon.len());
        for ((v, _), decl) in fields.iter().zip(&decls) {
            check_layout(decl, v.atmospheric, nlat, nlon).map_err(|dims| GfsError::Layout {
                url: url.clone(),
                variable: v.remote.into(),
                dims,
            })?;
        }

        let valid = cycle + chrono::TimeDelta::hours(i64::from(step));
        let w = self.start_store(out, &orient, &levels, valid, &url, step)?;
        let mut total = 0usize;
        for (v, want) in fields {
            let missing: Vec<f64> = ["missing_value", "_FillValue"]
                .iter()
                .filter_map(|a| das.number(v.remote, a))
                .collect();
            let var_started = Instant::now();
            let mut bytes = 0usize;
            let planes: Vec<Option<usize>> = if v.atmospheric {
                want.iter()
                    .map(|l| levels.iter().position(|x| x == l))
                    .collect()
            } else {
                vec![None]
            };
            for out_level in planes {
                let level_sel = out_level
                    .and_then(|i| lev_index.get(i))
                    .map(|l| format!("[{l}:{l}]"))
                    .unwrap_or_default();
                let constraint = format!(
                    "{}[{t}:{t}]{level_sel}[0:{}][0:{}]",
                    v.remote,
                    nlat - 1,
                    nlon - 1
                );
                let vars = self.client.data(&url, &constraint).await?;
                let data = find(&vars, v.remote)
                    .filter(|d| d.values.len() == nlat * nlon)
                    .ok_or_else(|| GfsError::Shape {
                        url: url.clone(),
                        variable: v.remote.into(),
                        expected: nlat * nlon,
                    })?;
                bytes += data.values.len() * 4;
                let plane = orient.apply(&data.values.to_f64(), &missing, v.scale);
                if plane.iter().all(|x| x.is_nan()) {
                    return Err(GfsError::AllMissing {
                        url: url.clone(),
                        variable: v.remote.into(),
                    });
                }
                let index: Vec<u64> = match out_level {
                    Some(i) => vec![0, i as u64, 0, 0],
                    None => vec![0, 0, 0],
                };
                w.put_chunk(v.name, &index, &f32_bytes(&plane))
                    .map_err(|e| GfsError::Write(e.to_string()))?;
            }
            total += bytes;
            tracing::info!(%url, variable = v.name, source = v.remote, bytes, seconds = var_started.elapsed().as_secs_f64(), "GFS variable fetched");
        }
        w.finish().map_err(|e| GfsError::Write(e.to_string()))?;
        tracing::info!(%url, step_hours = step, bytes = total, seconds = started.elapsed().as_secs_f64(), "GFS subset stored");
        Ok(())
    }

    /// Create the store with its coordinates and array declarations.
    fn start_store(
        &self,
        out: &Path,
        orient: &Orientation,
        levels: &[u32],
        valid: DateTime<Utc>,
        url: &str,
        step: u32,
    ) -> Result<StoreWriter, GfsError> {
        let write = |e: WriteError| GfsError::Write(e.to_string());
        let mut w = StoreWriter::create(
            out,
            attrs([
                ("source", json!(url)),
                ("forecast_step_hours", json!(step)),
                (
                    "title",
                    json!("GFS subset fetched over OPeNDAP by gaia-validator"),
                ),
            ]),
        )
        .map_err(write)?;
        let origin = format!("hours since {}", valid.format("%Y-%m-%d %H:%M:%S"));
        w.put_coord_f64(
            "time",
            &[0.0],
            attrs([
                ("units", json!(origin)),
                ("calendar", json!("proleptic_gregorian")),
                ("standard_name", json!("time")),
            ]),
        )
        .map_err(write)?;
        if !levels.is_empty() {
            let l: Vec<i64> = levels.iter().map(|&x| i64::from(x)).collect();
            w.put_coord_i64("pressure_level", &l, attrs([("units", json!("hPa"))]))
                .map_err(write)?;
        }
        w.put_coord_f64(
            "lat",
            &orient.lat,
            attrs([("units", json!("degrees_north"))]),
        )
        .map_err(write)?;
        w.put_coord_f64(
            "lon",
            &orient.lon,
            attrs([("units", json!("degrees_east"))]),
        )
        .map_err(write)?;
        let (nlat, nlon) = (orient.lat.len() as u64, orient.lon.len() as u64);
        for (v, _) in self.options.fields.entries() {
            let (dims, shape, chunks) = if v.atmospheric {
                (
                    vec!["time", "pressure_level", "lat", "lon"],
                    vec![1, levels.len() as u64, nlat, nlon],
                    vec![1, 1, nlat, nlon],
                )
            } else {
                (
                    vec!["time", "lat", "lon"],
                    vec![1, nlat, nlon],
                    vec![1, nlat, nlon],
                )
            };
            w.add_array(&ArraySpec {
                name: v.name.into(),
                dims: dims.into_iter().map(str::to_owned).collect(),
                shape,
                chunks,
                dtype: Dtype::F32,
                attrs: attrs([("units", json!(v.units)), ("gfs_name", json!(v.remote))]),
                compressor: Default::default(),
            })
            .map_err(write)?;
        }
        Ok(w)
    }
}

/// A served variable must be `(time, [lev,] lat, lon)` with the axes' lengths, so that one
/// constrained plane is a (lat, lon) plane; the declared dimensions otherwise (as text).
fn check_layout(
    decl: &ArrayDecl,
    atmospheric: bool,
    nlat: usize,
    nlon: usize,
) -> Result<(), String> {
    let want: &[&str] = if atmospheric {
        &["time", "lev", "lat", "lon"]
    } else {
        &["time", "lat", "lon"]
    };
    let names_ok = decl
        .dims
        .iter()
        .zip(want)
        .all(|((name, _), w)| name.is_empty() || name.starts_with(w));
    let sizes = decl.dims.iter().rev().map(|d| d.1);
    let sizes_ok = sizes.take(2).eq([nlon, nlat]);
    if decl.dims.len() == want.len() && names_ok && sizes_ok {
        Ok(())
    } else {
        Err(format!("{:?}", decl.dims))
    }
}

/// The variable `name` among decoded ones: a top-level array or a Grid's array.
fn find<'a>(vars: &'a [DapVar], name: &str) -> Option<&'a DapVar> {
    vars.iter().find(|v| v.name == name)
}

impl From<DapError> for GfsError {
    fn from(e: DapError) -> Self {
        GfsError::Dap(e)
    }
}
