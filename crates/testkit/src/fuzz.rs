//! A stable-Rust, in-process fuzz loop (issue 20): no nightly, no sanitizer runtime.
//!
//! Each [`Target`] is a parser entry point wrapped as `fn(&[u8]) -> Result<label, violation>`.
//! The loop takes the target's seed inputs plus the files of a corpus directory, mutates them
//! with [`crate::hostile::mutate`], and runs each input under `catch_unwind` with the time and
//! allocation bounds of [`Limits`]. Feedback is coarse but free: an input whose outcome *label*
//! (the target's name for what happened, e.g. the error variant) was not seen before joins the
//! corpus and is written to the corpus directory. A panic, a property violation, a slow input or
//! an over-large allocation is a [`Finding`]: minimised by deleting runs while it still
//! reproduces, written to the artifacts directory, reported once per kind and message. A call
//! that hangs (20 × the time limit in wall time, at least 30 s) is written as `hang-*` by a
//! watchdog and ends the process.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hostile::{measure, mutate, Limits, Rng};

/// One fuzz target: a parser of outside bytes and the real inputs to start from.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name used on the command line and for the corpus and artifact directories.
    pub name: &'static str,
    /// Valid inputs to mutate (from the fixtures the tests already use).
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Parses one input: `Ok(label)` names the outcome (for corpus feedback), `Err` is a broken
    /// property (round-trip mismatch, untyped error, ...). A panic is caught by the loop.
    pub run: fn(&[u8]) -> Result<String, String>,
}

/// What kind of problem an input showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// The parser panicked.
    Panic,
    /// The target reported a broken property.
    Property,
    /// One call took longer than [`Limits::time`].
    Slow,
    /// One call's peak allocation exceeded [`Limits::peak_bytes`].
    Alloc,
}

impl FindingKind {
    fn tag(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::Property => "property",
            FindingKind::Slow => "slow",
            FindingKind::Alloc => "alloc",
        }
    }
}

/// One distinct problem found.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What happened.
    pub kind: FindingKind,
    /// The panic message, the violated property, or the measured time/bytes.
    pub message: String,
    /// The minimised input that still shows it.
    pub input: Vec<u8>,
    /// Where the input was written, if an artifacts directory was given.
    pub path: Option<PathBuf>,
}

/// How to run one target.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many executions (whichever comes first).
    pub max_execs: u64,
    /// Seed of the mutation stream (same seed, same inputs).
    pub seed: u64,
    /// Extra inputs to read, and where inputs with a new outcome label are written.
    pub corpus_dir: Option<PathBuf>,
    /// Where findings are written.
    pub artifacts_dir: Option<PathBuf>,
    /// Bounds of one call.
    pub limits: Limits,
    /// Longest input generated.
    pub max_len: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            duration: Duration::from_secs(60),
            max_execs: u64::MAX,
            seed: 1,
            corpus_dir: None,
            artifacts_dir: None,
            limits: Limits::default(),
            max_len: 256 << 10,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Inputs executed.
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// CPU time of the fuzzing thread (less than `elapsed` when the machine is shared).
    pub cpu: Duration,
    /// Corpus size at the end (seeds, corpus files, inputs with new labels).
    pub corpus: usize,
    /// Distinct outcome labels seen.
    pub labels: BTreeSet<String>,
    /// Distinct findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Executions per second.
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What one input did: its outcome label, or a finding's kind and message.
pub type Outcome = Result<String, (FindingKind, String)>;

/// CPU time of the calling thread: the measure of a slow input, so that fuzzing beside other
/// work (several targets at once, a build) does not report a starved input as slow. A hung input
/// is still caught by the wall-clock watchdog.
pub fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Runs `target` on one input within `limits` (time is the thread's CPU time).
pub fn run_one(target: &Target, input: &[u8], limits: Limits) -> Outcome {
    let start = thread_cpu_time();
    let (result, usage) = measure(|| catch_unwind(AssertUnwindSafe(|| (target.run)(input))));
    let elapsed = thread_cpu_time().saturating_sub(start);
    let label = match result {
        Err(panic) => return Err((FindingKind::Panic, panic_text(&*panic))),
        Ok(Err(violation)) => return Err((FindingKind::Property, violation)),
        Ok(Ok(label)) => label,
    };
    if elapsed > limits.time {
        return Err((
            FindingKind::Slow,
            format!("{elapsed:?} (limit {:?})", limits.time),
        ));
    }
    if usage.peak_bytes > limits.peak_bytes {
        let msg = format!(
            "peak {} bytes, largest {} (limit {})",
            usage.peak_bytes, usage.largest, limits.peak_bytes
        );
        return Err((FindingKind::Alloc, msg));
    }
    Ok(label)
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_string()
    }
}

/// Deletes runs of `input` while `kind` still reproduces through `exec` (at most `budget` tries).
pub fn minimise(
    exec: &dyn Fn(&[u8]) -> Outcome,
    input: &[u8],
    kind: FindingKind,
    budget: usize,
) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut tries = 0;
    let mut chunk = best.len().div_ceil(2).max(1);
    while chunk >= 1 && tries < budget {
        let mut at = 0;
        let mut shrunk = false;
        while at < best.len() && tries < budget {
            let end = (at + chunk).min(best.len());
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            tries += 1;
            if matches!(exec(&candidate), Err((k, _)) if k == kind) {
                best = candidate;
                shrunk = true;
            } else {
                at += chunk;
            }
        }
        if !shrunk {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    best
}

fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

fn digest(bytes: &[u8]) -> String {
    // FNV-1a: a stable file name, not a security property.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

fn write_input(dir: &Path, prefix: &str, bytes: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{prefix}-{}", digest(bytes)));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// Fuzzes `target` as `options` say.
pub fn run(target: &Target, options: &Options) -> Report {
    let mut corpus = (target.seeds)();
    if let Some(dir) = &options.corpus_dir {
        corpus.extend(read_corpus(dir));
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut report = Report::default();
    let mut seen: BTreeSet<(FindingKind, String)> = BTreeSet::new();
    let mut rng = Rng::new(options.seed);
    let current: Arc<Mutex<(Instant, Vec<u8>)>> =
        Arc::new(Mutex::new((Instant::now(), Vec::new())));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = spawn_watchdog(
        &current,
        &stop,
        // Wall time, so a loaded machine stretches it: at least 30 s before calling it a hang.
        (options.limits.time * 20).max(Duration::from_secs(30)),
        options.artifacts_dir.clone(),
    );
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let exec = |input: &[u8]| {
        if let Ok(mut slot) = current.lock() {
            *slot = (Instant::now(), input.to_vec());
        }
        run_one(target, input, options.limits)
    };
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    // Every seed first, unmutated, then mutations.
    let mut queue: Vec<Vec<u8>> = corpus.iter().rev().cloned().collect();
    while report.execs < options.max_execs && start.elapsed() < options.duration {
        let input = match queue.pop() {
            Some(input) => input,
            None => {
                let parent = &corpus[rng.below(corpus.len())];
                mutate(parent, &mut rng, 4, options.max_len)
            }
        };
        report.execs += 1;
        match exec(&input) {
            Ok(label) => {
                if report.labels.insert(label) {
                    if let Some(dir) = &options.corpus_dir {
                        write_input(dir, "label", &input);
                    }
                    corpus.push(input);
                }
            }
            Err((kind, message)) => {
                let key: String = message.chars().take(120).collect();
                if seen.insert((kind, key)) {
                    // A slow or heavy input costs a limit's worth per try: minimise it less.
                    let budget = if matches!(kind, FindingKind::Slow | FindingKind::Alloc) {
                        30
                    } else {
                        4000
                    };
                    let small = minimise(&exec, &input, kind, budget);
                    let path = options
                        .artifacts_dir
                        .as_deref()
                        .and_then(|d| write_input(d, kind.tag(), &small));
                    report.findings.push(Finding {
                        kind,
                        message,
                        input: small,
                        path,
                    });
                }
            }
        }
    }
    report.elapsed = start.elapsed();
    report.cpu = thread_cpu_time().saturating_sub(cpu_start);
    if let Ok(mut slot) = current.lock() {
        *slot = (Instant::now(), Vec::new());
    }
    report.corpus = corpus.len();
    std::panic::set_hook(previous_hook);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    report
}

fn spawn_watchdog(
    current: &Arc<Mutex<(Instant, Vec<u8>)>>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
    hang: Duration,
    artifacts: Option<PathBuf>,
) -> std::thread::JoinHandle<()> {
    let current = Arc::clone(current);
    let stop = Arc::clone(stop);
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let hung = current
                .lock()
                .ok()
                .filter(|slot| slot.0.elapsed() > hang)
                .map(|slot| slot.1.clone());
            if let Some(input) = hung {
                let path = artifacts
                    .as_deref()
                    .and_then(|d| write_input(d, "hang", &input));
                eprintln!(
                    "fuzz: one input ran longer than {hang:?}; written to {path:?}; stopping"
                );
                std::process::exit(3);
            }
        }
    })
}

#[cfg(test)]
mod tests;
