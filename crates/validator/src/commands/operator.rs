//! The read-only operator commands: `status`, `runs`, `show-run <id>`, `miner <uid>` and
//! `weights` (database mode). Each opens the configured database without migrating it, reads one
//! view (`crate::operator::views`) and prints it as a table or, with `--json`, as JSON.
//!
//! A database without the validator's schema is refused with a message naming it, instead of a
//! "no such table" error; an unknown run or miner exits non-zero with a clear message.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use gaia_store::{RetryPolicy, Store, StoreConfig};
use serde::Serialize;

use crate::cli::{GlobalArgs, MinerArgs, RunsArgs, ShowRunArgs, StatusArgs, ViewArgs, WeightsArgs};
use crate::config::{self, Settings};
use crate::operator::{self, text, OverviewContext};

/// Settings and an open store for one command, on a single-threaded runtime.
pub(crate) struct Session {
    /// The settings in force.
    pub(crate) settings: Settings,
    /// The runtime the command's queries run on.
    pub(crate) runtime: tokio::runtime::Runtime,
    /// The database, schema checked.
    pub(crate) store: Store,
}

/// Open the database of `database_url` (else the settings') and check that it holds the
/// validator's schema.
pub(crate) fn open(
    config_file: Option<&Path>,
    database_url: Option<&str>,
) -> anyhow::Result<Session> {
    let settings = config::load(config_file)
        .context("loading settings")?
        .settings;
    let url = database_url.map_or_else(|| settings.resolved_database_url(), str::to_owned);
    if let Some(path) = sqlite_file(&url) {
        // Connecting would create an empty file: a read-only command must not.
        if !path.exists() {
            bail!(
                "no SQLite database at {} (DATABASE_URL or --database-url); the validator \
                 creates it on its first start",
                path.display()
            );
        }
    }
    // A by-hand tool: wait up to 15 s for a database that is still starting, not a minute.
    let store_config = StoreConfig::new(url)
        .with_pool(1, 2)
        .with_retry(RetryPolicy {
            give_up_after: Duration::from_secs(15),
            ..RetryPolicy::default()
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let store = runtime.block_on(async {
        let store = Store::connect(&store_config).await?;
        let status = store.migration_status().await?;
        if status.current().is_none() {
            bail!(
                "database {} holds no validator schema (empty or another database); start the \
                 validator or run `gaia-validator migrate` first",
                store.redacted_url()
            );
        }
        anyhow::Ok(store)
    })?;
    Ok(Session {
        settings,
        runtime,
        store,
    })
}

/// The file of a `sqlite:` URL (`None` for other URLs and in-memory databases).
pub(crate) fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// Print `value` as pretty JSON or as the table `render` makes of it.
fn print<T: Serialize>(
    view: &ViewArgs,
    value: &T,
    render: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    if view.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", render(value));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the overview shows of the settings.
pub fn overview_context(settings: &Settings, recent_runs: u32) -> OverviewContext {
    OverviewContext {
        chain_mode: settings.chain.mode.clone(),
        weights_mode: settings.chain.weights_mode.clone(),
        scoring_profile: settings.weather.scoring_profile.to_string(),
        recent_runs,
    }
}

/// `status`.
pub fn status(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.view.database_url.as_deref())?;
    let ctx = overview_context(&s.settings, args.runs);
    let o = s
        .runtime
        .block_on(operator::overview(&s.store, &ctx, crate::clock::now()))?;
    print(&args.view, &o, text::overview)
}

/// `runs`.
pub fn runs(global: &GlobalArgs, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.view.database_url.as_deref())?;
    let runs = s.runtime.block_on(operator::runs(&s.store, args.limit))?;
    print(&args.view, &runs, |r| text::runs(r))
}

/// `show-run <id>`.
pub fn show_run(global: &GlobalArgs, args: &ShowRunArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.view.database_url.as_deref())?;
    match s
        .runtime
        .block_on(operator::run_detail(&s.store, args.id))?
    {
        Some(d) => print(&args.view, &d, text::run),
        None => bail!(
            "no run with id {} (`gaia-validator runs` lists them)",
            args.id
        ),
    }
}

/// `miner <uid>`.
pub fn miner(global: &GlobalArgs, args: &MinerArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.view.database_url.as_deref())?;
    match s
        .runtime
        .block_on(operator::miner_history(&s.store, args.uid, args.limit))?
    {
        Some(h) => print(&args.view, &h, text::miner),
        None => bail!(
            "miner {} is not in the metagraph mirror and in no run",
            args.uid
        ),
    }
}

/// `weights` without `--scores-json`: the recorded vectors.
pub fn weights(global: &GlobalArgs, args: &WeightsArgs) -> anyhow::Result<ExitCode> {
    let s = open(global.config.as_deref(), args.database_url.as_deref())?;
    let w = s
        .runtime
        .block_on(operator::weights_view(&s.store, args.history))?;
    let view = ViewArgs {
        database_url: None,
        json: args.json,
    };
    print(&view, &w, text::weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_of_urls() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/gaia/gaia.db?mode=rwc"),
            Some(std::path::PathBuf::from("/var/lib/gaia/gaia.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data/gaia.db"),
            Some(std::path::PathBuf::from("data/gaia.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn a_missing_sqlite_file_is_refused_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("gaia.db");
        let url = format!("sqlite://{}", file.display());
        let err = open(None, Some(&url)).err().unwrap().to_string();
        assert!(err.contains("no SQLite database at"), "{err}");
        assert!(!file.exists() && !dir.path().join("sub").exists());
        // An empty file is an SQLite database without the validator's schema.
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        let url = format!("sqlite://{}", empty.display());
        let err = open(None, Some(&url)).err().unwrap().to_string();
        assert!(err.contains("holds no validator schema"), "{err}");
    }
}
