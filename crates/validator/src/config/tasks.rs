//! Settings of the validator's weather task (`WEATHER__*`) and the rules every task setting
//! shares (cron patterns; the chain layer's own settings are in `chain.rs`). Defaults are production's (gaia-weather-spec.md §1.1, §1.4, §4.1, §5.5); the
//! demo and the tests compress the timings through the same settings.

use std::path::Path;

use gaia_scoring::ScoringProfile;
use serde::{Deserialize, Serialize};

use super::load::{in_range, invalid};
use super::{ConfigError, Settings};

/// Settings of the weather task (`WEATHER__<NAME>` in the environment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeatherSettings {
    /// Schedule the daily run (off: only runs queued by hand or by `demo` are processed).
    pub enabled: bool,
    /// Runs older than this many days are deleted with their rows.
    pub db_run_retention_days: u32,
    /// UTC hour of the daily run.
    pub run_hour_utc: u8,
    /// UTC minute of the daily run.
    pub run_minute_utc: u8,
    /// Random delay added to the daily run, 0..=this many minutes.
    pub run_jitter_minutes: u32,
    /// A daily run missed while the validator was down starts at start-up if it is at most this
    /// many hours old.
    pub run_catch_up_hours: u32,
    /// Concurrent inferences requested from one miner.
    pub max_concurrent_inferences: u32,
    /// Forecast steps (6-hourly) a miner produces.
    pub inference_steps: u32,
    /// Seconds between two polls of a miner's job.
    pub poll_interval_s: u64,
    /// Polls before a miner that is still processing counts as failed.
    pub max_poll_attempts: u32,
    /// Back-off before each retry of an unanswered initiate-fetch (its length is the retry count).
    pub query_retry_delays_s: Vec<u64>,
    /// The manifest must be frozen within this many hours of the run's start.
    pub manifest_freeze_window_hours: f64,
    /// Lead of the Day-1 check (hours; truth is the GFS analysis at that valid time).
    pub day1_lead_hours: f64,
    /// ERA5 lead h is scored from gfs_init + h + this many days + `era5_buffer_hours`.
    pub era5_delay_days: u32,
    /// See `era5_delay_days`.
    pub era5_buffer_hours: u32,
    /// Attempts of one scoring job (Day-1 or one ERA5 lead) before it counts as failed.
    pub scoring_max_attempts: u32,
    /// Seconds before a failed scoring job is retried.
    pub scoring_retry_delay_s: u64,
    /// Time limit of one scoring job in a compute worker.
    pub scoring_timeout_s: u64,
    /// Seconds all reads of one miner's store in one scoring job may take together
    /// (`WEATHER__MINER_DOWNLOAD_DEADLINE_S`); below `scoring_timeout_s`, so a miner that answers
    /// every request slowly costs a download slot for this long, not for the job's whole timeout.
    /// The step is retried later like any slow answer, within `scoring_max_attempts`.
    pub miner_download_deadline_s: u64,
    /// Threads one scoring job may use inside its worker.
    pub scoring_threads: usize,
    /// How many scoring steps may read miners' stores at once, over all miners
    /// (`WEATHER__MAX_CONCURRENT_MINER_DOWNLOADS`); one miner's store is read by one step at a
    /// time, so its request budget holds per miner.
    pub max_concurrent_miner_downloads: usize,
    /// Requests per minute one scoring step may send to a miner's store
    /// (`WEATHER__MINER_REQUESTS_PER_MINUTE`); production miners answer 429 beyond 500 a
    /// minute per client, so keep it well under that.
    pub miner_requests_per_minute: u32,
    /// Seconds before a scoring step that found its miner's store busy (another step of the
    /// same miner reading it, or every download slot in use) tries again
    /// (`WEATHER__MINER_BUSY_RETRY_S`). It gives its ledger slot back meanwhile and spends no
    /// attempt, so one slow miner's leads never fill the ledger.
    pub miner_busy_retry_s: u64,
    /// Scoring rules: `production` (the Python validators' numbers, spec §11 items 1-2 included;
    /// the default) or `spec` (the same without those two ERA5 defects). Recorded with every score.
    pub scoring_profile: ScoringProfile,
    /// Seconds between checks of a step waiting for others (overall, run completion).
    pub wait_retry_s: u64,
    /// Accept miners on loopback/private addresses (the demo and tests; never in production).
    pub allow_private_miner_addresses: bool,
    /// URL scheme of miner axons: `https` (production, behind nginx) or `http` (simulated).
    pub miner_scheme: String,
    /// How requests reach miners: `fiber` (encrypted, as real miners speak) or `plain` (plain
    /// JSON, simulated miners only).
    pub miner_transport: String,
    /// Require `chunk_hash_algorithm == "sha256"` in manifests.
    pub require_sha256_manifests: bool,
    /// GFS analysis store, a path or URL; `{init}` becomes the cycle as `YYYYmmddHH`.
    /// Empty: `<DATA_DIR>/truth/gfs_analysis_{init}.zarr`. `opendap:<base>`, e.g.
    /// `opendap:https://nomads.ncep.noaa.gov/dods/gfs_0p25` (production's source), fetches step 0
    /// of the cycle at gfs_init + `day1_lead_hours` over OPeNDAP into `<DATA_DIR>/truth-cache/`.
    pub gfs_analysis_source: String,
    /// GFS forecast (reference) store; empty: `<DATA_DIR>/truth/gfs_forecast_{init}.zarr`.
    /// `opendap:<base>` fetches the gfs_init cycle's forecast at `day1_lead_hours`.
    pub gfs_forecast_source: String,
    /// Fields fetched from an `opendap:` GFS source: `2t,msl,10u,10v,z@500` (Day-1), `all` (nine
    /// variables, 13 levels), or a list of names with `@level` for single levels.
    pub gfs_opendap_fields: String,
    /// ERA5 store; empty: `<DATA_DIR>/truth/era5_{init}.zarr`. A URL without `{init}` is an
    /// archive in the ARCO-ERA5 layout (long names, all times), e.g.
    /// `https://storage.googleapis.com/gcp-public-data-arco-era5/ar/full_37-1h-0p25deg-chunk-1.zarr-v3`;
    /// only each lead's valid time is mirrored.
    pub era5_source: String,
    /// Climatology store; empty: `<DATA_DIR>/truth/climatology.zarr`. A URL (e.g.
    /// `https://storage.googleapis.com/weatherbench2/datasets/era5-hourly-climatology/1990-2019_6h_1440x721.zarr`)
    /// is mirrored one day of year at a time.
    pub climatology_source: String,
    /// Remote truth stores are mirrored under `<DATA_DIR>/truth-cache/` and kept this many days
    /// (0: no cache, the scorer reads them over HTTP each time).
    pub truth_cache_retention_days: u32,
    /// Cron (UTC) of the rebuild of the recent runs' score rows (production: 00:00 and 12:00).
    pub recompute_cron: String,
    /// Cron (UTC) of the maintenance task: lease reaping, run retention, truth-cache pruning.
    pub maintenance_cron: String,
    /// Lifecycle steps the IO-Engine runs at once.
    pub ledger_workers: usize,
    /// Lease of one claimed step (seconds); longer than the slowest step.
    pub ledger_lease_s: u64,
    /// Pause between two empty looks at the work ledger (milliseconds).
    pub ledger_idle_poll_ms: u64,
}

impl Default for WeatherSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            db_run_retention_days: 90,
            run_hour_utc: 18,
            run_minute_utc: 0,
            run_jitter_minutes: 30,
            run_catch_up_hours: 6,
            max_concurrent_inferences: 1,
            inference_steps: 40,
            poll_interval_s: 300,
            max_poll_attempts: 20,
            query_retry_delays_s: vec![60, 300, 900],
            manifest_freeze_window_hours: 2.0,
            day1_lead_hours: 12.0,
            era5_delay_days: 5,
            era5_buffer_hours: 6,
            scoring_max_attempts: 3,
            scoring_retry_delay_s: 1800,
            scoring_timeout_s: 3600,
            miner_download_deadline_s: 900,
            scoring_threads: 1,
            max_concurrent_miner_downloads: 4,
            miner_requests_per_minute: 240,
            miner_busy_retry_s: 10,
            scoring_profile: ScoringProfile::default(),
            wait_retry_s: 600,
            allow_private_miner_addresses: false,
            miner_scheme: "https".into(),
            miner_transport: "fiber".into(),
            require_sha256_manifests: true,
            gfs_analysis_source: String::new(),
            gfs_forecast_source: String::new(),
            gfs_opendap_fields: "2t,msl,10u,10v,z@500".into(),
            era5_source: String::new(),
            climatology_source: String::new(),
            truth_cache_retention_days: 20,
            recompute_cron: "0 0,12 * * *".into(),
            maintenance_cron: "*/5 * * * *".into(),
            ledger_workers: 4,
            ledger_lease_s: 7200,
            ledger_idle_poll_ms: 500,
        }
    }
}

impl WeatherSettings {
    /// The four data-source templates with the `<DATA_DIR>/truth/` defaults filled in, in the
    /// order GFS analysis, GFS forecast, ERA5, climatology.
    pub fn source_templates(&self, data_dir: &Path) -> [String; 4] {
        let truth = data_dir.join("truth");
        let or = |given: &str, file: &str| {
            if given.trim().is_empty() {
                truth.join(file).display().to_string()
            } else {
                given.to_string()
            }
        };
        [
            or(&self.gfs_analysis_source, "gfs_analysis_{init}.zarr"),
            or(&self.gfs_forecast_source, "gfs_forecast_{init}.zarr"),
            or(&self.era5_source, "era5_{init}.zarr"),
            or(&self.climatology_source, "climatology.zarr"),
        ]
    }
}

/// Check the task settings a type alone cannot express.
pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    validate_weather(&s.weather)?;
    super::chain::validate(&s.chain)?;
    super::rollout::validate(&s.rollout)?;
    for (key, pattern) in [
        ("CHAIN__METAGRAPH_SYNC_CRON", &s.chain.metagraph_sync_cron),
        ("CHAIN__WEIGHTS_CHECK_CRON", &s.chain.weights_check_cron),
        ("WEATHER__RECOMPUTE_CRON", &s.weather.recompute_cron),
        ("WEATHER__MAINTENANCE_CRON", &s.weather.maintenance_cron),
    ] {
        if let Err(reason) = parse_cron(pattern) {
            return Err(invalid(key, pattern, &reason));
        }
    }
    Ok(())
}

/// `value` must be one of `allowed`.
pub(super) fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    let rule = match quoted.split_last() {
        Some((last, [])) => format!("must be {last}"),
        Some((last, rest)) => format!("must be {} or {last}", rest.join(", ")),
        None => "has no allowed value".into(),
    };
    Err(invalid(key, value, &rule))
}

/// `value` must be a finite number above 0.
pub(super) fn positive(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(invalid(key, value, "must be > 0"))
}

/// The `WEATHER__*` rules.
fn validate_weather(w: &WeatherSettings) -> Result<(), ConfigError> {
    in_range("WEATHER__RUN_HOUR_UTC", w.run_hour_utc, 0, 23)?;
    in_range("WEATHER__RUN_MINUTE_UTC", w.run_minute_utc, 0, 59)?;
    in_range("WEATHER__RUN_JITTER_MINUTES", w.run_jitter_minutes, 0, 720)?;
    in_range(
        "WEATHER__DB_RUN_RETENTION_DAYS",
        w.db_run_retention_days,
        1,
        36_500,
    )?;
    in_range("WEATHER__POLL_INTERVAL_S", w.poll_interval_s, 1, 86_400)?;
    in_range("WEATHER__MAX_POLL_ATTEMPTS", w.max_poll_attempts, 1, 1000)?;
    in_range(
        "WEATHER__SCORING_MAX_ATTEMPTS",
        w.scoring_max_attempts,
        1,
        100,
    )?;
    in_range("WEATHER__SCORING_TIMEOUT_S", w.scoring_timeout_s, 1, 86_400)?;
    in_range("WEATHER__SCORING_THREADS", w.scoring_threads, 1, 256)?;
    in_range(
        "WEATHER__MINER_DOWNLOAD_DEADLINE_S",
        w.miner_download_deadline_s,
        1,
        86_400,
    )?;
    if w.miner_download_deadline_s >= w.scoring_timeout_s {
        return Err(invalid(
            "WEATHER__MINER_DOWNLOAD_DEADLINE_S",
            w.miner_download_deadline_s,
            "must be below WEATHER__SCORING_TIMEOUT_S (the job would time out first)",
        ));
    }
    in_range(
        "WEATHER__MINER_REQUESTS_PER_MINUTE",
        w.miner_requests_per_minute,
        1,
        100_000,
    )?;
    in_range(
        "WEATHER__MAX_CONCURRENT_MINER_DOWNLOADS",
        w.max_concurrent_miner_downloads,
        1,
        256,
    )?;
    in_range("WEATHER__WAIT_RETRY_S", w.wait_retry_s, 1, 86_400)?;
    in_range("WEATHER__MINER_BUSY_RETRY_S", w.miner_busy_retry_s, 1, 3600)?;
    in_range("WEATHER__LEDGER_WORKERS", w.ledger_workers, 1, 256)?;
    in_range(
        "WEATHER__LEDGER_IDLE_POLL_MS",
        w.ledger_idle_poll_ms,
        10,
        60_000,
    )?;
    if w.ledger_lease_s <= w.scoring_timeout_s {
        return Err(invalid(
            "WEATHER__LEDGER_LEASE_S",
            w.ledger_lease_s,
            "must be longer than WEATHER__SCORING_TIMEOUT_S",
        ));
    }
    positive(
        "WEATHER__MANIFEST_FREEZE_WINDOW_HOURS",
        w.manifest_freeze_window_hours,
    )?;
    positive("WEATHER__DAY1_LEAD_HOURS", w.day1_lead_hours)?;
    if let Err(e) = crate::truth::gfs::FieldSet::parse(&w.gfs_opendap_fields) {
        return Err(invalid(
            "WEATHER__GFS_OPENDAP_FIELDS",
            &w.gfs_opendap_fields,
            &e.reason,
        ));
    }
    one_of("WEATHER__MINER_SCHEME", &w.miner_scheme, &["https", "http"])?;
    one_of(
        "WEATHER__MINER_TRANSPORT",
        &w.miner_transport,
        &["fiber", "plain"],
    )
}

/// A 5-field cron pattern in UTC (`minute hour day-of-month month day-of-week`), or why not.
/// The settings check and the scheduler parse patterns with this one function.
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    if pattern.split_whitespace().count() != 5 {
        return Err("expected 5 fields: minute hour day-of-month month day-of-week".into());
    }
    <croner::Cron as std::str::FromStr>::from_str(pattern).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::load_with_env;
    use super::super::tests::env;

    #[test]
    fn task_settings_load_from_nested_variables() {
        let s = load_with_env(
            None,
            env(&[
                ("WEATHER__POLL_INTERVAL_S", "2"),
                ("WEATHER__QUERY_RETRY_DELAYS_S", "[1,2]"),
                ("CHAIN__METAGRAPH_FILE", "/tmp/m.json"),
                ("CHAIN__BLOCK_TIME_S", "0.5"),
            ]),
        )
        .unwrap()
        .settings;
        assert_eq!(s.weather.poll_interval_s, 2);
        assert_eq!(s.weather.query_retry_delays_s, vec![1, 2]);
        assert_eq!(
            s.chain.metagraph_file.as_deref(),
            Some(std::path::Path::new("/tmp/m.json"))
        );
        assert_eq!(s.chain.block_time_s, 0.5);
        let [gfs, _, era5, clim] = s.weather.source_templates(std::path::Path::new("/d"));
        assert_eq!(gfs, "/d/truth/gfs_analysis_{init}.zarr");
        assert_eq!(era5, "/d/truth/era5_{init}.zarr");
        assert_eq!(clim, "/d/truth/climatology.zarr");
    }

    #[test]
    fn bad_task_settings_name_key_and_rule() {
        for (key, value, rule) in [
            ("WEATHER__LEDGER_LEASE_S", "10", "longer than"),
            ("WEATHER__MANIFEST_FREEZE_WINDOW_HOURS", "-1", "> 0"),
            ("WEATHER__DAY1_LEAD_HOURS", "0", "> 0"),
            ("WEATHER__MAX_POLL_ATTEMPTS", "0", "between"),
            ("CHAIN__MODE", "finney", "offline"),
            ("CHAIN__WEIGHTS_MODE", "maybe", "shadow"),
            ("WEATHER__MINER_TRANSPORT", "carrier-pigeon", "fiber"),
            ("CHAIN__BLOCK_TIME_S", "0", "> 0"),
            ("CHAIN__WEIGHTS_CHECK_CRON", "never", "5 fields"),
            ("WEATHER__MINER_DOWNLOAD_DEADLINE_S", "3600", "below"),
            ("WEATHER__MINER_DOWNLOAD_DEADLINE_S", "0", "between"),
        ] {
            let err = load_with_env(None, env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key) && err.contains(rule), "{key}: {err}");
        }
    }
}
