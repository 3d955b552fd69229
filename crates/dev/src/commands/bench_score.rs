//! `gaia-dev bench score [--kind day1|era5|all]`: in one run on the same files, time our
//! score, the Python reference (bench/day1_reference.py or bench/era5_reference.py: xarray +
//! xskillscore with the same formulas) and a decode-only pass that reads every field the score
//! needs once, and print the figures and the ratios (goal: ≥ 20× faster than Python, ≤ 1.5× the
//! decode floor).
//!
//! Day-1: the stores (0.25°, 721 × 1440, the five Day-1 variables) are generated once by
//! scripts/fixtures/scoring_day1.py into `--dir` and reused when already there.
//!
//! ERA5: one (miner, lead) — 4 surface variables and 5 atmospheric ones on 13 levels at 0.25° —
//! with the stores generated once by scripts/fixtures/scoring_era5.py into `<dir>/era5` (the
//! forecast as Zarr v2, ERA5 and the climatology as Zarr v3, all written by xarray). The Python
//! reference times itself after its imports (opening the stores + scoring, like
//! `score_era5_lead`); the subprocess wall time minus that is reported as interpreter start-up.
//! The run also checks that both sides' numbers agree within 1e-6 relative.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use gaia_scoring::day1::{parallel_map, score_day1, Day1Config, Day1Request, VariableSpec};
use gaia_scoring::era5::{score_era5_lead, Era5Config, Era5LeadReport, Era5Request};
use gaia_scoring::regrid::{nearest_level, nearest_time};
use gaia_scoring::zarr::{Climatology, Dataset, OpenOptions};
use serde_json::Value;

use crate::cli::BenchScoreArgs;

/// The repository root: `--repo`, else the source tree this binary was built from.
pub(crate) fn repo_root(args: &BenchScoreArgs) -> PathBuf {
    args.repo.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
}

/// `GAIA_PYTHON`, else `<repo>/.venv/bin/python`, else `python3`.
pub(crate) fn python(repo: &Path) -> PathBuf {
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

pub(crate) fn run_py(py: &Path, script: &Path, args: &[&str]) -> anyhow::Result<String> {
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

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A Python reference's JSON output and the seconds of its timed runs.
fn python_output(out: &str) -> anyhow::Result<(Value, Vec<f64>)> {
    let json: Value = serde_json::from_str(out.trim())?;
    let seconds = json["seconds"]
        .as_array()
        .context("python timing missing")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    Ok((json, seconds))
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
        // The forecast's every level, for the unit-fix mean (§12-18).
        if spec.level_hpa.is_some() {
            let (ds, ti, levels) = &sources[0];
            let all: Vec<usize> = (0..levels.len()).collect();
            std::hint::black_box(ds.read_field_levels(&spec.name, *ti, &all)?);
        }
        std::hint::black_box(clim.field(&spec.name, spec.level_hpa, valid)?);
        Ok(())
    };
    parallel_map(&req.config.variables, threads, read_all)
        .into_iter()
        .collect()
}

/// Run the benchmark(s) selected by `--kind`.
pub fn run(args: &BenchScoreArgs) -> anyhow::Result<ExitCode> {
    // The allocator of a compute worker, which is where scores run in production.
    gaia_validator::memory::keep_freed_memory_for_scoring();
    let mut code = ExitCode::SUCCESS;
    if matches!(args.kind.as_str(), "day1" | "all") {
        run_day1(args)?;
    }
    if matches!(args.kind.as_str(), "era5" | "all") {
        code = run_era5(args)?;
    }
    Ok(code)
}

fn run_day1(args: &BenchScoreArgs) -> anyhow::Result<()> {
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
        miner_requests_per_minute: gaia_scoring::zarr::DEFAULT_REQUESTS_PER_MINUTE,
        miner_download_deadline_s: gaia_scoring::zarr::DEFAULT_DOWNLOAD_DEADLINE.as_secs(),
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
    let (py_json, py_secs) = python_output(&py_out)?;
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
    Ok(())
}

/// Read every field the ERA5 score of one (miner, lead) reads — forecast, ERA5 and climatology
/// for each (variable, level) — once and nothing else, the way the score reads it, on `threads`
/// threads as the score does.
fn era5_decode_only(req: &Era5Request, threads: usize) -> anyhow::Result<()> {
    let valid = req.valid_time();
    let opts = OpenOptions::default();
    let clim = Climatology::open(&req.climatology, &opts)?;
    let mut sources = Vec::new();
    for location in [&req.forecast, &req.truth] {
        let ds = Dataset::open(location, &opts)?;
        let ti = nearest_time(&ds.times()?, valid, chrono::TimeDelta::zero())?;
        let levels = ds.pressure_levels()?.unwrap_or_default();
        sources.push((ds, ti, levels));
    }
    let config = &req.config;
    let units: Vec<(&str, Option<f64>)> = config
        .surface_variables
        .iter()
        .map(|v| (v.as_str(), None))
        .chain(config.atmospheric_variables.iter().flat_map(|v| {
            config
                .levels_hpa
                .iter()
                .map(move |&l| (v.as_str(), Some(l)))
        }))
        .collect();
    let read = |&(var, level): &(&str, Option<f64>)| -> anyhow::Result<()> {
        for (n, (ds, ti, levels)) in sources.iter().enumerate() {
            let li = level.map(|l| nearest_level(levels, l, 0.0)).transpose()?;
            // The forecast's pressure levels as the score reads them: a float32 array as
            // stored, without widening to f64.
            if let (0, Some(li)) = (n, li) {
                if let Some(planes) = ds.read_field_levels_single(var, *ti, &[li])? {
                    std::hint::black_box(planes);
                    continue;
                }
            }
            std::hint::black_box(ds.read_field(var, *ti, li)?);
        }
        std::hint::black_box(clim.field(var, level, valid)?);
        Ok(())
    };
    parallel_map(&units, threads, read).into_iter().collect()
}

/// The comparison of our numbers with the Python reference's.
#[derive(Default)]
struct Agreement {
    /// Numbers compared (a pair of nulls counts).
    compared: usize,
    /// Largest relative difference among pairs whose Python value is not zero.
    worst: f64,
    /// Pairs beyond 1e-6 relative (and 1e-9 absolute), and structural differences.
    mismatches: Vec<String>,
}

impl Agreement {
    fn number(&mut self, what: String, ours: Option<f64>, python: &Value) {
        match (ours, python.as_f64()) {
            (Some(a), Some(e)) => {
                self.compared += 1;
                let rel = ((a - e) / e.abs().max(1e-300)).abs();
                if e != 0.0 {
                    self.worst = self.worst.max(rel);
                }
                if rel > 1e-6 && (a - e).abs() > 1e-9 {
                    self.mismatches
                        .push(format!("{what}: ours {a}, python {e}"));
                }
            }
            (None, None) => self.compared += 1,
            (a, _) => self
                .mismatches
                .push(format!("{what}: ours {a:?}, python {python}")),
        }
    }
}

/// Compare our report with the Python reference's output (`{"ok": {"variables": [...]}}`).
fn era5_agreement(ours: &Era5LeadReport, py: &Value) -> Agreement {
    let mut g = Agreement::default();
    let Some(vars) = py["ok"]["variables"].as_array() else {
        g.mismatches.push(format!("python failed: {py}"));
        return g;
    };
    if vars.len() != ours.variables.len() {
        g.mismatches.push(format!(
            "{} variables, python {}",
            ours.variables.len(),
            vars.len()
        ));
    }
    for (v, e) in ours.variables.iter().zip(vars) {
        let name = &v.variable;
        if e["variable"].as_str() != Some(name.as_str()) {
            g.mismatches
                .push(format!("variable {name} vs python {}", e["variable"]));
            continue;
        }
        for (m, a) in [
            ("rmse", v.rmse),
            ("mse", v.mse),
            ("acc", v.acc),
            ("skill", v.skill),
            ("mae", v.mae),
            ("bias", v.bias),
            ("mean_bias_unweighted", v.mean_bias_unweighted),
            ("coverage", Some(v.coverage)),
            ("edge_salvaged_points", Some(v.edge_salvaged_points as f64)),
            (
                "climatology_filled_points",
                Some(v.climatology_filled_points as f64),
            ),
        ] {
            g.number(format!("{name} {m}"), a, &e[m]);
        }
        let levels = e["levels"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if levels.len() != v.levels.len() {
            g.mismatches.push(format!(
                "{name}: {} levels, python {}",
                v.levels.len(),
                levels.len()
            ));
        }
        for (l, el) in v.levels.iter().zip(levels) {
            for (m, a) in [
                ("mse", l.mse),
                ("rmse", l.rmse),
                ("acc", l.acc),
                ("skill", l.skill),
                ("mae", l.mae),
                ("bias", l.bias),
                ("weight", Some(l.weight)),
            ] {
                g.number(format!("{name} @{:?} {m}", l.level_hpa), a, &el[m]);
            }
        }
    }
    g
}

/// The 0.25° ERA5 fixture stores of `scripts/fixtures/scoring_era5.py --only <only>` in
/// `<dir>/<subdir>` (generated once, `cost` says what that takes) and their `fixture.json`.
pub(crate) fn era5_fixture(
    args: &BenchScoreArgs,
    subdir: &str,
    only: &str,
    cost: &str,
) -> anyhow::Result<(PathBuf, Value)> {
    let repo = repo_root(args);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("gaia-bench-score"))
        .join(subdir);
    std::fs::create_dir_all(&dir)?;
    let dir_s = dir.to_str().context("the store directory must be UTF-8")?;
    let meta_path = dir.join("fixture.json");
    let meta = if meta_path.exists() {
        std::fs::read_to_string(&meta_path)?
    } else {
        eprintln!("generating the 0.25° ERA5 stores in {dir_s} (once: {cost}) ...");
        let out = run_py(
            &python(&repo),
            &repo.join("scripts/fixtures/scoring_era5.py"),
            &[dir_s, "--grid-deg", "0.25", "--no-expected", "--only", only],
        )?;
        std::fs::write(&meta_path, &out)?;
        out
    };
    Ok((dir, serde_json::from_str(&meta)?))
}

/// The Python reference's figures for the ERA5 benchmark and its agreement with ours.
struct Python {
    median_s: f64,
    runs: usize,
    startup_s: f64,
    agreement: Agreement,
}

/// Run bench/era5_reference.py `runs` times on the request's stores and compare its numbers
/// with `ours`.
fn era5_python(
    py: &Path,
    repo: &Path,
    req: &Era5Request,
    lead_hours: u32,
    runs: usize,
    ours: &Era5LeadReport,
) -> anyhow::Result<Python> {
    let init = req.gfs_init_time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let lead = lead_hours.to_string();
    let py_runs = runs.to_string();
    let t0 = Instant::now();
    let py_out = run_py(
        py,
        &repo.join("bench/era5_reference.py"),
        &[
            &req.forecast,
            &req.truth,
            &req.climatology,
            &init,
            &lead,
            "--time",
            &py_runs,
        ],
    )?;
    let py_wall = t0.elapsed().as_secs_f64();
    let (py_json, py_secs) = python_output(&py_out)?;
    let py_startup = py_wall - py_secs.iter().sum::<f64>();
    Ok(Python {
        median_s: median(py_secs),
        runs,
        startup_s: py_startup,
        agreement: era5_agreement(ours, &py_json["result"]),
    })
}

/// The ERA5 benchmark: one (miner, lead) at 0.25° with 13 levels. Exits non-zero when the Rust
/// and Python numbers disagree.
fn run_era5(args: &BenchScoreArgs) -> anyhow::Result<ExitCode> {
    let repo = repo_root(args);
    let py = python(&repo);
    let (dir, j) = era5_fixture(args, "era5", "honest", "~80 s, 1.6 GB on disk, 4 GB of RAM")?;
    let dir_s = dir.to_str().context("the store directory must be UTF-8")?;
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .context("fixture JSON lacks a path")
    };
    let lead_hours = j["lead_hours"]
        .as_u64()
        .and_then(|h| u32::try_from(h).ok())
        .context("fixture JSON lacks lead_hours")?;
    let req = Era5Request {
        forecast: s(&j["cases"]["honest"]["forecast"])?,
        truth: s(&j["truth"])?,
        climatology: s(&j["climatology"])?,
        bearer_token: None,
        frozen_manifest: None,
        gfs_init_time: s(&j["gfs_init"])?.parse::<DateTime<Utc>>()?,
        lead_hours,
        // The Python reference implements the spec's formulas (no §11 defects).
        config: Era5Config {
            profile: gaia_scoring::ScoringProfile::Spec,
            ..Era5Config::default()
        },
    };
    let runs = args.runs.max(1);
    // Warm the page cache once so every contender reads from memory.
    era5_decode_only(&req, 1)?;
    let mut report = None;
    let mut figures = Vec::new();
    let mut thread_counts = vec![1];
    if args.threads > 1 {
        thread_counts.push(args.threads);
    }
    for &threads in &thread_counts {
        let mut r = req.clone();
        r.config.threads = threads;
        // Alternate the contenders so that load from other processes hits both alike.
        let (mut ours, mut decode) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t0 = Instant::now();
            report = Some(score_era5_lead(&r)?);
            ours.push(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            era5_decode_only(&r, threads)?;
            decode.push(t0.elapsed().as_secs_f64());
        }
        figures.push((threads, median(ours), median(decode)));
    }
    let report = report.context("no run")?;

    // `--python-runs 0`: our figures only (quick iterations on the kernels; no agreement check).
    let python = if args.python_runs == 0 {
        None
    } else {
        Some(era5_python(
            &py,
            &repo,
            &req,
            lead_hours,
            args.python_runs,
            &report,
        )?)
    };
    println!(
        "ERA5 benchmark, one (miner, lead): 0.25° (721 x 1440), 4 surface + 5 x 13 levels = 69 \
         fields each of forecast, ERA5, climatology; stores in {dir_s}; median of {runs}"
    );
    if let Some(p) = &python {
        println!(
            "  python reference (xarray/xskillscore)   {:>9.1} ms   (median of {}; open + score, \
             timed inside python; interpreter start + imports {:.1} s not counted)",
            p.median_s * 1e3,
            p.runs,
            p.startup_s
        );
    }
    for (threads, o, d) in figures {
        println!("  threads = {threads}");
        println!(
            "    ours (score_era5_lead)                {:>9.1} ms",
            o * 1e3
        );
        println!(
            "    decode-only floor                     {:>9.1} ms",
            d * 1e3
        );
        if let Some(p) = &python {
            println!(
                "    speed-up vs python                    {:>9.1} x   (goal >= 20)",
                p.median_s / o
            );
        }
        println!(
            "    ours / decode floor                   {:>9.2} x   (goal <= 1.5)",
            o / d
        );
    }
    let Some(Python {
        agreement:
            Agreement {
                compared,
                worst,
                mismatches,
            },
        ..
    }) = python
    else {
        println!("  python reference skipped (--python-runs 0): no agreement check");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "  agreement with python: {compared} numbers, largest relative difference {worst:.2e}: {}",
        if mismatches.is_empty() {
            "all within 1e-6"
        } else {
            "MISMATCH"
        }
    );
    for m in &mismatches {
        println!("    {m}");
    }
    Ok(if mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
