//! `gaia-fuzz`: the stable in-process fuzz loop over the parsers of outside bytes (issue 20).
//!
//! ```text
//! gaia-fuzz list
//! gaia-fuzz TARGET [--minutes M | --seconds S] [--seed N] [--max-execs N] [--corpus DIR] [--artifacts DIR]
//! gaia-fuzz all --seconds S
//! gaia-fuzz TARGET --replay FILE...
//! ```
//!
//! Corpus and findings default to `fuzz/corpus/TARGET` and `fuzz/artifacts/TARGET`. Exits 1 when
//! anything was found. `scripts/fuzz` is the usual way in.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gaia_dev::fuzz::{find, TARGETS};
use gaia_testkit::fuzz::{run, run_one, Options, Target};
use gaia_testkit::hostile::{CountingAlloc, Limits};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Command line of `gaia-fuzz`.
#[derive(Debug, Parser)]
#[command(about = "Fuzz the parsers of outside bytes (stable Rust, in process)")]
struct Args {
    /// A target name, `all`, or `list`.
    target: String,
    /// Run for this many minutes (per target).
    #[arg(long)]
    minutes: Option<f64>,
    /// Run for this many seconds (per target; default 60).
    #[arg(long)]
    seconds: Option<f64>,
    /// Seed of the mutation stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many executions.
    #[arg(long)]
    max_execs: Option<u64>,
    /// Corpus directory (default `fuzz/corpus/TARGET`).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Findings directory (default `fuzz/artifacts/TARGET`).
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Run these files once each and report (reproduce a finding).
    #[arg(long, num_args = 1..)]
    replay: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.target == "list" {
        for t in TARGETS {
            println!("{}", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let targets: Vec<&Target> = if args.target == "all" {
        TARGETS.iter().collect()
    } else if let Some(t) = find(&args.target) {
        vec![t]
    } else {
        eprintln!(
            "unknown target {:?}; `gaia-fuzz list` names them",
            args.target
        );
        return ExitCode::from(2);
    };
    let mut found = false;
    for target in targets {
        found |= if args.replay.is_empty() {
            fuzz(target, &args)
        } else {
            replay(target, &args.replay)
        };
    }
    if found {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn fuzz(target: &Target, args: &Args) -> bool {
    let secs = args
        .minutes
        .map(|m| m * 60.0)
        .or(args.seconds)
        .unwrap_or(60.0);
    let dir = |given: &Option<PathBuf>, kind: &str| {
        given
            .clone()
            .map(|d| {
                if args.target == "all" {
                    d.join(target.name)
                } else {
                    d
                }
            })
            .unwrap_or_else(|| PathBuf::from("fuzz").join(kind).join(target.name))
    };
    let options = Options {
        duration: Duration::from_secs_f64(secs.max(0.0)),
        max_execs: args.max_execs.unwrap_or(u64::MAX),
        seed: args.seed,
        corpus_dir: Some(dir(&args.corpus, "corpus")),
        artifacts_dir: Some(dir(&args.artifacts, "artifacts")),
        limits: Limits::default(),
        ..Options::default()
    };
    let report = run(target, &options);
    println!(
        "{:<15} {:>10} execs in {:>7.1} s ({:>7.1} s CPU) = {:>8.0}/s; corpus {:>4}; outcome labels {:>4}; findings {}",
        target.name,
        report.execs,
        report.elapsed.as_secs_f64(),
        report.cpu.as_secs_f64(),
        report.execs_per_sec(),
        report.corpus,
        report.labels.len(),
        report.findings.len()
    );
    for f in &report.findings {
        let shown: String = f.message.chars().take(300).collect();
        println!(
            "  {:?} ({} bytes) {:?}: {shown}",
            f.kind,
            f.input.len(),
            f.path
        );
    }
    !report.findings.is_empty()
}

fn replay(target: &Target, files: &[PathBuf]) -> bool {
    let mut found = false;
    for file in files {
        match std::fs::read(file) {
            Ok(input) => {
                let outcome = run_one(target, &input, Limits::default());
                found |= outcome.is_err();
                println!("{}: {outcome:?}", file.display());
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                found = true;
            }
        }
    }
    found
}
