//! Resolving [`Settings`] from their layers, with errors that name the key, the value and the
//! rule, and a report of keys nobody reads.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use figment::Figment;

use super::chain::{network_preset, NetworkPreset};
use super::Settings;

/// Why settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value breaks a rule.
    #[error("invalid setting {key} = {value:?}: {rule}")]
    Invalid {
        /// Setting name as written in the environment (e.g. `IPC_QUEUE_SIZE`).
        key: String,
        /// The offending value (redacted when secret).
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The settings file could not be read.
    #[error("cannot read settings file {path}: {source}")]
    File {
        /// File path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The settings file is not TOML. Only the position and the parser's reason are kept: the
    /// parser's own message quotes the offending line, which may hold a password (issue 20).
    #[error("settings file {path} is not TOML: {reason} (line {line}, column {column})")]
    FileSyntax {
        /// File path.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        reason: String,
    },
    /// The `.env` file could not be parsed.
    #[error("cannot parse .env file: {0}")]
    DotEnv(String),
}

/// Resolved settings plus the keys that were given but are not settings.
#[derive(Debug, Clone)]
pub struct LoadedSettings {
    /// The settings in force.
    pub settings: Settings,
    /// Keys present in the file or environment that no setting reads (`weather.foo`).
    pub unknown_keys: Vec<String>,
}

/// Sections whose variables are nested with `__` (`WEATHER__RUN_HOUR_UTC`).
const NESTED_SECTIONS: [&str; 3] = ["weather", "chain", "rollout"];

/// Load `./.env` into the process environment (variables already set win); no file is fine.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError::DotEnv(e.to_string())),
    }
}

/// Resolve settings from defaults, `file`, `./.env` and the process environment.
pub fn load(file: Option<&Path>) -> Result<LoadedSettings, ConfigError> {
    load_dotenv()?;
    load_with_env(file, std::env::vars())
}

/// Resolve settings from defaults, `file` and the given environment (for tests and children).
///
/// Layers, lowest first: built-in defaults, the `CHAIN__NETWORK` preset (endpoint and netuid of
/// a known network), the TOML file, the environment. Then `~` in paths is expanded (with the
/// environment's `HOME`) and the hotkey file is derived from wallet names when not given.
pub fn load_with_env(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedSettings, ConfigError> {
    let defaults = Settings::default();
    let defaults_json = serde_json::to_value(&defaults).unwrap_or_default();
    let known_top: BTreeSet<String> = match &defaults_json {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        _ => BTreeSet::new(),
    };
    let file_text = match file {
        Some(path) => {
            let text = crate::files::read_text_capped(path, crate::files::SMALL_FILE_BYTES)
                .map_err(|source| ConfigError::File {
                    path: path.display().to_string(),
                    source,
                })?;
            check_toml(path, &text)?;
            Some(text)
        }
        None => None,
    };
    let mut env_layer: Vec<(String, Value)> = Vec::new();
    let mut log_level_given = false;
    let mut rust_log = None;
    let mut home = None;
    for (raw_key, raw_value) in env {
        match raw_key.as_str() {
            "RUST_LOG" => rust_log = Some(raw_value.clone()),
            "HOME" => home = Some(raw_value.clone()),
            _ => {}
        }
        let lower = raw_key.to_ascii_lowercase();
        let top = lower.split("__").next().unwrap_or_default();
        let nested = lower.contains("__");
        if !known_top.contains(top) || (nested != NESTED_SECTIONS.contains(&top)) {
            continue;
        }
        let key = lower.replace("__", ".");
        // `NUM_COMPUTE_WORKERS=` (an uncommented example line, compose's `${X:-}`) means "not
        // set" for anything but a text setting, where empty is a value (`STATUS_ADDR=` = off).
        if raw_value.trim().is_empty() && !default_is_text(&defaults_json, &key) {
            continue;
        }
        log_level_given |= key == "log_level";
        let value: Value = raw_value
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {});
        env_layer.push((key, value));
    }
    // `RUST_LOG`, the filter variable every Rust program knows, when `LOG_LEVEL` is not given.
    if let Some(filter) = rust_log.filter(|f| !log_level_given && !f.trim().is_empty()) {
        env_layer.push(("log_level".into(), Value::from(filter)));
    }
    let layered = |preset: Option<&NetworkPreset>| {
        let mut figment = Figment::from(Serialized::defaults(&defaults));
        if let Some(p) = preset {
            figment = figment.merge(Serialized::default("chain.endpoint", p.endpoint));
            if let Some(netuid) = p.netuid {
                figment = figment.merge(Serialized::default("chain.netuid", netuid));
            }
        }
        if let Some(text) = &file_text {
            figment = figment.merge(Toml::string(text));
        }
        for (key, value) in &env_layer {
            figment = figment.merge(Serialized::default(key, value.clone()));
        }
        figment
    };
    let mut figment = layered(None);
    let network: String = figment.extract_inner("chain.network").unwrap_or_default();
    if let Some(preset) = network_preset(&network) {
        figment = layered(Some(&preset));
    }
    let unknown_keys = unknown_keys(&figment);
    let mut settings: Settings = figment.extract().map_err(from_figment)?;
    settings.chain.resolve_paths(home.as_deref());
    validate(&settings)?;
    Ok(LoadedSettings {
        settings,
        unknown_keys,
    })
}

/// Whether the built-in default at the dotted `key` is a string (a text setting).
fn default_is_text(defaults: &serde_json::Value, key: &str) -> bool {
    key.split('.')
        .try_fold(defaults, |v, part| v.get(part))
        .is_some_and(serde_json::Value::is_string)
}

/// Refuse a settings file that is not TOML with its position, never its text.
fn check_toml(path: &Path, text: &str) -> Result<(), ConfigError> {
    let Err(e) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    // The first line of the reason only: later lines may repeat input.
    let reason = e
        .message()
        .lines()
        .next()
        .unwrap_or("syntax error")
        .chars()
        .take(120)
        .collect();
    Err(ConfigError::FileSyntax {
        path: path.display().to_string(),
        line,
        column,
        reason,
    })
}

fn unknown_keys(figment: &Figment) -> Vec<String> {
    let Ok(value) = figment.extract::<serde_json::Value>() else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    let _ = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
        .map(|_: Settings| ());
    unknown
}

fn env_name(path: &[String]) -> String {
    path.join("__").to_ascii_uppercase()
}

fn from_figment(err: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let key = env_name(&err.path);
    let secret = err
        .path
        .first()
        .is_some_and(|k| k == "database_url" || k == "status_token");
    let (value, rule) = match &err.kind {
        Kind::InvalidType(actual, expected) => (actual.to_string(), format!("expected {expected}")),
        Kind::InvalidValue(actual, expected) => {
            (actual.to_string(), format!("expected {expected}"))
        }
        other => (String::new(), other.to_string()),
    };
    let value = if secret {
        "<redacted>".to_string()
    } else {
        value
    };
    ConfigError::Invalid { key, value, rule }
}

pub(super) fn invalid(key: &str, value: impl ToString, rule: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        rule: rule.to_string(),
    }
}

pub(super) fn in_range<T: PartialOrd + ToString>(
    key: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        let rule = format!("must be between {} and {}", lo.to_string(), hi.to_string());
        return Err(invalid(key, value, &rule));
    }
    Ok(())
}

/// Check every rule a type alone cannot express.
fn validate(s: &Settings) -> Result<(), ConfigError> {
    in_range("NUM_COMPUTE_WORKERS", s.num_compute_workers, 1, 256)?;
    in_range(
        "SUPERVISOR_CHECK_INTERVAL_S",
        s.supervisor_check_interval_s,
        1,
        3600,
    )?;
    in_range(
        "SUPERVISOR_HEARTBEAT_TIMEOUT_S",
        s.supervisor_heartbeat_timeout_s,
        2,
        86_400,
    )?;
    in_range("MAX_JOBS_PER_WORKER", s.max_jobs_per_worker, 1, 1_000_000)?;
    in_range(
        "WORKER_QUEUE_TIMEOUT_S",
        s.worker_queue_timeout_s,
        1,
        86_400,
    )?;
    in_range("IPC_QUEUE_SIZE", s.ipc_queue_size, 1, 1_000_000)?;
    in_range("IPC_MAX_FRAME_BYTES", s.ipc_max_frame_bytes, 4096, 1 << 30)?;
    in_range(
        "PROCESS_MAX_RSS_MB_IO_ENGINE",
        s.process_max_rss_mb_io_engine,
        32,
        1 << 20,
    )?;
    in_range(
        "PROCESS_MAX_RSS_MB_COMPUTE_WORKER",
        s.process_max_rss_mb_compute_worker,
        32,
        1 << 20,
    )?;
    if s.compute_worker_rlimit_as_mb != 0 && s.compute_worker_rlimit_as_mb < 256 {
        return Err(invalid(
            "COMPUTE_WORKER_RLIMIT_AS_MB",
            s.compute_worker_rlimit_as_mb,
            "must be 0 (off) or at least 256",
        ));
    }
    in_range("RESTART_BUDGET_COUNT", s.restart_budget_count, 1, 10_000)?;
    in_range(
        "RESTART_BUDGET_WINDOW_S",
        s.restart_budget_window_s,
        1,
        86_400,
    )?;
    if !(s.restart_backoff_max_s.is_finite() && s.restart_backoff_max_s > 0.0) {
        return Err(invalid(
            "RESTART_BACKOFF_MAX_S",
            s.restart_backoff_max_s,
            "must be > 0",
        ));
    }
    in_range("SHUTDOWN_GRACE_S", s.shutdown_grace_s, 0, 3600)?;
    in_range(
        "DB_POOL_MAX_CONNECTIONS",
        s.db_pool_max_connections,
        1,
        1000,
    )?;
    if s.db_pool_min_connections > s.db_pool_max_connections {
        return Err(invalid(
            "DB_POOL_MIN_CONNECTIONS",
            s.db_pool_min_connections,
            "must not exceed DB_POOL_MAX_CONNECTIONS",
        ));
    }
    let Ok(metrics_addr) = s.metrics_addr.parse::<SocketAddr>() else {
        return Err(invalid(
            "METRICS_ADDR",
            &s.metrics_addr,
            "must be host:port, e.g. 127.0.0.1:9090",
        ));
    };
    let token = s.admin_api_token.as_deref().unwrap_or_default();
    if s.admin_api_enabled && !metrics_addr.ip().is_loopback() && token.trim().is_empty() {
        return Err(invalid(
            "ADMIN_API_ENABLED",
            s.admin_api_enabled,
            &format!(
                "needs ADMIN_API_TOKEN when METRICS_ADDR ({metrics_addr}) is not a loopback \
                 address: anyone who reaches the port could run jobs"
            ),
        ));
    }
    if !s.status_addr.trim().is_empty() && s.status_addr.trim().parse::<SocketAddr>().is_err() {
        return Err(invalid(
            "STATUS_ADDR",
            &s.status_addr,
            "must be host:port, e.g. 127.0.0.1:9091, or empty to turn the status page off",
        ));
    }
    if let Some(url) = &s.database_url {
        let scheme_ok = ["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|p| url.starts_with(p));
        if !url.is_empty() && !scheme_ok {
            // Not a URL, so redaction cannot tell where its password is: show none of it.
            return Err(invalid(
                "DATABASE_URL",
                format!("<redacted, {} characters>", url.chars().count()),
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
    }
    if tracing_subscriber::EnvFilter::try_new(&s.log_level).is_err() {
        return Err(invalid(
            "LOG_LEVEL",
            &s.log_level,
            "must be a tracing filter such as `info`",
        ));
    }
    if !(s.diagnostic_load_jobs_per_s.is_finite() && s.diagnostic_load_jobs_per_s >= 0.0) {
        return Err(invalid(
            "DIAGNOSTIC_LOAD_JOBS_PER_S",
            s.diagnostic_load_jobs_per_s,
            "must be >= 0",
        ));
    }
    validate_time_scale(s)?;
    super::tasks::validate(s)
}

/// Scale 1 on the wall clock is the only business time a validator gets without asking.
fn validate_time_scale(s: &Settings) -> Result<(), ConfigError> {
    if !(s.time_scale.is_finite() && (1e-3..=1e6).contains(&s.time_scale)) {
        return Err(invalid(
            "TIME_SCALE",
            s.time_scale,
            "must be between 0.001 and 1000000",
        ));
    }
    let shifted = s.time_scale_start.is_some() || s.time_scale_anchor.is_some();
    if (s.time_scale != 1.0 || shifted) && !s.time_scale_allowed {
        let (key, value) = if s.time_scale != 1.0 {
            ("TIME_SCALE", s.time_scale.to_string())
        } else {
            ("TIME_SCALE_START", "(set)".to_string())
        };
        return Err(invalid(
            key,
            value,
            "business time other than the wall clock is for soak tests only: set \
             TIME_SCALE_ALLOWED=true to run on it",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::env;
    use super::*;

    #[test]
    fn a_time_scale_other_than_one_needs_the_explicit_opt_in() {
        let s = load_with_env(None, env(&[])).unwrap().settings;
        assert_eq!((s.time_scale, s.time_scale_allowed), (1.0, false));
        let err = load_with_env(None, env(&[("TIME_SCALE", "2880")])).unwrap_err();
        assert!(err.to_string().contains("TIME_SCALE_ALLOWED"), "{err}");
        let err =
            load_with_env(None, env(&[("TIME_SCALE_START", "2026-01-01T00:00:00Z")])).unwrap_err();
        assert!(err.to_string().contains("TIME_SCALE_START"), "{err}");
        for bad in ["0", "-1", "1000000000"] {
            let err = load_with_env(
                None,
                env(&[("TIME_SCALE", bad), ("TIME_SCALE_ALLOWED", "true")]),
            )
            .unwrap_err();
            assert!(err.to_string().contains("between"), "{bad}: {err}");
        }
        let s = load_with_env(
            None,
            env(&[
                ("TIME_SCALE", "2880"),
                ("TIME_SCALE_ALLOWED", "true"),
                ("TIME_SCALE_START", "2026-01-01T00:00:00Z"),
                ("TIME_SCALE_ANCHOR", "2026-12-03T10:00:00Z"),
            ]),
        )
        .unwrap()
        .settings;
        let c = crate::clock::BusinessClock::from_settings(&s);
        assert_eq!(c.scale(), 2880.0);
        assert_eq!(
            c.at_wall("2026-12-03T10:00:30Z".parse().unwrap()),
            "2026-01-02T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
    }

    #[test]
    fn rust_log_is_the_filter_unless_log_level_is_given() {
        let s = load_with_env(None, env(&[("RUST_LOG", "debug,hyper=warn")])).unwrap();
        assert_eq!(s.settings.log_level, "debug,hyper=warn");
        let s = load_with_env(None, env(&[("RUST_LOG", "debug"), ("LOG_LEVEL", "warn")])).unwrap();
        assert_eq!(s.settings.log_level, "warn");
        let err = load_with_env(None, env(&[("RUST_LOG", "=[")])).unwrap_err();
        assert!(err.to_string().contains("LOG_LEVEL"), "{err}");
    }

    #[test]
    fn empty_values_unset_numbers_flags_and_lists_but_not_text() {
        let s = load_with_env(
            None,
            env(&[
                ("NUM_COMPUTE_WORKERS", ""),
                ("ADMIN_API_ENABLED", " "),
                ("WEATHER__MINER_REQUESTS_PER_MINUTE", ""),
                ("DATABASE_URL", ""),
                ("LOG_LEVEL", "info"),
            ]),
        )
        .unwrap()
        .settings;
        let defaults = Settings::default();
        assert_eq!(s.num_compute_workers, defaults.num_compute_workers);
        assert!(!s.admin_api_enabled);
        assert_eq!(
            s.weather.miner_requests_per_minute,
            defaults.weather.miner_requests_per_minute
        );
        assert!(s.resolved_database_url().starts_with("sqlite:"));
        // A text setting keeps an empty value: it is a value, not an absence.
        let err = load_with_env(None, env(&[("METRICS_ADDR", "")])).unwrap_err();
        assert!(err.to_string().contains("METRICS_ADDR"), "{err}");
    }
}
