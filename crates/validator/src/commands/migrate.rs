//! `gaia-validator migrate [--status] [--database-url URL]`: bring the database schema up to date
//! (the IO-Engine also does this at start-up) or only show which migration version is applied.
//!
//! The URL comes from `--database-url`, else the settings (`DATABASE_URL`, unset → the embedded
//! SQLite file `<data_dir>/gaia.db`). Output never shows the password.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use std::time::Duration;

use gaia_store::{MigrationStatus, RetryPolicy, Store, StoreConfig};

use crate::cli::MigrateArgs;
use crate::config;

/// Run the subcommand.
pub fn run(args: &MigrateArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file)
        .context("loading settings")?
        .settings;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| settings.resolved_database_url());
    // A by-hand tool: wait up to 15 s for a database that is still starting, not a minute.
    let store_config = StoreConfig::new(url)
        .with_pool(
            settings.db_pool_min_connections.min(1),
            settings.db_pool_max_connections.max(1),
        )
        .with_retry(RetryPolicy {
            give_up_after: Duration::from_secs(15),
            ..RetryPolicy::default()
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(migrate_or_status(&store_config, args.status))?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// Migrate the database of `store_config` (or only read its status) and return the report.
pub async fn migrate_or_status(
    store_config: &StoreConfig,
    status_only: bool,
) -> anyhow::Result<String> {
    let store = Store::connect(store_config).await?;
    let before = store.migration_status().await?;
    let report = if status_only {
        render(store.redacted_url(), &before, None)
    } else {
        let after = store.migrate().await?;
        let newly: Vec<i64> = after
            .applied
            .iter()
            .filter(|v| !before.applied.contains(v))
            .copied()
            .collect();
        render(store.redacted_url(), &after, Some(&newly))
    };
    store.close().await;
    Ok(report)
}

/// The human-readable report.
pub fn render(url: &str, status: &MigrationStatus, applied_now: Option<&[i64]>) -> String {
    let version = status
        .current()
        .map_or_else(|| "none (empty database)".to_owned(), |v| v.to_string());
    let mut out = format!(
        "database: {url} ({})\nschema version: {version} (latest known: {})\n",
        status.backend, status.latest_known
    );
    if let Some(now) = applied_now {
        if now.is_empty() {
            out.push_str("nothing to apply: already up to date\n");
        } else {
            out.push_str(&format!("applied now: {now:?}\n"));
        }
    } else if status.is_up_to_date() {
        out.push_str("up to date\n");
    } else {
        out.push_str(&format!("pending: {:?}\n", status.pending));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaia_store::Backend;

    #[test]
    fn renders_status_and_pending() {
        let s = MigrationStatus {
            backend: Backend::Sqlite,
            applied: vec![],
            pending: vec![1],
            latest_known: 1,
        };
        let text = render("sqlite:///x/gaia.db", &s, None);
        assert!(
            text.contains("schema version: none (empty database)"),
            "{text}"
        );
        assert!(text.contains("pending: [1]"), "{text}");
        let done = MigrationStatus {
            applied: vec![1],
            pending: vec![],
            ..s
        };
        assert!(render("u", &done, Some(&[])).contains("already up to date"));
        assert!(render("u", &done, Some(&[1])).contains("applied now: [1]"));
        assert!(render("u", &done, None).contains("up to date"));
    }

    async fn migrate_twice_then_status(url: &str) {
        let config = StoreConfig::new(url);
        let status = migrate_or_status(&config, true).await.unwrap();
        assert!(status.contains("schema version: none"), "{status}");
        let first = migrate_or_status(&config, false).await.unwrap();
        assert!(first.contains("applied now: [1, 2, 3, 4]"), "{first}");
        let second = migrate_or_status(&config, false).await.unwrap();
        assert!(second.contains("nothing to apply"), "{second}");
        let status = migrate_or_status(&config, true).await.unwrap();
        assert!(
            status.contains("schema version: 4 (latest known: 4)\nup to date"),
            "{status}"
        );
    }

    #[tokio::test]
    async fn migrate_command_on_new_sqlite_file() {
        let db = gaia_testkit::TestSqlite::create().unwrap();
        migrate_twice_then_status(&db.url()).await;
    }

    #[tokio::test]
    async fn migrate_command_on_empty_postgres() {
        let db = gaia_testkit::TestPostgres::create().await.unwrap();
        migrate_twice_then_status(db.url()).await;
    }
}
