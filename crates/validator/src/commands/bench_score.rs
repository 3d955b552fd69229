//! `gaia-validator bench score`: in one run on the same files, time our Day-1 score, the Python
//! reference (bench/day1_reference.py: xarray + xskillscore with the same formulas) and a
//! decode-only pass that reads every field the score needs once, and print the figures and the
//! ratios (goal: ≥ 20× faster than Python, ≤ 1.5× the decode floor).
//!
//! The stores (0.25°, 721 × 1440, the five Day-1 variables) are generated once by
//! scripts/fixtures/scoring_day1.py into `--dir` and reused when already there.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use gaia_scoring::day1::{parallel_map, score_day1, Day1Config, Day1Request, VariableSpec};
use gaia_scoring::regrid::{nearest_level, nearest_time};
use gaia_scoring::zarr::{Climatology, Dataset, OpenOptions};
use serde_json::Value;

use crate::cli::BenchScoreArgs;

/// The repository root: `--repo`, else the source tree this binary was built from.
fn repo_root(args: &BenchScoreArgs) -> PathBuf {
    args.repo.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
}

/// `GAIA_PYTHON`, else `<repo>/.venv/bin/python`, else `python3`.
fn python(repo: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("GAIA_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = repo.join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn run_py(py: &Path, script: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .with_context(|| format!("starting {}", py.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<f64>> {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f()?;
            Ok(t0.elapsed().as_secs_f64())
        })
        .collect()
}

/// Read every field the Day-1 score reads, once, and nothing else, with the same per-variable
/// concurrency as the score.
fn decode_only(req: &Day1Request, threads: usize) -> anyhow::Result<()> {
    let valid = req.valid_time();
    let opts = OpenOptions::default();
    let clim = Climatology::open(&req.climatology, &opts)?;
    let tol = chrono::TimeDelta::hours(12);
    let mut sources = Vec::new();
    for location in [&req.forecast, &req.truth, &req.reference] {
        let ds = Dataset::open(location, &opts)?;
        let ti = nearest_time(&ds.times()?, valid, tol)?;
        let levels = ds.pressure_levels()?.unwrap_or_default();
        sources.push((ds, ti, levels));
    }
    let read_all = |spec: &VariableSpec| -> anyhow::Result<()> {
        for (ds, ti, levels) in &sources {
            let li = spec
                .level_hpa
                .map(|l| nearest_level(levels, l, 10.0))
                .transpose()?;
            std::hint::black_box(ds.read_field(&spec.name, *ti, li)?);
        }
        std::hint::black_box(clim.field(&spec.name, spec.level_hpa, valid)?);
        Ok(())
    };
    parallel_map(&req.config.variables, threads, read_all)
        .into_iter()
        .collect()
}

/// Run the benchmark.
pub fn run(args: &BenchScoreArgs) -> anyhow::Result<ExitCode> {
    let repo = repo_root(args);
    let py = python(&repo);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("gaia-bench-score"));
    let dir_s = dir.to_str().context("the store directory must be UTF-8")?;
    let fixture = repo.join("scripts/fixtures/scoring_day1.py");
    let meta_path = dir.join("fixture.json");
    let meta = if meta_path.exists() {
        std::fs::read_to_string(&meta_path)?
    } else {
        eprintln!("generating 0.25° stores in {dir_s} (once) ...");
        let out = run_py(
            &py,
            &fixture,
            &[
                dir_s,
                "--grid-deg",
                "0.25",
                "--no-expected",
                "--cases",
                "honest",
            ],
        )?;
        std::fs::write(&meta_path, &out)?;
        out
    };
    let j: Value = serde_json::from_str(&meta)?;
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .context("fixture JSON lacks a path")
    };
    let req = Day1Request {
        forecast: s(&j["cases"]["honest"]["forecast"])?,
        truth: s(&j["cases"]["honest"]["truth"])?,
        reference: s(&j["reference"])?,
        climatology: s(&j["climatology"])?,
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: s(&j["gfs_init"])?.parse::<DateTime<Utc>>()?,
        lead_hours: 12.0,
        valid_time: None,
        config: Day1Config::default(),
        threads: 1,
    };
    let runs = args.runs.max(1);
    // Warm the page cache once so every contender reads from memory.
    decode_only(&req, 1)?;
    let mut score = 0.0;
    let mut figures = Vec::new();
    let mut thread_counts = vec![1];
    if args.threads > 1 {
        thread_counts.push(args.threads);
    }
    for &threads in &thread_counts {
        let mut r = req.clone();
        r.threads = threads;
        let ours = time_runs(runs, || {
            score = score_day1(&r)?.score;
            Ok(())
        })?;
        let decode = time_runs(runs, || decode_only(&r, threads))?;
        figures.push((threads, median(ours), median(decode)));
    }
    let init = req.gfs_init_time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let reference = repo.join("bench/day1_reference.py");
    let py_runs = args.python_runs.max(1).to_string();
    let py_out = run_py(
        &py,
        &reference,
        &[
            &req.forecast,
            &req.truth,
            &req.reference,
            &req.climatology,
            &init,
            "12",
            "--time",
            &py_runs,
        ],
    )?;
    let py_json: Value = serde_json::from_str(py_out.trim())?;
    let py_secs: Vec<f64> = py_json["seconds"]
        .as_array()
        .context("python timing missing")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let py_score = py_json["score"].as_f64().unwrap_or(f64::NAN);
    let p = median(py_secs);
    println!(
        "Day-1 benchmark, 0.25° (721 x 1440), 5 variables, stores in {dir_s}, median of {runs}"
    );
    println!(
        "  python reference (xarray/xskillscore)   {:>9.1} ms   score {py_score:.9}",
        p * 1e3
    );
    for (threads, o, d) in figures {
        println!("  threads = {threads}");
        println!(
            "    ours (score_day1)                     {:>9.1} ms   score {score:.9}",
            o * 1e3
        );
        println!(
            "    decode-only floor                     {:>9.1} ms",
            d * 1e3
        );
        println!(
            "    speed-up vs python                    {:>9.1} x   (goal >= 20)",
            p / o
        );
        println!(
            "    ours / decode floor                   {:>9.2} x   (goal <= 1.5)",
            o / d
        );
    }
    Ok(ExitCode::SUCCESS)
}
