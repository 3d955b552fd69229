//! The truth-source checks of `preflight`, one per dataset (GFS analysis, GFS forecast, ERA5,
//! climatology), each as cheap as possible:
//!
//! * a local template: the store (no `{init}`) or the directory the per-cycle stores go to
//!   (with `{init}`) exists;
//! * an `opendap:<base>` GFS source: the server answers a GET of the base (any status below
//!   500: NOMADS lists its cycles there);
//! * an `http(s)` Zarr store: its metadata document answers 200 (`.zmetadata`, `zarr.json` or
//!   `.zgroup`); `{init}` is filled with yesterday's 00Z cycle.
//!
//! Remote sources are skipped in offline mode.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Check;
use crate::config::Settings;
use crate::truth::gfs::OPENDAP_PREFIX;

/// The check names, in the order of `WeatherSettings::source_templates`.
pub const NAMES: [&str; 4] = [
    "truth_gfs_analysis",
    "truth_gfs_forecast",
    "truth_era5",
    "truth_climatology",
];

/// The settings key of each source, for the action text.
const KEYS: [&str; 4] = [
    "WEATHER__GFS_ANALYSIS_SOURCE",
    "WEATHER__GFS_FORECAST_SOURCE",
    "WEATHER__ERA5_SOURCE",
    "WEATHER__CLIMATOLOGY_SOURCE",
];

/// Metadata documents of a Zarr store, tried in order.
const ZARR_METADATA: [&str; 3] = [".zmetadata", "zarr.json", ".zgroup"];

/// Deadline of one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Check every source of `settings`; remote ones only when `online`.
pub async fn checks(settings: &Settings, online: bool, now: DateTime<Utc>) -> Vec<Check> {
    let templates = settings.weather.source_templates(&settings.data_dir);
    let cycle = (now - chrono::Duration::days(1))
        .format("%Y%m%d00")
        .to_string();
    let http = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .no_proxy()
        .build();
    let mut out = Vec::with_capacity(4);
    for ((name, key), template) in NAMES.iter().zip(KEYS).zip(templates) {
        let remote = template.starts_with("http://")
            || template.starts_with("https://")
            || template.starts_with(OPENDAP_PREFIX);
        let check = if !remote {
            local(name, key, &template)
        } else if !online {
            Check::skip(name, format!("offline mode: {template} not probed"))
        } else {
            match &http {
                Ok(client) => probe(client, name, key, &template.replace("{init}", &cycle)).await,
                Err(e) => Check::fail(name, format!("HTTP client: {e}"), "report a bug"),
            }
        };
        out.push(check);
    }
    out
}

/// A local template: the store, or the directory of the per-cycle stores.
pub fn local(name: &'static str, key: &str, template: &str) -> Check {
    let path = Path::new(template);
    let (what, target) = if template.contains("{init}") {
        (
            "directory of the per-cycle stores",
            path.parent().unwrap_or(path),
        )
    } else {
        ("store", path)
    };
    if target.exists() {
        Check::pass(name, format!("local {what} {} present", target.display()))
    } else {
        Check::fail(
            name,
            format!("local {what} {} missing", target.display()),
            format!("create it and fill it, or set {key} to a remote source"),
        )
    }
}

/// Probe one remote source.
pub async fn probe(
    client: &reqwest::Client,
    name: &'static str,
    key: &str,
    location: &str,
) -> Check {
    let started = Instant::now();
    if let Some(base) = location.strip_prefix(OPENDAP_PREFIX) {
        return match client.get(base).send().await {
            Ok(r) if r.status().as_u16() < 500 => Check::pass(
                name,
                format!(
                    "OPeNDAP server {base} answered HTTP {} in {} ms",
                    r.status().as_u16(),
                    started.elapsed().as_millis()
                ),
            ),
            Ok(r) => Check::fail(
                name,
                format!(
                    "OPeNDAP server {base} answered HTTP {}",
                    r.status().as_u16()
                ),
                format!("the server is failing; retry later or change {key}"),
            ),
            Err(e) => unreachable_source(name, key, base, &e),
        };
    }
    let base = location.trim_end_matches('/');
    let mut last = String::new();
    for doc in ZARR_METADATA {
        let url = format!("{base}/{doc}");
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                return Check::pass(
                    name,
                    format!(
                        "{url} answered HTTP 200 in {} ms",
                        started.elapsed().as_millis()
                    ),
                )
            }
            Ok(r) => last = format!("HTTP {} for {url}", r.status().as_u16()),
            Err(e) => return unreachable_source(name, key, base, &e),
        }
    }
    Check::fail(
        name,
        format!("no Zarr metadata at {base} (last: {last})"),
        format!("check {key}: the URL must name a Zarr store"),
    )
}

fn unreachable_source(name: &'static str, key: &str, url: &str, e: &reqwest::Error) -> Check {
    let why = if e.is_timeout() {
        format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
    } else {
        // The cause chain names the refused connection or the failed lookup.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    };
    Check::fail(
        name,
        format!("unreachable: {url}: {why}"),
        format!("check the network and {key}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_templates_need_their_store_or_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let ok = local("t", "K", &format!("{d}/era5_{{init}}.zarr"));
        assert_eq!(ok.status, super::super::Status::Pass, "{ok:?}");
        let missing = local("t", "K", &format!("{d}/climatology.zarr"));
        assert_eq!(missing.status, super::super::Status::Fail);
        assert!(missing.action.contains('K'));
    }

    #[tokio::test]
    async fn offline_mode_skips_remote_sources() {
        let mut s = Settings::default();
        s.weather.era5_source = "https://example.invalid/era5.zarr".into();
        let checks = checks(&s, false, Utc::now()).await;
        assert_eq!(checks[2].status, super::super::Status::Skip);
        assert!(checks[2].value.starts_with("offline mode"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let client = reqwest::Client::new();
        let c = probe(&client, "truth_era5", "K", "http://127.0.0.1:1/x.zarr").await;
        assert_eq!(c.status, super::super::Status::Fail);
        assert!(c.value.starts_with("unreachable"), "{}", c.value);
        let c = probe(
            &client,
            "truth_gfs_analysis",
            "K",
            "opendap:http://127.0.0.1:1/dods",
        )
        .await;
        assert!(c.value.starts_with("unreachable"), "{}", c.value);
    }
}
