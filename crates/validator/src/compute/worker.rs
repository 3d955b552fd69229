//! The worker loop: connect, handshake, run jobs, recycle.
//!
//! Recycling: after `MAX_JOBS_PER_WORKER` jobs (plus up to 10 % random jitter, so workers do not
//! all recycle at once), when its RSS is over `PROCESS_MAX_RSS_MB_COMPUTE_WORKER` after a job, or
//! after `WORKER_QUEUE_TIMEOUT_S` idle, the worker says `Goodbye` and exits with status 0; the
//! supervisor replaces it without counting a crash. A job is never interrupted here: the per-job
//! timeout is enforced from outside by the IO-Engine. SIGTERM makes the worker leave at the next
//! point between jobs. If the IO-Engine goes away the worker reconnects to its successor.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gaia_ipc::frame::{read_frame, write_frame, FrameError};
use gaia_ipc::{Message, ResultUnit, WorkUnit, PROTOCOL_VERSION};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::registry::HandlerRegistry;
use crate::jobs::{JobContext, JobError};
use crate::telemetry::procstat;

/// How a worker is configured.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Slot name (`compute-1`).
    pub name: String,
    /// Socket of the IO-Engine.
    pub socket: std::path::PathBuf,
    /// Directory of shared-memory segments.
    pub shm_dir: std::path::PathBuf,
    /// PID of the supervisor (segment-name prefix).
    pub supervisor_pid: u32,
    /// Jobs before recycling (jitter already applied).
    pub max_jobs: u64,
    /// Idle time before recycling.
    pub idle_timeout: Duration,
    /// RSS limit checked between jobs, in bytes.
    pub max_rss_bytes: u64,
    /// Largest frame accepted.
    pub max_frame_bytes: usize,
}

/// Why the worker loop ended (the process then exits 0, or
/// [`crate::supervisor::EXIT_WORKER_STOPPED`] after `Shutdown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// Ran its quota of jobs.
    MaxJobs(u64),
    /// RSS over the limit after a job.
    MemoryLimit(u64),
    /// No work for the idle timeout.
    Idle,
    /// The IO-Engine asked it to stop, or SIGTERM.
    Shutdown,
}

/// Apply up to +10 % random jitter to the recycle quota.
pub fn jittered_max_jobs(max_jobs: u64) -> u64 {
    let extra = (max_jobs / 10).max(if max_jobs >= 10 { 1 } else { 0 });
    max_jobs + rand::random_range(0..=extra)
}

/// Run one job through the registry, turning every outcome (including a panic) into a result.
pub fn run_job(registry: &HandlerRegistry, cfg: &WorkerConfig, unit: &WorkUnit) -> ResultUnit {
    let start = Instant::now();
    let empty = BTreeMap::new();
    let prefix = gaia_ipc::shm::job_prefix(cfg.supervisor_pid, &unit.job_id);
    let ctx = JobContext {
        job_id: &unit.job_id,
        shm_dir: &cfg.shm_dir,
        shared: unit.shared_data.as_ref().unwrap_or(&empty),
        segment_prefix: &prefix,
    };
    let outcome = match registry.get(&unit.task_name) {
        None => Err(JobError::internal(format!(
            "unknown task `{}`",
            unit.task_name
        ))),
        Some(handler) => match catch_unwind(AssertUnwindSafe(|| handler(&ctx, &unit.payload))) {
            Ok(outcome) => outcome,
            Err(panic) => Err(JobError::internal(format!(
                "handler panicked: {}",
                panic_text(&panic)
            ))),
        },
    };
    let execution_time_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (success, result, error, failure_kind) = match outcome {
        Ok(value) => (true, Some(value), None, None),
        Err(e) => (false, None, Some(e.message), Some(e.kind)),
    };
    ResultUnit {
        job_id: unit.job_id.clone(),
        task_name: unit.task_name.clone(),
        success,
        result,
        shared_data_result: None,
        error,
        failure_kind,
        worker_pid: std::process::id(),
        execution_time_ms,
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Wait until `stream` is readable or `timeout` passes; true when readable.
fn wait_readable(stream: &UnixStream, timeout: Duration) -> bool {
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

fn connect(cfg: &WorkerConfig, stop: &AtomicBool, deadline: Instant) -> Option<UnixStream> {
    let mut delay = Duration::from_millis(20);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if let Ok(mut stream) = UnixStream::connect(&cfg.socket) {
            let hello = Message::Hello {
                protocol_version: PROTOCOL_VERSION,
                pid: std::process::id(),
                name: cfg.name.clone(),
            };
            if write_frame(&mut stream, &hello).is_ok() {
                match read_frame(&mut stream, cfg.max_frame_bytes) {
                    Ok(Some(Message::Welcome { .. })) => return Some(stream),
                    Ok(Some(Message::Refused { reason })) => {
                        tracing::error!(%reason, "IO-Engine refused the handshake")
                    }
                    other => tracing::warn!(?other, "unexpected handshake answer"),
                }
            }
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
    None
}

/// The worker's main loop. Returns why it stopped; the caller exits 0.
pub fn serve(registry: &HandlerRegistry, cfg: &WorkerConfig, stop: Arc<AtomicBool>) -> ExitReason {
    let mut jobs_done: u64 = 0;
    loop {
        let Some(mut stream) = connect(cfg, &stop, Instant::now() + cfg.idle_timeout) else {
            return if stop.load(Ordering::Relaxed) {
                ExitReason::Shutdown
            } else {
                ExitReason::Idle
            };
        };
        tracing::info!(jobs_done, "connected to the IO-Engine");
        let mut idle_since = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                let _ = write_frame(
                    &mut stream,
                    &Message::Goodbye {
                        reason: "shutdown".into(),
                    },
                );
                return ExitReason::Shutdown;
            }
            if idle_since.elapsed() >= cfg.idle_timeout {
                let _ = write_frame(
                    &mut stream,
                    &Message::Goodbye {
                        reason: "idle".into(),
                    },
                );
                return ExitReason::Idle;
            }
            if !wait_readable(&stream, Duration::from_millis(250)) {
                continue;
            }
            let unit = match read_frame(&mut stream, cfg.max_frame_bytes) {
                Ok(Some(Message::Work(unit))) => unit,
                Ok(Some(Message::Shutdown)) => return ExitReason::Shutdown,
                Ok(None) | Err(FrameError::Io(_)) | Err(FrameError::Truncated) => {
                    tracing::warn!("IO-Engine connection closed; reconnecting");
                    break;
                }
                Ok(Some(other)) => {
                    tracing::warn!(
                        ?other,
                        "unexpected message from the IO-Engine; reconnecting"
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bad frame from the IO-Engine; reconnecting");
                    break;
                }
            };
            let span = tracing::info_span!("job", job_id = %unit.job_id, task = %unit.task_name);
            let result = span.in_scope(|| run_job(registry, cfg, &unit));
            jobs_done += 1;
            if let Err(e) = write_frame(&mut stream, &Message::Result(result)) {
                tracing::warn!(error = %e, "could not deliver a result; reconnecting");
                gaia_ipc::shm::remove_with_prefix(
                    &cfg.shm_dir,
                    &gaia_ipc::shm::job_prefix(cfg.supervisor_pid, &unit.job_id),
                );
                break;
            }
            idle_since = Instant::now();
            let rss = procstat::rss_bytes(std::process::id());
            let leaving = if jobs_done >= cfg.max_jobs {
                Some(ExitReason::MaxJobs(jobs_done))
            } else if rss > cfg.max_rss_bytes {
                Some(ExitReason::MemoryLimit(rss))
            } else {
                None
            };
            if let Some(reason) = leaving {
                let _ = write_frame(
                    &mut stream,
                    &Message::Goodbye {
                        reason: format!("{reason:?}"),
                    },
                );
                return reason;
            }
        }
    }
}
