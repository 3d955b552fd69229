//! Typed settings of the validator, shared by all three process kinds.
//!
//! Layers, lowest first: built-in defaults < TOML file (`--config`) < `.env` < process
//! environment. Names follow the v4.0 blueprint (`NUM_COMPUTE_WORKERS`, `IPC_QUEUE_SIZE`, ...);
//! nested task settings use `__` (`WEATHER__DB_RUN_RETENTION_DAYS=90`). Children started by the
//! supervisor resolve the same layers, so every process sees the same values.

mod chain;
mod load;
#[cfg(test)]
mod prop_tests;
mod rollout;
mod tasks;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use chain::{network_preset, ChainSettings, NetworkPreset};
/// Secrets in URLs are redacted by the store's rule, so logs, errors and `check-config` agree.
pub use gaia_store::redact as redact_url;
pub use load::{load, load_dotenv, load_with_env, ConfigError, LoadedSettings};
pub use rollout::RolloutSettings;
pub use tasks::{parse_cron, WeatherSettings};

/// All settings of the validator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Number of compute worker processes. Default: max(1, cores − 2).
    pub num_compute_workers: usize,
    /// Seconds between the supervisor's RSS checks of its children.
    pub supervisor_check_interval_s: u64,
    /// Seconds without a heartbeat from the IO-Engine (it touches `<runtime>/io-engine.heartbeat`
    /// every second from its event loop) after which the supervisor kills and restarts it: a
    /// stopped or wedged IO-Engine was never noticed.
    pub supervisor_heartbeat_timeout_s: u64,
    /// Jobs a compute worker runs before it recycles (plus up to 10 % random jitter).
    pub max_jobs_per_worker: u64,
    /// Seconds a compute worker waits idle for work before it recycles.
    pub worker_queue_timeout_s: u64,
    /// Capacity of the IPC work queue; dispatch waits when it is full.
    pub ipc_queue_size: usize,
    /// Largest IPC frame accepted, in bytes; larger frames are refused before allocation.
    pub ipc_max_frame_bytes: usize,
    /// RSS limit of the IO-Engine, in MiB; past it the supervisor restarts it.
    pub process_max_rss_mb_io_engine: u64,
    /// RSS limit of a compute worker, in MiB; past it the worker recycles (between jobs) or the
    /// supervisor replaces it (during a job).
    pub process_max_rss_mb_compute_worker: u64,
    /// Optional address-space cap (RLIMIT_AS) of a compute worker in MiB; 0 disables it.
    /// Off by default: RLIMIT_AS counts virtual memory (allocator arenas, thread stacks, maps),
    /// which is several times the RSS and would kill healthy workers; RSS is the real limit.
    pub compute_worker_rlimit_as_mb: u64,
    /// Restarts of one process class allowed within `restart_budget_window_s`.
    pub restart_budget_count: u32,
    /// Window of the restart budget, in seconds.
    pub restart_budget_window_s: u64,
    /// Largest back-off between restarts of a crash-looping class, in seconds.
    pub restart_backoff_max_s: f64,
    /// Seconds in-flight jobs get to finish on shutdown before children are terminated.
    pub shutdown_grace_s: u64,
    /// Database URL; unset means `sqlite://<data_dir>/gaia.db`. Secret: printed redacted.
    pub database_url: Option<String>,
    /// Largest database pool.
    pub db_pool_max_connections: u32,
    /// Smallest database pool.
    pub db_pool_min_connections: u32,
    /// Address of the `/metrics` and `/health` endpoint (port 0 picks a free port).
    pub metrics_addr: String,
    /// Directory for the embedded database and caches.
    pub data_dir: PathBuf,
    /// Directory for the IPC socket and process state; default: a fresh directory under the
    /// system temporary directory, removed on shutdown.
    pub runtime_dir: Option<PathBuf>,
    /// Directory holding shared-memory array segments.
    pub shm_dir: PathBuf,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `gaia_validator=debug`.
    pub log_level: String,
    /// Serve `POST /admin/dispatch` on the metrics address (tests, diagnostics). Off in
    /// production: it lets anyone who reaches the port run jobs.
    pub admin_api_enabled: bool,
    /// Bearer token `/admin/dispatch` requires when set (`Authorization: Bearer <token>`);
    /// required when the admin API listens on a non-loopback METRICS_ADDR. A secret: shown as
    /// `***` by `check-config` and never logged.
    pub admin_api_token: Option<String>,
    /// Diagnostic load the IO-Engine generates itself (jobs per second; 0 = none). Used by `demo`.
    pub diagnostic_load_jobs_per_s: f64,
    /// Address of the operator's read-only status page (runs, miners, weights; docs/operations.md
    /// "Operator view"); empty turns it off. Loopback by default: reach it over an SSH tunnel.
    pub status_addr: String,
    /// Token the status page requires when set: the password of the browser's sign-in prompt
    /// (any user name) or `Authorization: Bearer <token>`. Set it before exposing STATUS_ADDR
    /// beyond loopback. A secret: shown as `***` by `check-config` and never logged.
    pub status_token: Option<String>,
    /// Business-time speed-up (soak tests only): simulated seconds per wall second. 1 (default)
    /// is the wall clock; anything else needs TIME_SCALE_ALLOWED=true. Ledger leases, retries,
    /// network timeouts and the supervisor stay in wall time at any scale (docs/soak.md).
    pub time_scale: f64,
    /// The explicit opt-in a TIME_SCALE other than 1, or a TIME_SCALE_START/ANCHOR, needs.
    pub time_scale_allowed: bool,
    /// Business time (RFC 3339) when the wall clock reads TIME_SCALE_ANCHOR; default the anchor.
    pub time_scale_start: Option<chrono::DateTime<chrono::Utc>>,
    /// Wall instant (RFC 3339) at which business time reads TIME_SCALE_START; every process of
    /// one validator must share it (default: the start).
    pub time_scale_anchor: Option<chrono::DateTime<chrono::Utc>>,
    /// Weather task settings (`WEATHER__*`).
    pub weather: WeatherSettings,
    /// Chain settings (`CHAIN__*`).
    pub chain: ChainSettings,
    /// Rollout settings (`ROLLOUT__*`): preflight requirements, the scheduled comparison.
    pub rollout: RolloutSettings,
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(4);
        Self {
            num_compute_workers: cores.saturating_sub(2).max(1),
            supervisor_check_interval_s: 15,
            supervisor_heartbeat_timeout_s: 60,
            max_jobs_per_worker: 100,
            worker_queue_timeout_s: 300,
            ipc_queue_size: 1000,
            ipc_max_frame_bytes: 16 * 1024 * 1024,
            process_max_rss_mb_io_engine: 1024,
            process_max_rss_mb_compute_worker: 2048,
            compute_worker_rlimit_as_mb: 0,
            restart_budget_count: 5,
            restart_budget_window_s: 60,
            restart_backoff_max_s: 30.0,
            shutdown_grace_s: 30,
            database_url: None,
            db_pool_max_connections: 10,
            db_pool_min_connections: 1,
            metrics_addr: "127.0.0.1:9090".into(),
            data_dir: PathBuf::from("./data"),
            runtime_dir: None,
            shm_dir: PathBuf::from("/dev/shm"),
            log_level: "info".into(),
            admin_api_enabled: false,
            admin_api_token: None,
            diagnostic_load_jobs_per_s: 0.0,
            status_addr: "127.0.0.1:9091".into(),
            status_token: None,
            time_scale: 1.0,
            time_scale_allowed: false,
            time_scale_start: None,
            time_scale_anchor: None,
            weather: WeatherSettings::default(),
            chain: ChainSettings::default(),
            rollout: RolloutSettings::default(),
        }
    }
}

impl Settings {
    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn resolved_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.clone(),
            _ => format!("sqlite://{}/gaia.db", self.data_dir.display()),
        }
    }

    /// A copy safe to print: every secret redacted.
    pub fn redacted(&self) -> Settings {
        let mut copy = self.clone();
        copy.database_url = self.database_url.as_deref().map(redact_url);
        copy.admin_api_token = self.admin_api_token.as_ref().map(|_| "***".into());
        copy.status_token = self.status_token.as_ref().map(|_| "***".into());
        copy
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An environment from `KEY, value` pairs (shared by the config tests).
    pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_blueprint() {
        let s = load_with_env(None, env(&[("PATH", "/bin"), ("HOME", "/root")]))
            .unwrap()
            .settings;
        assert_eq!(s.supervisor_check_interval_s, 15);
        assert_eq!(s.max_jobs_per_worker, 100);
        assert_eq!(s.worker_queue_timeout_s, 300);
        assert_eq!(s.ipc_queue_size, 1000);
        assert_eq!(s.process_max_rss_mb_io_engine, 1024);
        assert_eq!(s.process_max_rss_mb_compute_worker, 2048);
        assert_eq!(s.metrics_addr, "127.0.0.1:9090");
        assert_eq!(s.weather.db_run_retention_days, 90);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(4);
        assert_eq!(s.num_compute_workers, cores.saturating_sub(2).max(1));
        assert!(s.resolved_database_url().starts_with("sqlite://"));
        assert_eq!(
            s.weather.scoring_profile,
            gaia_scoring::ScoringProfile::Production
        );
        let spec = load_with_env(None, env(&[("WEATHER__SCORING_PROFILE", "spec")]))
            .unwrap()
            .settings;
        assert_eq!(
            spec.weather.scoring_profile,
            gaia_scoring::ScoringProfile::Spec
        );
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gaia.toml");
        std::fs::write(&file, "ipc_queue_size = 50\nmax_jobs_per_worker = 7\n[weather]\nrun_hour_utc = 6\nbogus = 1\n").unwrap();
        let loaded = load_with_env(
            Some(&file),
            env(&[
                ("IPC_QUEUE_SIZE", "60"),
                ("WEATHER__DB_RUN_RETENTION_DAYS", "30"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        let s = loaded.settings;
        assert_eq!(s.ipc_queue_size, 60, "environment wins over the file");
        assert_eq!(s.max_jobs_per_worker, 7, "file wins over defaults");
        assert_eq!(s.weather.run_hour_utc, 6);
        assert_eq!(s.weather.db_run_retention_days, 30);
        assert_eq!(loaded.unknown_keys, vec!["weather.bogus".to_string()]);
    }

    #[test]
    fn invalid_values_name_key_value_and_rule() {
        let cases: &[(&str, &str, &str)] = &[
            ("NUM_COMPUTE_WORKERS", "0", "between 1 and 256"),
            ("NUM_COMPUTE_WORKERS", "lots", "expected"),
            ("METRICS_ADDR", "nowhere", "host:port"),
            ("DATABASE_URL", "mysql://u:pw@h/db", "must start with"),
            ("LOG_LEVEL", "[[[", "tracing filter"),
            ("WEATHER__RUN_HOUR_UTC", "24", "between 0 and 23"),
            ("COMPUTE_WORKER_RLIMIT_AS_MB", "10", "0 (off)"),
            ("RESTART_BACKOFF_MAX_S", "-1", "> 0"),
            ("DIAGNOSTIC_LOAD_JOBS_PER_S", "-2", ">= 0"),
            ("WEATHER__SCORING_PROFILE", "prod", "production"),
        ];
        for (key, value, rule) in cases {
            let err = load_with_env(None, env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
            assert!(err.contains(rule), "{key}: {err}");
            assert!(!err.contains("pw@"), "secret leaked: {err}");
        }
        let err = load_with_env(
            None,
            env(&[
                ("DB_POOL_MIN_CONNECTIONS", "50"),
                ("DB_POOL_MAX_CONNECTIONS", "5"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("DB_POOL_MIN_CONNECTIONS"), "{err}");
    }

    #[test]
    fn unreadable_file_is_a_named_error() {
        let err =
            load_with_env(Some(std::path::Path::new("/no/such/gaia.toml")), env(&[])).unwrap_err();
        assert!(err.to_string().contains("/no/such/gaia.toml"), "{err}");
    }

    /// Issue 15 point 7: the admin API on a reachable address needs a token, and the token is
    /// never shown.
    #[test]
    fn an_exposed_admin_api_needs_a_token() {
        let load = |pairs: &[(&str, &str)]| load_with_env(None, env(pairs));
        let err = load(&[
            ("ADMIN_API_ENABLED", "true"),
            ("METRICS_ADDR", "0.0.0.0:9090"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ADMIN_API_TOKEN") && err.contains("0.0.0.0:9090"),
            "{err}"
        );
        let ok = load(&[
            ("ADMIN_API_ENABLED", "true"),
            ("METRICS_ADDR", "0.0.0.0:9090"),
            ("ADMIN_API_TOKEN", "s3cret"),
        ])
        .unwrap()
        .settings;
        assert_eq!(ok.admin_api_token.as_deref(), Some("s3cret"));
        assert_eq!(ok.redacted().admin_api_token.as_deref(), Some("***"));
        assert!(load(&[
            ("ADMIN_API_ENABLED", "true"),
            ("METRICS_ADDR", "[::1]:9090")
        ])
        .is_ok());
        assert!(
            load(&[("METRICS_ADDR", "0.0.0.0:9090")]).is_ok(),
            "admin API off"
        );
    }

    #[test]
    fn redacted_copy_hides_the_password() {
        let s = Settings {
            database_url: Some("postgres://u:secret@h/db".into()),
            ..Default::default()
        };
        let r = s.redacted();
        assert_eq!(r.database_url.as_deref(), Some("postgres://u:***@h/db"));
        assert_eq!(s.resolved_database_url(), "postgres://u:secret@h/db");
    }
}
