//! `gaia-dev bench store`: write 256 miners × 100 score rows on each backend and print
//! rows/s — first as inserts, then again on the same keys (the upsert-update path), one
//! transaction per miner, which is how the scoring steps write.
//!
//! SQLite uses a file in a temporary directory. PostgreSQL uses `--postgres-url` when given,
//! else a fresh database from gaia-testkit (`TEST_DATABASE_URL`, or a throwaway cluster it starts
//! and removes; that cluster runs with fsync off, so its figures are an upper bound).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use gaia_store::{MinerScore, NewResponse, NewRun, NodeRecord, ResponseStatus, Store, StoreConfig};

use crate::cli::BenchStoreArgs;

/// Figures of one backend.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    /// Backend name and redacted URL.
    pub label: String,
    /// Rows written per pass.
    pub rows: u64,
    /// Insert pass, rows per second.
    pub insert_rows_per_s: f64,
    /// Same-key upsert pass, rows per second.
    pub upsert_rows_per_s: f64,
}

/// Run the subcommand.
pub fn run(args: &BenchStoreArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        println!(
            "bench store: {} miners x {} score rows, one transaction per miner",
            args.miners, args.rows_per_miner
        );
        let databases = BenchDatabases::open(
            args.skip_sqlite,
            args.skip_postgres,
            args.postgres_url.as_deref(),
        )
        .await?;
        let mut all = Vec::new();
        for (_, url) in &databases.targets {
            all.push(bench_url(url, args).await?);
        }
        for f in &all {
            println!(
                "{:<60} {:>7} rows  insert {:>10.0} rows/s  re-upsert {:>10.0} rows/s",
                f.label, f.rows, f.insert_rows_per_s, f.upsert_rows_per_s
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The databases a storage benchmark runs on: a fresh SQLite file and a throwaway PostgreSQL (or
/// the one of `--postgres-url`), each unless skipped; they live as long as this value.
pub struct BenchDatabases {
    /// (backend label, URL) in the order to run.
    pub targets: Vec<(&'static str, String)>,
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres: Option<gaia_testkit::TestPostgres>,
}

impl BenchDatabases {
    /// Prepare the databases the flags ask for.
    pub async fn open(
        skip_sqlite: bool,
        skip_postgres: bool,
        postgres_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut targets = Vec::new();
        let mut sqlite_dir = None;
        let mut postgres = None;
        if !skip_sqlite {
            let dir = tempfile::tempdir().context("temporary directory for SQLite")?;
            targets.push((
                "SQLite",
                format!("sqlite://{}", dir.path().join("bench.db").display()),
            ));
            sqlite_dir = Some(dir);
        }
        if !skip_postgres {
            let url = match postgres_url {
                Some(u) => u.to_owned(),
                None => {
                    let pg = gaia_testkit::TestPostgres::create()
                        .await
                        .context("starting a throwaway PostgreSQL (or use --postgres-url)")?;
                    let u = pg.url().to_owned();
                    postgres = Some(pg);
                    u
                }
            };
            targets.push(("PostgreSQL", url));
        }
        Ok(Self {
            targets,
            _sqlite_dir: sqlite_dir,
            _postgres: postgres,
        })
    }
}

/// Benchmark one database URL (it is migrated first; a run, nodes and responses are created).
pub async fn bench_url(url: &str, args: &BenchStoreArgs) -> anyhow::Result<BenchFigures> {
    let store = Store::open(&StoreConfig::new(url).with_pool(1, 4)).await?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
        .single()
        .context("reference time")?;
    let run = store
        .create_run(&NewRun {
            run_initiation_time: t0,
            target_forecast_time_utc: t0,
            gfs_init_time_utc: t0,
            gfs_input_metadata: None,
        })
        .await?;
    let miners = args.miners.min(256);
    let mut batches = Vec::new();
    for uid in 0..miners {
        let uid = u8::try_from(uid).context("uid")?;
        store
            .upsert_node(&NodeRecord {
                uid,
                hotkey: format!("hk-{uid}"),
                coldkey: format!("ck-{uid}"),
                ip: "127.0.0.1".into(),
                port: 8091,
                stake: 1.0,
                incentive: 0.0,
                trust: 0.0,
                vtrust: 0.0,
                validator_permit: false,
                last_updated: t0,
            })
            .await?;
        let resp = store
            .upsert_response(&NewResponse {
                run_id: run.id,
                miner_uid: uid,
                miner_hotkey: format!("hk-{uid}"),
                job_id: None,
                zarr_url: None,
                verification_hash_claimed: None,
                status: ResponseStatus::VerifiedManifestStoreOpened,
                response_time: t0,
            })
            .await?;
        let rows: Vec<MinerScore> = (0..args.rows_per_miner)
            .map(|i| MinerScore {
                response_id: resp.id,
                run_id: run.id,
                miner_uid: uid,
                miner_hotkey: format!("hk-{uid}"),
                score_type: format!("era5_rmse_var{}_{}h", i % 10, 24 * (1 + i / 10)),
                lead_hours: 24 * (1 + i32::try_from(i / 10).unwrap_or(0)),
                variable_level: format!("var{}", i % 10),
                valid_time_utc: t0 + Duration::hours(24),
                score: Some(f64::from(i) / 100.0),
                metrics: None,
                calculation_time: t0,
                error_message: None,
            })
            .collect();
        batches.push(rows);
    }
    let rows: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let insert = time_pass(&store, &batches).await?;
    let upsert = time_pass(&store, &batches).await?;
    let stored = store.count_miner_scores(run.id).await?;
    anyhow::ensure!(
        u64::try_from(stored).unwrap_or(0) == rows,
        "expected {rows} rows after two passes, found {stored}"
    );
    let label = format!("{} {}", store.backend(), store.redacted_url());
    store.close().await;
    Ok(BenchFigures {
        label,
        rows,
        insert_rows_per_s: rows as f64 / insert.max(1e-9),
        upsert_rows_per_s: rows as f64 / upsert.max(1e-9),
    })
}

async fn time_pass(store: &Store, batches: &[Vec<MinerScore>]) -> anyhow::Result<f64> {
    let start = Instant::now();
    for b in batches {
        store.upsert_miner_scores(b).await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_bench_writes_every_row_once_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let args = BenchStoreArgs {
            miners: 3,
            rows_per_miner: 20,
            postgres_url: None,
            skip_sqlite: false,
            skip_postgres: true,
        };
        let f = bench_url(&url, &args).await.unwrap();
        assert_eq!(f.rows, 60);
        assert!(f.insert_rows_per_s > 0.0 && f.upsert_rows_per_s > 0.0);
        assert!(f.label.starts_with("SQLite sqlite://"), "{}", f.label);
    }
}
