//! Where truth, reference and climatology come from (spec §3.1, §4.1): the GFS analysis (Day-1
//! truth), the GFS forecast (Day-1 reference), ERA5 (final truth) and the climatology, each a
//! Zarr store named by a template (`{init}` becomes the GFS cycle as `YYYYmmddHH`) that is a
//! local path or an HTTP(S) URL the scorer reads.
//!
//! A GFS template `opendap:<base URL>` (e.g. `opendap:https://nomads.ncep.noaa.gov/dods/gfs_0p25`)
//! is fetched over OPeNDAP into a local store by [`super::gfs::GfsFetcher`].
//!
//! [`DataSources::locate`] answers "where is it, and is it there yet": a local store that does
//! not exist is [`DataError::NotYetAvailable`], which the lifecycle treats as "retry later".

use std::path::Path;

use chrono::{DateTime, Datelike, Utc};
use gaia_scoring::zarr::long_name;

use super::cache::{CacheError, TruthCache};
use super::gfs::{self, GfsFetcher};
use super::subset::{Selection, Subset};

/// The four datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// GFS analysis (Day-1 truth).
    GfsAnalysis,
    /// GFS 00Z forecast (Day-1 reference).
    GfsForecast,
    /// ERA5 reanalysis (final truth).
    Era5,
    /// WeatherBench2 climatology.
    Climatology,
}

impl DataKind {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            DataKind::GfsAnalysis => "GFS analysis",
            DataKind::GfsForecast => "GFS forecast",
            DataKind::Era5 => "ERA5",
            DataKind::Climatology => "climatology",
        }
    }
}

/// Why a dataset cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// Not there (yet): retry later.
    #[error("{kind} for {init} not available yet at {location}")]
    NotYetAvailable {
        /// Dataset.
        kind: &'static str,
        /// GFS cycle.
        init: String,
        /// Where it was looked for.
        location: String,
    },
    /// A remote store could not be mirrored (retry later).
    #[error("{kind}: download failed: {reason}")]
    Download {
        /// Dataset.
        kind: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// The dataset templates, and the cache remote stores are mirrored into.
#[derive(Debug, Clone)]
pub struct DataSources {
    templates: [String; 4],
    cache: Option<TruthCache>,
    gfs: Option<GfsFetcher>,
}

impl DataSources {
    /// Sources from templates in the order GFS analysis, GFS forecast, ERA5, climatology.
    pub fn new(templates: [String; 4]) -> Self {
        Self {
            templates,
            cache: None,
            gfs: None,
        }
    }

    /// Fetch `opendap:` GFS sources with `fetcher` (spec §3.1, `docs/truth-data.md`).
    pub fn with_gfs(mut self, fetcher: GfsFetcher) -> Self {
        self.gfs = Some(fetcher);
        self
    }

    /// Mirror remote stores into `cache` before they are read.
    pub fn with_cache(mut self, cache: TruthCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Where the scorer reads `kind` for `gfs_init`: [`DataSources::locate`], with a remote
    /// store replaced by its local mirror when a cache is set.
    pub async fn resolve(
        &self,
        kind: DataKind,
        gfs_init: DateTime<Utc>,
    ) -> Result<String, DataError> {
        self.resolve_at(kind, gfs_init, None).await
    }

    /// [`DataSources::resolve`] for one valid time. Two remote sources are too large to mirror
    /// whole and are mirrored as a subset for `valid_time` instead (docs/truth-data.md): an ERA5
    /// template without `{init}` (an archive such as ARCO-ERA5: long variable names, one store
    /// for all times) and the climatology (the day of year of `valid_time`).
    pub async fn resolve_at(
        &self,
        kind: DataKind,
        gfs_init: DateTime<Utc>,
        valid_time: Option<DateTime<Utc>>,
    ) -> Result<String, DataError> {
        let location = self.locate(kind, gfs_init)?;
        if let Some(base) = location.strip_prefix(gfs::OPENDAP_PREFIX) {
            return gfs::resolve(self.gfs.as_ref(), kind, base, gfs_init).await;
        }
        let remote = location.starts_with("http://") || location.starts_with("https://");
        let Some(cache) = self.cache.as_ref().filter(|_| remote) else {
            return Ok(location);
        };
        let archive = kind == DataKind::Era5 && !self.templates[2].contains("{init}");
        let subset = match (kind, valid_time) {
            (DataKind::Era5, Some(valid)) if archive => Some(era5_subset(valid)),
            (DataKind::Climatology, Some(valid)) => Some(climatology_subset(valid)),
            _ => None,
        };
        let mirrored = match &subset {
            Some(subset) => cache.mirror_subset(&location, subset).await,
            None => cache.mirror(&location).await,
        };
        mirrored
            .map(|p| p.display().to_string())
            .map_err(|e| match e {
                CacheError::NotAvailable { .. } => DataError::NotYetAvailable {
                    kind: kind.name(),
                    init: gfs_init.format("%Y%m%d%H").to_string(),
                    location: e.to_string(),
                },
                e => DataError::Download {
                    kind: kind.name(),
                    reason: e.to_string(),
                },
            })
    }

    /// The location of `kind` for the cycle `gfs_init`, checked to exist when it is local.
    pub fn locate(&self, kind: DataKind, gfs_init: DateTime<Utc>) -> Result<String, DataError> {
        let index = match kind {
            DataKind::GfsAnalysis => 0,
            DataKind::GfsForecast => 1,
            DataKind::Era5 => 2,
            DataKind::Climatology => 3,
        };
        let init = gfs_init.format("%Y%m%d%H").to_string();
        let location = self.templates[index].replace("{init}", &init);
        let remote = location.starts_with("http://")
            || location.starts_with("https://")
            || location.starts_with(gfs::OPENDAP_PREFIX);
        if !remote && !Path::new(&location).exists() {
            return Err(DataError::NotYetAvailable {
                kind: kind.name(),
                init,
                location,
            });
        }
        Ok(location)
    }
}

/// The nine ERA5 variables the final score reads (spec §4.3), short names.
const ERA5_VARIABLES: [&str; 9] = ["2t", "msl", "10u", "10v", "t", "u", "v", "q", "z"];

/// ARCO-ERA5's long-named arrays at `valid`, renamed to the short names the scorer reads.
fn era5_subset(valid: DateTime<Utc>) -> Subset {
    Subset {
        arrays: ERA5_VARIABLES
            .iter()
            .filter_map(|s| long_name(s).map(|l| (l.to_owned(), (*s).to_owned())))
            .collect(),
        select: vec![("time".into(), Selection::Times(vec![valid]))],
        skip_missing: false,
    }
}

/// The climatology's arrays (long names, as its reader expects) for `valid`'s day of year.
fn climatology_subset(valid: DateTime<Utc>) -> Subset {
    Subset {
        arrays: ERA5_VARIABLES
            .iter()
            .filter_map(|s| long_name(s).map(|l| (l.to_owned(), l.to_owned())))
            .collect(),
        select: vec![(
            "dayofyear".into(),
            Selection::Nearest(vec![f64::from(valid.ordinal())]),
        )],
        skip_missing: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn templates_resolve_and_missing_local_stores_are_not_yet_available() {
        let dir = tempfile::tempdir().unwrap();
        let init = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        std::fs::create_dir(dir.path().join("gfs_2026110100.zarr")).unwrap();
        let t = |f: &str| format!("{}/{f}", dir.path().display());
        let sources = DataSources::new([
            t("gfs_{init}.zarr"),
            t("fc_{init}.zarr"),
            "https://example.org/era5.zarr".into(),
            t("clim.zarr"),
        ]);
        assert_eq!(
            sources.locate(DataKind::GfsAnalysis, init).unwrap(),
            t("gfs_2026110100.zarr")
        );
        assert_eq!(
            sources.locate(DataKind::Era5, init).unwrap(),
            "https://example.org/era5.zarr"
        );
        let err = sources.locate(DataKind::GfsForecast, init).unwrap_err();
        assert!(
            err.to_string().contains("GFS forecast for 2026110100"),
            "{err}"
        );
        assert!(sources.locate(DataKind::Climatology, init).is_err());
    }
}
