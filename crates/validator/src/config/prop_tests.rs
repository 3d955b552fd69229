//! Property tests of the settings parsers (issue 20): a TOML settings file and `.env` lines are
//! outside bytes too (an operator's typo, a copied template). Arbitrary and mutated files end in
//! settings or a [`ConfigError`] naming the key, within a time bound; the database URL's secret
//! never appears in an error; a file holding only valid values loads them.

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use proptest::prelude::*;

use super::load::{load_with_env, ConfigError};

const SECRET: &str = "s3cr3t-pw";

/// A settings file as an operator writes it (the blueprint's names).
fn toml_seed() -> String {
    format!(
        r#"num_compute_workers = 2
ipc_queue_size = 64
ipc_max_frame_bytes = 16777216
restart_backoff_max_s = 30.0
database_url = "postgres://gaia:{SECRET}@127.0.0.1:5432/gaia"
metrics_addr = "127.0.0.1:9100"
log_level = "info"
admin_api_enabled = false

[weather]
enabled = true
run_hour_utc = 1
query_retry_delays_s = [60, 300, 900]
manifest_freeze_window_hours = 2.5
gfs_analysis_source = "opendap:https://nomads.ncep.noaa.gov/dods/gfs_0p25"
recompute_cron = "5 18 * * *"

[chain]
mode = "offline"
netuid = 237
"#
    )
}

/// `.env` lines in the blueprint's flat and nested forms.
fn env_seed() -> String {
    format!(
        "NUM_COMPUTE_WORKERS=3\nIPC_QUEUE_SIZE=128\nDATABASE_URL=postgres://gaia:{SECRET}@db/gaia\n\
         WEATHER__DB_RUN_RETENTION_DAYS=30\nWEATHER__QUERY_RETRY_DELAYS_S=[1,2]\nCHAIN__NETUID=57\n\
         export LOG_LEVEL='debug'\n# comment\nWEATHER__RUN_HOUR_UTC=\"25\"\n"
    )
}

fn check(out: Result<super::load::LoadedSettings, ConfigError>) -> Result<(), TestCaseError> {
    match out {
        Ok(loaded) => prop_assert!(loaded.settings.num_compute_workers >= 1),
        Err(e) => {
            let text = e.to_string();
            // A mutation may move the password into another setting's value (an operator's
            // garbage, echoed as given); the database URL's own errors and the file's syntax
            // errors must never show it.
            let about_the_url = match &e {
                ConfigError::Invalid { key, rule, .. } => {
                    prop_assert!(!key.is_empty() || !rule.is_empty(), "{e:?}");
                    key == "DATABASE_URL"
                }
                _ => true,
            };
            if about_the_url {
                prop_assert!(
                    !text.contains(SECRET),
                    "the database password leaks: {text}"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(5000))]

    /// A hostile TOML file: settings or a named error, never the secret.
    #[test]
    fn prop_hostile_toml_files_load_or_are_refused(bytes in hostile(vec![toml_seed().into_bytes()])) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("validator.toml");
        std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out = bounded("load TOML", &bytes, Limits::default(), || load_with_env(Some(&path), Vec::new()))?;
        check(out)?;
    }

    /// Hostile `.env` text as dotenvy reads it, then through the environment layer.
    #[test]
    fn prop_hostile_env_files_load_or_are_refused(bytes in hostile(vec![env_seed().into_bytes()])) {
        let pairs: Vec<(String, String)> = dotenvy::from_read_iter(bytes.as_slice()).filter_map(Result::ok).collect();
        let out = bounded("load env", &bytes, Limits::default(), || load_with_env(None, pairs))?;
        check(out)?;
    }

    /// Valid values given through the environment are the values in force.
    #[test]
    fn prop_valid_env_values_are_loaded(workers in 1usize..=256, queue in 1usize..=1_000_000, days in any::<u32>()) {
        let env = vec![
            ("NUM_COMPUTE_WORKERS".to_string(), workers.to_string()),
            ("IPC_QUEUE_SIZE".to_string(), queue.to_string()),
            ("WEATHER__DB_RUN_RETENTION_DAYS".to_string(), days.to_string()),
        ];
        match load_with_env(None, env) {
            Ok(loaded) => {
                prop_assert_eq!(loaded.settings.num_compute_workers, workers);
                prop_assert_eq!(loaded.settings.ipc_queue_size, queue);
                prop_assert_eq!(loaded.settings.weather.db_run_retention_days, days);
            }
            Err(ConfigError::Invalid { key, .. }) => prop_assert_eq!(key, "WEATHER__DB_RUN_RETENTION_DAYS"),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

/// Regression (issue 20, found by `prop_hostile_env_files_load_or_are_refused`): a DATABASE_URL
/// that is not a URL was echoed whole in the error, password included, because redaction only
/// finds the password of a well-formed URL.
#[test]
fn regression_an_invalid_database_url_never_shows_its_password() {
    let env = vec![(
        "DATABASE_URL".to_string(),
        format!("postgres:/-1e309/gaia:{SECRET}@db/gaia"),
    )];
    let err = load_with_env(None, env).expect_err("not a database URL");
    let text = err.to_string();
    assert!(
        text.contains("DATABASE_URL") && text.contains("must start with postgres://"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

/// Regression (issue 20, found by `prop_hostile_toml_files_load_or_are_refused`): a TOML syntax
/// error quoted the offending line, here the database URL with its password.
#[test]
fn regression_a_toml_syntax_error_never_quotes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("validator.toml");
    let text = format!("num_compute_workers = 2\nrestart_backoff_max_s e_url = \"postgres://gaia:{SECRET}@127.0.0.1:5432/gaia\"\n");
    std::fs::write(&path, text).expect("write");
    let err = load_with_env(Some(&path), Vec::new()).expect_err("not TOML");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            ConfigError::FileSyntax {
                line: 2,
                column: 23,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("validator.toml"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}
