//! The operator view (issue 18) against a database filled by a real cycle of the demo fleet, on
//! both backends, with one cycle per backend reused by every check:
//!
//! - the read-only commands (`status`, `runs`, `show-run`, `miner`, `weights`) with `--json`,
//!   checked field by field against what the store holds, and their errors for unknown ids;
//! - every status page loaded in headless Chromium from the running validator: the rendered DOM
//!   (tables, the heat map's cells, the history plot's points, the weight bars, each with its
//!   number) against the store, and a screenshot of each under
//!   `target/tmp/status-page/<backend>/` (for a person to look at);
//! - unknown ids and paths answer 404 pages; `run-now` queues the current cycle's run through the
//!   ledger once, and the running validator claims it;
//! - on PostgreSQL, a page requested while the server is stopped answers the "Database
//!   not answering" page within seconds instead of hanging.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gaia_dev::browser::{attr_values, Chromium};
use gaia_dev::harness::Validator;
use gaia_dev::sim_cycle::{demo_specs, SimCycle};
use gaia_store::{
    ForecastStats, JobStatus, MinerResponse, Run, Store, StoreConfig, WeightOutcome, ERA5_LEADS,
};
use gaia_testkit::{TestPostgres, TestSqlite};
use serde_json::Value;

use crate::BIN;

const GRID_DEG: f64 = 10.0;
const CYCLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the screenshots of `backend` go (kept after the test).
fn out_dir(backend: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("status-page")
        .join(backend);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `gaia-dev <args>` with the cycle's settings (as an operator's shell would have them).
fn command(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("start gaia-dev")
}

/// `gaia-dev <args> --json`, which must succeed; its output parsed.
fn json(env: &[(String, String)], args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = command(env, &all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{stdout}"))
}

/// One HTTP/1.0 GET: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// Text as Chromium's serialiser writes it in a text node.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What the store says about the cycle's run, read once.
struct Truth {
    run: Run,
    responses: Vec<MinerResponse>,
    stats: BTreeMap<u8, ForecastStats>,
}

impl Truth {
    async fn read(store: &Store, run: Run) -> Self {
        let responses = store.list_responses(run.id).await.unwrap();
        let stats = store
            .list_forecast_stats(run.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.miner_uid, s))
            .collect();
        Self {
            run,
            responses,
            stats,
        }
    }

    fn outcomes(&self) -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        for r in &self.responses {
            *m.entry(r.status.as_str().to_owned()).or_insert(0) += 1;
        }
        m
    }
}

/// A miner line of the JSON (`show-run`'s or `miner`'s) against the store.
fn check_line(line: &Value, r: &MinerResponse, s: Option<&ForecastStats>) {
    let ctx = format!("uid {}: {line}", r.miner_uid);
    assert_eq!(line["uid"], u64::from(r.miner_uid), "{ctx}");
    assert_eq!(line["hotkey"], r.miner_hotkey.as_str(), "{ctx}");
    assert_eq!(line["status"], r.status.as_str(), "{ctx}");
    assert_eq!(line["reason"].as_str(), r.error_message.as_deref(), "{ctx}");
    assert_eq!(
        f(&line["day1"]),
        s.and_then(|s| s.forecast_score_initial),
        "{ctx}"
    );
    assert_eq!(
        f(&line["overall"]),
        s.and_then(|s| s.overall_forecast_score),
        "{ctx}"
    );
    assert_eq!(
        f(&line["era5_combined"]),
        s.and_then(|s| s.era5_combined_score),
        "{ctx}"
    );
    let leads = line["era5"].as_array().unwrap();
    let want = s.map(ForecastStats::era5_by_lead).unwrap_or([None; 10]);
    assert_eq!(leads.len(), 10, "{ctx}");
    for (i, l) in leads.iter().enumerate() {
        assert_eq!(l["lead_hours"], i64::from(ERA5_LEADS[i]), "{ctx}");
        assert_eq!(f(&l["score"]), want[i], "{ctx} lead {}", ERA5_LEADS[i]);
    }
}

/// The ledger counts while they stay put (the validator keeps running): read the store, run
/// `status`, read the store again; compare when nothing moved in between.
async fn check_status(env: &[(String, String)], store: &Store, t: &Truth, backend: &str) {
    let mut last = String::new();
    for _ in 0..5 {
        let before = store.ledger_summary().await.unwrap();
        let o = tokio::task::block_in_place(|| json(env, &["status", "--runs", "3"]));
        let after = store.ledger_summary().await.unwrap();
        if before != after {
            last = format!("{before:?} != {after:?}");
            continue;
        }
        assert_eq!(o["database"], backend);
        assert_eq!(o["settings"]["chain_mode"], "offline");
        assert_eq!(o["settings"]["weights_mode"], "on");
        assert_eq!(o["settings"]["scoring_profile"], "production");
        let run = &o["runs"][0];
        assert_eq!(run["id"], t.run.id);
        assert_eq!(run["status"], "completed");
        assert_eq!(time(&run["gfs_init"]), t.run.gfs_init_time_utc);
        assert_eq!(run["miners"], t.responses.len());
        let outcomes: BTreeMap<String, i64> =
            serde_json::from_value(run["outcomes"].clone()).unwrap();
        assert_eq!(outcomes, t.outcomes());
        for s in JobStatus::ALL {
            let shown = o["ledger"]["counts"][s.as_str()].as_i64().unwrap_or(0);
            assert_eq!(shown, before.count(*s), "ledger {s}: {o}");
        }
        assert_eq!(
            o["ledger"]["oldest_waiting"]["job_key"].as_str(),
            before.oldest_waiting.as_ref().map(|j| j.job_key.as_str())
        );
        let history = store.recent_weights(100).await.unwrap();
        let set = history
            .iter()
            .find(|w| w.outcome == WeightOutcome::Submitted)
            .expect("the cycle set weights");
        let shown = &o["last_weights_set"];
        assert_eq!(shown["attempt_key"], set.attempt_key.as_str());
        assert_eq!(shown["block"].as_i64(), set.block);
        assert_eq!(time(&shown["created_at"]), set.created_at);
        assert!(o["last_weights_shadowed"].is_null(), "mode on: {o}");
        return;
    }
    panic!("the ledger kept moving: {last}");
}

async fn check_commands(
    env: &[(String, String)],
    url: &str,
    store: &Store,
    t: &Truth,
    backend: &str,
) {
    check_status(env, store, t, backend).await;
    tokio::task::block_in_place(|| {
        // runs, with the URL given on the command line.
        let runs = json(env, &["runs", "--limit", "5", "--database-url", url]);
        let first = &runs[0];
        assert_eq!(first["id"], t.run.id);
        assert_eq!(time(&first["started"]), t.run.run_initiation_time);
        assert_eq!(
            first["completed"].is_null(),
            t.run.completion_time.is_none()
        );
        assert_eq!(first["status"], t.run.status.as_str());

        let detail = json(env, &["show-run", &t.run.id.to_string()]);
        assert_eq!(detail["run"]["id"], t.run.id);
        let miners = detail["miners"].as_array().unwrap();
        assert_eq!(miners.len(), t.responses.len());
        for (line, r) in miners.iter().zip(&t.responses) {
            check_line(line, r, t.stats.get(&r.miner_uid));
        }

        for r in &t.responses {
            let h = json(env, &["miner", &r.miner_uid.to_string()]);
            assert_eq!(h["uid"], u64::from(r.miner_uid));
            assert_eq!(h["hotkey"], r.miner_hotkey.as_str());
            let line = &h["runs"][0];
            assert_eq!(line["run_id"], t.run.id);
            assert_eq!(line["run_status"], "completed");
            check_line(line, r, t.stats.get(&r.miner_uid));
        }

        let unknown = command(env, &["show-run", "999999"]);
        assert!(!unknown.status.success());
        let err = String::from_utf8_lossy(&unknown.stderr);
        assert!(err.contains("no run with id 999999"), "{err}");
        let nobody = command(env, &["miner", "250"]);
        assert!(!nobody.status.success());
        let err = String::from_utf8_lossy(&nobody.stderr);
        assert!(err.contains("miner 250 is not in the metagraph"), "{err}");
        let bad = command(env, &["miner", "256"]);
        assert!(!bad.status.success(), "uid 256 must be refused");
    });
    let newest = store.recent_weights(1).await.unwrap().remove(0);
    let w = tokio::task::block_in_place(|| json(env, &["weights", "--history", "3"]));
    let a = &w["attempts"][0];
    assert_eq!(a["attempt_key"], newest.attempt_key.as_str());
    assert_eq!(a["outcome"], newest.outcome.as_str());
    assert_eq!(a["block"].as_i64(), newest.block);
    let shown: Vec<(u8, f64)> = serde_json::from_value(a["weights"].clone()).unwrap();
    let want: Vec<(u8, f64)> = newest
        .weights
        .as_slice()
        .iter()
        .enumerate()
        .filter_map(|(uid, v)| v.filter(|v| *v > 0.0).map(|v| (uid as u8, v)))
        .collect();
    assert_eq!(shown, want);
    assert!(
        !want.is_empty(),
        "the cycle's vector gives weight to someone"
    );
}

/// Every page in the browser: DOM against the store, a screenshot each. Returns the shots.
fn check_pages(addr: &str, t: &Truth, store_weights: &[(u8, f64)], dir: &Path) -> Vec<PathBuf> {
    let chromium = Chromium::find_or_install().expect("headless Chromium");
    let base = format!("http://{addr}");
    let mut shots = Vec::new();
    let mut shot = |name: &str, path: &str| {
        let png = dir.join(format!("{name}.png"));
        chromium
            .screenshot(&format!("{base}{path}"), &png, 1280, 900)
            .unwrap();
        shots.push(png);
    };

    let dom = chromium.dump_dom(&format!("{base}/")).unwrap();
    assert!(dom.contains(r#"<table id="runs">"#), "{dom}");
    assert!(
        dom.contains(&format!(r#"href="/runs/{}""#, t.run.id)),
        "{dom}"
    );
    assert!(dom.contains(r#"id="last-weights""#), "{dom}");
    assert!(dom.contains("Workers connected"), "{dom}");
    shot("overview", "/");

    let dom = chromium
        .dump_dom(&format!("{base}/runs/{}", t.run.id))
        .unwrap();
    let uids = attr_values(&dom, r#"class="cell""#, "data-uid");
    let cols = attr_values(&dom, r#"class="cell""#, "data-col");
    let scores = attr_values(&dom, r#"class="cell""#, "data-score");
    assert_eq!(
        uids.len(),
        t.responses.len() * 12,
        "one cell per miner and column"
    );
    for ((uid, col), score) in uids.iter().zip(&cols).zip(&scores) {
        let uid: u8 = uid.parse().unwrap();
        let s = t.stats.get(&uid);
        let want = match col.as_str() {
            "Day-1" => s.and_then(|s| s.forecast_score_initial),
            "Overall" => s.and_then(|s| s.overall_forecast_score),
            lead => {
                let h: i32 = lead.trim_start_matches('L').parse().unwrap();
                let i = ERA5_LEADS.iter().position(|x| *x == h).unwrap();
                s.and_then(|s| s.era5_by_lead()[i])
            }
        };
        let shown = (!score.is_empty()).then(|| score.parse::<f64>().unwrap());
        assert_eq!(shown, want, "uid {uid} {col}");
    }
    for r in &t.responses {
        assert!(dom.contains(&format!(r#"href="/miners/{}""#, r.miner_uid)));
        if let Some(reason) = &r.error_message {
            let head: String = reason.chars().take(40).collect();
            assert!(
                dom.contains(&dom_text(&head)),
                "reason of uid {}: {head}",
                r.miner_uid
            );
        }
    }
    shot("run", &format!("/runs/{}", t.run.id));

    for r in &t.responses {
        let dom = chromium
            .dump_dom(&format!("{base}/miners/{}", r.miner_uid))
            .unwrap();
        let series = attr_values(&dom, r#"class="point""#, "data-series");
        let values = attr_values(&dom, r#"class="point""#, "data-value");
        let overall: Vec<f64> = series
            .iter()
            .zip(&values)
            .filter(|(s, _)| *s == "overall")
            .map(|(_, v)| v.parse().unwrap())
            .collect();
        let want: Vec<f64> = t
            .stats
            .get(&r.miner_uid)
            .and_then(|s| s.overall_forecast_score)
            .into_iter()
            .collect();
        assert_eq!(overall, want, "uid {} plot", r.miner_uid);
        assert!(dom.contains(r#"<table id="outcomes">"#));
    }
    let best = t
        .stats
        .values()
        .max_by(|a, b| {
            a.overall_forecast_score
                .unwrap_or(-1.0)
                .total_cmp(&b.overall_forecast_score.unwrap_or(-1.0))
        })
        .map_or(0, |s| s.miner_uid);
    shot("miner", &format!("/miners/{best}"));
    if let Some(failed) = t.responses.iter().find(|r| r.error_message.is_some()) {
        shot("miner-failed", &format!("/miners/{}", failed.miner_uid));
    }

    let dom = chromium.dump_dom(&format!("{base}/weights")).unwrap();
    let bar_uids = attr_values(&dom, r#"class="bar""#, "data-uid");
    let bar_values = attr_values(&dom, r#"class="bar""#, "data-value");
    let mut bars: Vec<(u8, f64)> = bar_uids
        .iter()
        .zip(&bar_values)
        .map(|(u, v)| (u.parse().unwrap(), v.parse().unwrap()))
        .collect();
    assert!(
        bars.windows(2).all(|p| p[0].1 >= p[1].1),
        "bars largest first: {bars:?}"
    );
    bars.sort_by_key(|b| b.0);
    let burn = dom.contains("is left out of the chart");
    assert!(
        !burn,
        "the demo metagraph has no burn hotkey, so every weight is drawn"
    );
    assert_eq!(bars, store_weights, "one bar per non-zero weight");
    assert!(dom.contains(r#"<table id="history">"#));
    shot("weights", "/weights");

    for path in [
        "/runs/999999",
        "/runs/abc",
        "/miners/250",
        "/miners/999",
        "/nope",
    ] {
        let (code, body) = get(addr, path);
        assert_eq!(code, 404, "{path}: {body}");
        assert!(body.contains("does not exist"), "{path}: {body}");
    }
    shot("not-found", "/runs/999999");
    shots
}

/// `run-now` twice: queued once, through the schedule's ledger key.
async fn check_run_now(env: &[(String, String)], store: &Store) {
    let first = tokio::task::block_in_place(|| json(env, &["run-now"]));
    let today = Utc::now().format("%Y%m%d00").to_string();
    assert_eq!(first["job_key"], format!("weather.run:{today}"));
    assert_eq!(first["queued"], true);
    let job = store
        .find_job_by_key(first["job_key"].as_str().unwrap())
        .await
        .unwrap()
        .expect("queued in the ledger");
    assert_eq!(job.job_type, "weather.run");
    assert_eq!(first["job_id"], job.id);
    let again = tokio::task::block_in_place(|| json(env, &["run-now"]));
    assert_eq!(again["queued"], false);
    assert_eq!(again["job_id"], job.id);
    // The running validator's ledger runner takes it, as it takes the schedule's.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let now = store.get_job(job.id).await.unwrap().unwrap();
        if now.attempts > 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "run-now's job never claimed: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Run the demo fleet's cycle on `url` under a validator; returns it with the finished run.
async fn cycle(dir: &Path, url: &str) -> (SimCycle, Validator, Store, Run) {
    let cycle = SimCycle::prepare(dir, url, GRID_DEG, demo_specs())
        .await
        .unwrap();
    let env = cycle.validator_env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let validator = tokio::task::block_in_place(|| Validator::start(BIN, &pairs));
    let store = Store::open(&StoreConfig::new(url)).await.unwrap();
    let run = cycle
        .wait_done(&store, CYCLE_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", validator.logs()));
    (cycle, validator, store, run)
}

async fn exercise(backend: &str, url: &str) -> (Validator, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (cycle, validator, store, run) = cycle(dir.path(), url).await;
    let t = Truth::read(&store, run).await;
    let addr = validator.status_addr();
    assert!(!addr.is_empty(), "the status page published its address");
    let newest = store.recent_weights(1).await.unwrap().remove(0);
    let weights: Vec<(u8, f64)> = newest
        .weights
        .as_slice()
        .iter()
        .enumerate()
        .filter_map(|(uid, v)| v.filter(|v| *v > 0.0).map(|v| (uid as u8, v)))
        .collect();
    let shots = tokio::task::block_in_place(|| check_pages(&addr, &t, &weights, &out_dir(backend)));
    let env = cycle.validator_env();
    check_commands(&env, url, &store, &t, backend).await;
    check_run_now(&env, &store).await;
    for s in shots {
        println!("screenshot: {}", s.display());
    }
    (validator, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_status_view_on_sqlite() {
    let db = TestSqlite::create().unwrap();
    let (_validator, store) = exercise("SQLite", &db.url()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_status_view_on_postgres_and_while_it_is_down() {
    let pg = TestPostgres::create_private().await.unwrap();
    let (validator, store) = exercise("PostgreSQL", pg.url()).await;
    store.close().await;
    let addr = validator.status_addr();
    let cluster = pg.cluster().expect("a private cluster");
    cluster.stop().unwrap();
    for path in ["/", "/weights", "/runs/1", "/miners/0"] {
        let start = Instant::now();
        let (code, body) = tokio::task::block_in_place(|| get(&addr, path));
        let took = start.elapsed();
        assert_eq!(code, 503, "{path}: {body}");
        assert!(body.contains("Database not answering"), "{path}: {body}");
        assert!(
            took < Duration::from_secs(8),
            "{path} took {took:?}: it must not hang"
        );
        println!("{path} with the database down: 503 in {took:?}");
    }
    let chromium = Chromium::find_or_install().unwrap();
    let png = out_dir("PostgreSQL").join("database-down.png");
    tokio::task::block_in_place(|| {
        chromium
            .screenshot(&format!("http://{addr}/"), &png, 1280, 900)
            .unwrap();
    });
    println!("screenshot: {}", png.display());
    cluster.start_again().unwrap();
}
