//! The checks that need no network: the database (reachable, migrations current), free disk
//! for the truth cache and the embedded database, and the weights mode and scoring profile in
//! force (stated, never failing). The settings check is the command's: without valid settings
//! nothing else can run.

use std::path::Path;
use std::time::{Duration, Instant};

use gaia_store::{RetryPolicy, Store, StoreConfig};

use super::{Check, Status};
use crate::config::Settings;
use crate::telemetry::disk::space;

/// Bytes per GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `database` (reachable) and `migrations` (none pending) for `url`.
pub async fn database(url: &str) -> Vec<Check> {
    let config = StoreConfig::new(url.to_string())
        .with_pool(1, 1)
        .with_retry(RetryPolicy {
            give_up_after: Duration::from_secs(5),
            ..RetryPolicy::default()
        });
    if let Some(file) = crate::commands::operator::sqlite_file(url).filter(|f| !f.exists()) {
        // Connecting would create an empty file: a check must not.
        return vec![
            Check::fail(
                "database",
                format!("no SQLite database at {}", file.display()),
                "start the validator once or run `gaia-validator migrate`, or fix DATABASE_URL",
            ),
            Check::skip("migrations", "no database"),
        ];
    }
    let started = Instant::now();
    let store = match Store::connect(&config).await {
        Ok(s) => s,
        Err(e) => {
            return vec![
                Check::fail(
                    "database",
                    e.to_string(),
                    "start the database or fix DATABASE_URL",
                ),
                Check::skip("migrations", "database unreachable"),
            ]
        }
    };
    let reached = Check::pass(
        "database",
        format!(
            "{} answered in {} ms",
            store.redacted_url(),
            started.elapsed().as_millis()
        ),
    );
    let migrations = match store.migration_status().await {
        Ok(m) if m.is_up_to_date() => Check::pass(
            "migrations",
            format!("schema version {} (current)", m.latest_known),
        ),
        Ok(m) => Check::fail(
            "migrations",
            format!(
                "schema version {}, pending {:?}",
                m.current().map_or("none".into(), |v| v.to_string()),
                m.pending
            ),
            "run `gaia-validator migrate`",
        ),
        Err(e) => Check::fail("migrations", e.to_string(), "check the database"),
    };
    store.close().await;
    vec![reached, migrations]
}

/// `disk_budget`: free space of DATA_DIR's filesystem against `min_free_gb`.
pub fn disk(data_dir: &Path, min_free_gb: f64) -> Check {
    match space(data_dir) {
        Some((free, size)) => {
            let free_gb = free as f64 / GIB;
            let value = format!(
                "{free_gb:.1} GiB free of {:.1} GiB at {} (required {min_free_gb} GiB)",
                size as f64 / GIB,
                data_dir.display()
            );
            if free_gb >= min_free_gb {
                Check::pass("disk_budget", value)
            } else {
                Check::fail(
                    "disk_budget",
                    value,
                    "free space (old truth cache under DATA_DIR/truth-cache, \
                     WEATHER__TRUTH_CACHE_RETENTION_DAYS) or lower ROLLOUT__MIN_FREE_DISK_GB",
                )
            }
        }
        None => Check::fail(
            "disk_budget",
            format!("cannot measure the filesystem of {}", data_dir.display()),
            "check DATA_DIR",
        ),
    }
}

/// `weights_mode` and `scoring_profile`, stated.
pub fn modes(settings: &Settings) -> Vec<Check> {
    let mode = &settings.chain.weights_mode;
    let meaning = match mode.as_str() {
        "on" => "weights are submitted",
        "shadow" => "weights computed and recorded, not submitted",
        _ => "no weights computed",
    };
    vec![
        Check::new(
            "weights_mode",
            Status::Info,
            format!("{mode} ({meaning}); chain mode {}", settings.chain.mode),
            "",
        ),
        Check::new(
            "scoring_profile",
            Status::Info,
            format!(
                "{} (the Python validators run `production`, spec §11)",
                settings.weather.scoring_profile
            ),
            "",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_and_disk_checks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/gaia.db", dir.path().display());
        let missing = database(&url).await;
        assert!(
            missing[0].value.contains("no SQLite database"),
            "{missing:?}"
        );
        assert!(!dir.path().join("gaia.db").exists());
        // An empty file: reachable, every migration pending.
        std::fs::write(dir.path().join("gaia.db"), b"").unwrap();
        let checks = database(&url).await;
        assert_eq!(checks[0].status, Status::Pass, "{checks:?}");
        assert_eq!(checks[1].status, Status::Fail, "{checks:?}");
        assert!(checks[1].action.contains("migrate"));
        let store = Store::connect(&StoreConfig::new(url.clone()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        assert_eq!(database(&url).await[1].status, Status::Pass);
        let bad = database("postgres://nobody@127.0.0.1:1/x").await;
        assert_eq!((bad[0].status, bad[1].status), (Status::Fail, Status::Skip));

        assert_eq!(disk(dir.path(), 0.0).status, Status::Pass);
        let full = disk(dir.path(), 1e9);
        assert_eq!(full.status, Status::Fail);
        assert!(
            full.value.contains("required 1000000000 GiB"),
            "{}",
            full.value
        );
        assert_eq!(disk(Path::new(""), 1.0).status, Status::Fail);

        let s = Settings::default();
        let m = modes(&s);
        assert!(m[0].value.starts_with("shadow"), "{:?}", m[0]);
        assert!(m[1].value.starts_with("production"));
    }
}
