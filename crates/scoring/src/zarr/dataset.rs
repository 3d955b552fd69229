//! A forecast, truth or reference dataset: open a store (directory or URL), list its variables,
//! decode its coordinates, and read 2-D fields through the bounded, optionally verifying store
//! stack.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde_json::Value;
use zarrs::storage::{ReadableStorageTraits, StoreKey};

use super::coords::{decode_cf_time, Orientation};
use super::meta::{self, ArrayMeta, Format};
use super::store::{open_stack, StoreStack};
use super::{OpenOptions, ZarrError};
use crate::{Field2, Grid};

/// Accepted names of the latitude dimension/coordinate.
pub const LAT_NAMES: [&str; 2] = ["lat", "latitude"];
/// Accepted names of the longitude dimension/coordinate.
pub const LON_NAMES: [&str; 2] = ["lon", "longitude"];
/// Accepted names of the pressure-level dimension/coordinate.
pub const LEVEL_NAMES: [&str; 5] = ["pressure_level", "level", "plev", "lev", "isobaricInhPa"];
/// Root attributes that state a forecast's initialisation time, in the order they are looked up.
const INIT_TIME_ATTRS: [&str; 4] = [
    "gfs_init_time",
    "gfs_init_time_utc",
    "forecast_init_time",
    "init_time",
];

/// `text` as a UTC time: RFC 3339, or a naive `YYYY-mm-ddTHH:MM:SS` / `YYYY-mm-dd HH:MM:SS`
/// taken as UTC.
fn parse_time_text(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
                .map(|t| t.and_utc())
        })
}

/// Accepted names of the time dimension/coordinate.
pub const TIME_NAMES: [&str; 1] = ["time"];

/// An opened Zarr dataset (xarray layout: one array per variable and per coordinate).
pub struct Dataset {
    pub(super) stack: StoreStack,
    pub(super) format: Format,
    pub(super) arrays: BTreeMap<String, ArrayMeta>,
    /// The root group's attributes.
    root_attrs: serde_json::Map<String, Value>,
    pub(super) options: OpenOptions,
    orientation: OnceLock<Orientation>,
    /// The level coordinate as stored, read once.
    level_coord: OnceLock<Option<Vec<f64>>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("location", &self.stack.location)
            .field("format", &self.format)
            .field("arrays", &self.arrays.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Dataset {
    /// Open the store at `location` (a directory path or an `http(s)://` URL). Reads only the
    /// root metadata (consolidated when present); every array's metadata is validated against
    /// the limits in `options` here, before any chunk is read.
    pub fn open(location: &str, options: &OpenOptions) -> Result<Dataset, ZarrError> {
        let stack = open_stack(location, options)?;
        let (format, arrays, root_attrs) = read_root(&stack, options)?;
        for m in arrays.values() {
            m.check_limits(options)?;
            stack
                .storage
                .register(&m.name, m.compression, m.chunk_bytes);
        }
        Ok(Dataset {
            stack,
            format,
            arrays,
            root_attrs,
            options: options.clone(),
            orientation: OnceLock::new(),
            level_coord: OnceLock::new(),
        })
    }

    /// Requests, bytes, retries and waits of this store over HTTP so far (zero on disk).
    pub fn transfer(&self) -> super::TransferStats {
        self.stack.transfer()
    }

    /// The store's Zarr format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Data variables (arrays that are not coordinates of a dimension), sorted.
    pub fn variable_names(&self) -> Vec<String> {
        let dims: std::collections::HashSet<&str> = self
            .arrays
            .values()
            .flat_map(|m| m.dims.iter().map(String::as_str))
            .collect();
        self.arrays
            .keys()
            .filter(|k| !dims.contains(k.as_str()))
            .cloned()
            .collect()
    }

    /// The `units` attribute of a variable.
    pub fn units(&self, var: &str) -> Option<String> {
        self.arrays
            .get(var)?
            .attrs
            .get("units")?
            .as_str()
            .map(str::to_owned)
    }

    /// Validated metadata of array `name`.
    pub fn array(&self, name: &str) -> Result<&ArrayMeta, ZarrError> {
        self.arrays
            .get(name)
            .ok_or_else(|| ZarrError::UnknownVariable(name.to_owned()))
    }

    /// Name of the first array called like one of `names`.
    pub(super) fn coord_name(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find(|n| self.arrays.contains_key(**n))
            .map(|n| (*n).to_owned())
    }

    /// The decoded time coordinate (CF `units`/`calendar`).
    pub fn times(&self) -> Result<Vec<DateTime<Utc>>, ZarrError> {
        let name = self
            .coord_name(&TIME_NAMES)
            .ok_or_else(|| ZarrError::MissingCoordinate("time".into()))?;
        let values = self.read_1d(&name)?;
        let m = self.array(&name)?;
        let units = m
            .attrs
            .get("units")
            .and_then(Value::as_str)
            .ok_or_else(|| ZarrError::BadTime("time has no `units` attribute".into()))?;
        decode_cf_time(
            &values,
            units,
            m.attrs.get("calendar").and_then(Value::as_str),
        )
    }

    /// The forecast's initialisation time as the store states it: a root attribute
    /// (`gfs_init_time`, `gfs_init_time_utc`, `forecast_init_time`, `init_time`; RFC 3339 or
    /// `YYYY-mm-ddTHH:MM:SS`), else the reference date of the `time` units (`hours since …`)
    /// at 00:00 UTC — the subnet's GFS runs are 00Z, and miners count hours from the init or from
    /// its first 6-hourly step. `None` when the store says neither.
    pub fn init_time(&self) -> Result<Option<DateTime<Utc>>, ZarrError> {
        for key in INIT_TIME_ATTRS {
            if let Some(text) = self.root_attrs.get(key).and_then(Value::as_str) {
                let t = parse_time_text(text).ok_or_else(|| {
                    ZarrError::BadTime(format!("root attribute `{key}` = `{text}` is not a time"))
                })?;
                return Ok(Some(t));
            }
        }
        let Some(name) = self.coord_name(&TIME_NAMES) else {
            return Ok(None);
        };
        let units = self.units(&name).unwrap_or_default();
        let Some((_, since)) = units.split_once(" since ") else {
            return Ok(None);
        };
        let reference = decode_cf_time(&[0.0], &format!("hours since {since}"), None)?;
        Ok(reference
            .first()
            .and_then(|t| t.date_naive().and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc()))
    }

    /// Pressure levels in hPa (a coordinate in Pa is converted), or `None` without a level axis.
    pub fn pressure_levels(&self) -> Result<Option<Vec<f64>>, ZarrError> {
        let Some(mut values) = self.level_coordinate()? else {
            return Ok(None);
        };
        let name = self.coord_name(&LEVEL_NAMES).unwrap_or_default();
        if self.units(&name).unwrap_or_default() == "Pa" {
            values.iter_mut().for_each(|v| *v /= 100.0);
        }
        Ok(Some(values))
    }

    /// The level coordinate as stored, whatever its unit (the ERA5 reference interpolates on
    /// these numbers, so levels in Pa miss every hPa target, spec §12-7), or `None` without a
    /// level axis.
    pub fn level_coordinate(&self) -> Result<Option<Vec<f64>>, ZarrError> {
        if let Some(levels) = self.level_coord.get() {
            return Ok(levels.clone());
        }
        let levels = match self.coord_name(&LEVEL_NAMES) {
            Some(name) => Some(self.read_1d(&name)?),
            None => None,
        };
        Ok(self.level_coord.get_or_init(|| levels).clone())
    }

    /// The normalised grid (latitude 90 → −90, longitude ascending in [0, 360)).
    pub fn grid(&self) -> Result<Arc<Grid>, ZarrError> {
        Ok(self.orientation()?.grid.clone())
    }

    pub(super) fn orientation(&self) -> Result<&Orientation, ZarrError> {
        if let Some(o) = self.orientation.get() {
            return Ok(o);
        }
        let lat = self
            .coord_name(&LAT_NAMES)
            .ok_or_else(|| ZarrError::MissingCoordinate("lat".into()))?;
        let lon = self
            .coord_name(&LON_NAMES)
            .ok_or_else(|| ZarrError::MissingCoordinate("lon".into()))?;
        let o = Orientation::new(&self.read_1d(&lat)?, &self.read_1d(&lon)?)?;
        Ok(self.orientation.get_or_init(|| o))
    }

    /// Read a 2-D field of `var` at `time_index` (and `level_index` for variables with a level
    /// axis), oriented to the normalised grid. Fill values become NaN; other values (including
    /// ±inf) are returned as stored, converted to `f64`.
    pub fn read_field(
        &self,
        var: &str,
        time_index: usize,
        level_index: Option<usize>,
    ) -> Result<Field2, ZarrError> {
        let mut sel: Vec<(&[&str], usize)> = vec![(&TIME_NAMES, time_index)];
        if let Some(l) = level_index {
            sel.push((&LEVEL_NAMES, l));
        }
        self.read_plane(var, &sel)
    }

    /// The level indices of `var` (sorted, each once) grouped so that [`Self::read_field_levels`]
    /// of one group reads each stored chunk it needs once and no other: one group per stored
    /// chunk along the level axis (production miners chunk all 13 levels together, so one group),
    /// one level per group when the level axis is not outside the latitude × longitude plane.
    /// A caller that reads group by group holds only the levels it is working on.
    pub fn level_read_groups(
        &self,
        var: &str,
        level_indices: &[usize],
    ) -> Result<Vec<Vec<usize>>, ZarrError> {
        let runs = self.level_runs(var, &LEVEL_NAMES, level_indices)?;
        Ok(runs.unwrap_or_else(|| {
            let mut each: Vec<usize> = level_indices.to_vec();
            each.sort_unstable();
            each.dedup();
            each.into_iter().map(|k| vec![k]).collect()
        }))
    }

    /// Read the 2-D fields of `var` at `time_index` for each of `level_indices`, reading every
    /// stored chunk once (a chunk holding several levels is not fetched again per level).
    pub fn read_field_levels(
        &self,
        var: &str,
        time_index: usize,
        level_indices: &[usize],
    ) -> Result<Vec<Field2>, ZarrError> {
        self.read_level_planes(
            var,
            &[(&TIME_NAMES, time_index)],
            &LEVEL_NAMES,
            level_indices,
        )
    }
}

fn get_json(
    stack: &StoreStack,
    key: &str,
    options: &OpenOptions,
) -> Result<Option<Value>, ZarrError> {
    let store_key = StoreKey::new(key).map_err(|e| ZarrError::BadMetadata {
        key: key.to_owned(),
        reason: e.to_string(),
    })?;
    match stack.storage.get(&store_key) {
        Ok(Some(bytes)) => meta::parse_json(key, &bytes, options).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(stack.sink.take().unwrap_or(ZarrError::Transport {
            url: format!("{}/{key}", stack.location),
            message: e.to_string(),
        })),
    }
}

/// What [`read_root`] finds: the format, every array, the root group's attributes.
type Root = (
    Format,
    BTreeMap<String, ArrayMeta>,
    serde_json::Map<String, Value>,
);

fn attrs_of(v: Option<&Value>) -> serde_json::Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// Find the format and all arrays: consolidated metadata first, else list a directory.
fn read_root(stack: &StoreStack, options: &OpenOptions) -> Result<Root, ZarrError> {
    if let Some(root) = get_json(stack, "zarr.json", options)? {
        let attrs = attrs_of(root.get("attributes"));
        if let Some(arrays) = meta::arrays_from_v3_root(&root)? {
            return Ok((Format::V3, arrays, attrs));
        }
        let mut arrays = BTreeMap::new();
        for name in list_subdirs(stack)? {
            if let Some(doc) = get_json(stack, &format!("{name}/zarr.json"), options)? {
                if doc.get("node_type").and_then(Value::as_str) == Some("array") {
                    arrays.insert(name.clone(), meta::parse_v3(&name, &doc)?);
                }
            }
        }
        return Ok((Format::V3, arrays, attrs));
    }
    if let Some(z) = get_json(stack, ".zmetadata", options)? {
        let attrs = attrs_of(z.get("metadata").and_then(|m| m.get(".zattrs")));
        return Ok((Format::V2, meta::arrays_from_zmetadata(&z)?, attrs));
    }
    if get_json(stack, ".zgroup", options)?.is_none() {
        return Err(ZarrError::NotAZarrStore(stack.location.clone()));
    }
    let attrs = attrs_of(get_json(stack, ".zattrs", options)?.as_ref());
    let mut arrays = BTreeMap::new();
    for name in list_subdirs(stack)? {
        if let Some(zarray) = get_json(stack, &format!("{name}/.zarray"), options)? {
            let attrs = get_json(stack, &format!("{name}/.zattrs"), options)?;
            arrays.insert(
                name.clone(),
                meta::parse_v2(&name, &zarray, attrs.as_ref())?,
            );
        }
    }
    Ok((Format::V2, arrays, attrs))
}

/// Names of the sub-directories of a directory store (sorted); an error for a URL.
fn list_subdirs(stack: &StoreStack) -> Result<Vec<String>, ZarrError> {
    let Some(root) = &stack.root_dir else {
        return Err(ZarrError::NoConsolidatedMetadata(stack.location.clone()));
    };
    let io = |source| ZarrError::Io {
        key: String::new(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Whether `path` looks like a local Zarr store (used by callers choosing how to open).
pub fn is_local_store(path: &Path) -> bool {
    path.join("zarr.json").is_file() || path.join(".zgroup").is_file()
}

#[cfg(test)]
mod tests {
    use super::parse_time_text;

    #[test]
    fn init_time_attributes_parse_in_the_usual_spellings() {
        let want = "2026-11-28T00:00:00Z".parse().ok();
        assert_eq!(parse_time_text("2026-11-28T00:00:00Z"), want);
        assert_eq!(parse_time_text("2026-11-28T01:00:00+01:00"), want);
        assert_eq!(parse_time_text(" 2026-11-28T00:00:00 "), want);
        assert_eq!(parse_time_text("2026-11-28 00:00:00"), want);
        assert_eq!(parse_time_text("yesterday"), None);
    }
}
