//! `gaia-dev bench status`: how long the status page takes with a full database — 256 miners ×
//! 30 runs by default (responses, per-lead stats, 30 weight vectors, a ledger) written through
//! the store's normal write API — on SQLite and PostgreSQL. The page's real router is served on
//! loopback and each page is fetched over HTTP `--requests` times; the figures (median, p95,
//! max) are printed. The target (issue 18: < 200 ms per page) is checked by reading them, not by
//! a timed assertion. `--screenshots DIR` also saves what each page looks like at that size.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{bail, Context};
use chrono::{Duration, TimeZone, Utc};
use gaia_scoring::weights::DEFAULT_BURN_HOTKEY;
use gaia_store::{
    ForecastStats, ForecastStatus, NewJob, NewResponse, NewRun, NodeRecord, ResponseStatus,
    RunStatus, Store, StoreConfig, UidVector, WeightOutcome, WeightRecord,
};
use gaia_validator::io_engine::status_page::{router, StatusState};
use gaia_validator::io_engine::Dispatcher;
use gaia_validator::operator::OverviewContext;
use gaia_validator::telemetry::metrics::Metrics;

use crate::cli::BenchStatusArgs;

/// Run the subcommand.
pub fn run(args: &BenchStatusArgs) -> anyhow::Result<ExitCode> {
    if args.miners == 0 || args.miners > 256 || args.runs == 0 || args.requests == 0 {
        bail!("--miners must be 1..=256, --runs and --requests at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        println!(
            "bench status: {} miners x {} runs, {} requests per page (median / p95 / max)",
            args.miners, args.runs, args.requests
        );
        let databases = super::bench_store::BenchDatabases::open(
            args.skip_sqlite,
            args.skip_postgres,
            args.postgres_url.as_deref(),
        )
        .await?;
        for (label, url) in &databases.targets {
            bench_url(label, url, args).await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Fill `store` with `miners` × `runs` (newest run id = `runs`); returns the newest run's id.
pub async fn fill(store: &Store, miners: u32, runs: u32) -> anyhow::Result<i64> {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
        .single()
        .context("reference time")?;
    let uids: Vec<u8> = (0..miners).filter_map(|u| u8::try_from(u).ok()).collect();
    for &uid in &uids {
        store
            .upsert_node(&NodeRecord {
                uid,
                hotkey: if uid == 0 {
                    DEFAULT_BURN_HOTKEY.to_owned()
                } else {
                    format!("5Hotkey{uid:03}")
                },
                coldkey: format!("5Coldkey{uid:03}"),
                ip: format!("10.0.{}.{}", uid / 100, uid % 100),
                port: 8091,
                stake: 1.0,
                incentive: 0.0,
                trust: 0.0,
                vtrust: 0.0,
                validator_permit: false,
                last_updated: t0,
            })
            .await?;
    }
    let mut newest = 0;
    for r in (0..runs).rev() {
        let gfs = t0 - Duration::days(i64::from(r));
        let run = store
            .create_run(&NewRun {
                run_initiation_time: gfs + Duration::hours(18),
                target_forecast_time_utc: gfs,
                gfs_init_time_utc: gfs,
                gfs_input_metadata: None,
            })
            .await?;
        newest = run.id;
        for &uid in &uids {
            let failed = (u32::from(uid) + r) % 13 == 0;
            let resp = store
                .upsert_response(&NewResponse {
                    run_id: run.id,
                    miner_uid: uid,
                    miner_hotkey: format!("5Hotkey{uid:03}"),
                    job_id: Some(format!("job-{}-{uid}", run.id)),
                    zarr_url: Some(format!("http://10.0.0.1:8091/{uid}.zarr")),
                    verification_hash_claimed: Some("ab".repeat(32)),
                    status: ResponseStatus::Received,
                    response_time: gfs,
                })
                .await?;
            let (status, error) = if failed {
                (
                    ResponseStatus::VerificationFailed,
                    Some("manifest hash mismatch: claimed ab…, computed cd…"),
                )
            } else {
                (ResponseStatus::Completed, None)
            };
            store.update_response_status(resp.id, status, error).await?;
            if failed {
                continue;
            }
            let skill = 0.3 + 0.6 * f64::from(uid) / 256.0;
            let mut s = ForecastStats::new(
                run.id,
                uid,
                format!("5Hotkey{uid:03}"),
                ForecastStatus::Completed,
                gfs,
            );
            s.forecast_score_initial = Some(skill);
            for (i, lead) in gaia_store::ERA5_LEADS.iter().enumerate() {
                s.set_era5(*lead, skill * (1.0 - 0.04 * i as f64))?;
            }
            s.era5_combined_score = Some(skill * 0.82);
            s.era5_completeness = Some(1.0);
            s.overall_forecast_score = Some(0.95 * skill * 0.82 + 0.05);
            store.upsert_forecast_stats(&s).await?;
        }
        store
            .update_run_status(
                run.id,
                RunStatus::Completed,
                None,
                Some(gfs + Duration::days(10)),
            )
            .await?;
        // 75 % to the burn UID 0, the rest in proportion to each miner's skill.
        let skill = |uid: u8| 0.3 + 0.6 * f64::from(uid) / 256.0;
        let total: f64 = uids.iter().filter(|u| **u != 0).map(|u| skill(*u)).sum();
        let mut v = UidVector::new(vec![Some(0.0); 256])?;
        for &uid in &uids {
            let w = if uid == 0 {
                0.75
            } else {
                0.25 * skill(uid) / total.max(1e-12)
            };
            v.set(uid, Some(w))?;
        }
        store
            .record_weights(&WeightRecord {
                attempt_key: format!("weights.set:run={}", run.id),
                created_at: gfs + Duration::days(10),
                block: Some(1_000_000 + i64::from(runs - r) * 7200),
                weights: v,
                outcome: WeightOutcome::Submitted,
                detail: None,
            })
            .await?;
        for k in 0..10 {
            store
                .enqueue_job(
                    &NewJob {
                        job_key: format!("weather.era5:run={}:k={k}", run.id),
                        job_type: "weather.era5".into(),
                        priority: 5,
                        payload: serde_json::json!({}),
                        max_attempts: 3,
                        scheduled_at: gfs,
                        run_id: Some(run.id),
                    },
                    gfs,
                )
                .await?;
        }
    }
    Ok(newest)
}

/// One GET over loopback; the status code.
fn get(addr: &str, path: &str) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(StdDuration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = Vec::new();
    s.read_to_end(&mut text)?;
    let head = String::from_utf8_lossy(&text[..text.len().min(20)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status line: {head}"))
}

async fn bench_url(label: &str, url: &str, args: &BenchStatusArgs) -> anyhow::Result<()> {
    let store = Store::open(&StoreConfig::new(url).with_pool(1, 10)).await?;
    let start = Instant::now();
    let newest = fill(&store, args.miners, args.runs).await?;
    println!("{label}: filled in {:.1} s", start.elapsed().as_secs_f64());
    let (metrics, _registry) = Metrics::new(None);
    let dispatcher = Dispatcher::new(16, metrics, std::env::temp_dir(), 0);
    let app = router(StatusState {
        dispatcher,
        store: Some(store.clone()),
        context: OverviewContext {
            chain_mode: "offline".into(),
            weights_mode: "on".into(),
            scoring_profile: "production".into(),
            recent_runs: 10,
        },
        workers_configured: 2,
        runtime: None,
        token: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let pages = [
        ("overview", "/".to_owned()),
        ("run", format!("/runs/{newest}")),
        ("miner", format!("/miners/{}", args.miners.min(201) - 1)),
        ("weights", "/weights".to_owned()),
    ];
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(args.requests as usize);
        for _ in 0..=args.requests {
            let a = addr.clone();
            let p = path.clone();
            let t = Instant::now();
            let code = tokio::task::spawn_blocking(move || get(&a, &p)).await??;
            if code != 200 {
                bail!("{path} answered {code}");
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.remove(0); // the first request warms the pool
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{label:<11} {name:<9} {path:<14} median {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
            pick(0.5),
            pick(0.95),
            times.last().copied().unwrap_or(0.0)
        );
    }
    if let Some(dir) = &args.screenshots {
        let dir = dir.join(label);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let chromium = crate::browser::Chromium::find_or_install()?;
        for (name, path) in &pages {
            let png = dir.join(format!("{name}.png"));
            let height = if *name == "run" { 4400 } else { 1000 };
            let url = format!("http://{addr}{path}");
            let c = chromium.clone();
            let p = png.clone();
            tokio::task::spawn_blocking(move || c.screenshot(&url, &p, 1280, height)).await??;
            println!("{label:<11} {name:<9} screenshot {}", png.display());
        }
    }
    server.abort();
    store.close().await;
    Ok(())
}
