//! Free and total space of the filesystem holding `DATA_DIR` (the embedded database, the truth
//! cache, the runtime files), read at scrape time: `gaia_disk_free_bytes{path="data"}` and
//! `gaia_disk_size_bytes{path="data"}`. A full disk stops writes of scores and truth, so the
//! `ValidatorDiskLow` alert watches the ratio.

use std::fmt;
use std::path::PathBuf;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the filesystem of one directory when scraped.
#[derive(Debug)]
pub struct DiskCollector {
    /// The directory (`DATA_DIR`).
    pub dir: PathBuf,
}

/// `(free, size)` in bytes of the filesystem holding `dir` (or, before it is created, its
/// nearest existing ancestor); free = available to unprivileged users, as `df` shows.
pub fn space(dir: &std::path::Path) -> Option<(u64, u64)> {
    let existing = dir.ancestors().find(|a| a.exists())?;
    let s = nix::sys::statvfs::statvfs(existing).ok()?;
    let unit = s.fragment_size().max(1);
    Some((s.blocks_available() * unit, s.blocks() * unit))
}

impl Collector for DiskCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some((free, size)) = space(&self.dir) else {
            return Ok(());
        };
        let labels = [("path".to_string(), "data".to_string())];
        for (name, help, value) in [
            ("gaia_disk_free_bytes", "Free space for DATA_DIR", free),
            (
                "gaia_disk_size_bytes",
                "Size of the filesystem of DATA_DIR",
                size,
            ),
        ] {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let mut enc = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(enc.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_filesystem_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        let (free, size) = space(dir.path()).unwrap();
        assert!(size > 0 && free <= size, "{free} {size}");
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(DiskCollector {
            dir: dir.path().to_path_buf(),
        }));
        let text = crate::telemetry::metrics::render(&reg);
        assert!(
            text.contains("gaia_disk_free_bytes{path=\"data\"} "),
            "{text}"
        );
        assert!(
            text.contains("gaia_disk_size_bytes{path=\"data\"} "),
            "{text}"
        );
        // Not created yet: the filesystem it will be created on.
        assert!(space(&dir.path().join("not/yet")).is_some());
        assert!(space(std::path::Path::new("")).is_none());
    }
}
