//! `dispatch_and_wait`: hand a `WorkUnit` to the pool and wait for exactly one outcome.
//!
//! Every dispatch ends in exactly one of: a result, a handler error, a timeout, "worker died" or
//! shutdown. Whoever removes the job's waiter from the table delivers its outcome, so an outcome
//! is delivered at most once; a result whose waiter is gone is logged as orphaned, counted, its
//! result segments removed, and dropped. Nothing is retained for abandoned jobs: the waiter entry
//! is removed on every path, including when the caller's future is dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gaia_ipc::{FailureKind, ResultUnit, SharedArray, WorkUnit};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::queue::WorkQueue;
use crate::jobs::ComputeJob;
use crate::telemetry::metrics::Metrics;

/// How a dispatch failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DispatchError {
    /// The handler ran and reported an error (the full result is kept).
    #[error("handler error in {}: {}", .0.task_name, .0.error.as_deref().unwrap_or("unknown"))]
    Handler(Box<ResultUnit>),
    /// No outcome before the job's timeout; a worker running it was killed.
    #[error("job timed out after {0} s")]
    Timeout(u64),
    /// The worker running the job died.
    #[error("worker {pid} died while running the job")]
    WorkerDied {
        /// PID of the dead worker.
        pid: u32,
    },
    /// The IO-Engine is shutting down.
    #[error("IO-Engine is shutting down")]
    Shutdown,
    /// A job with this id is already in flight.
    #[error("job id {0} is already in flight")]
    DuplicateJob(String),
}

impl DispatchError {
    /// Label for `gaia_compute_jobs_total{outcome}`.
    pub fn outcome(&self) -> &'static str {
        match self {
            DispatchError::Handler(_) => "handler_error",
            DispatchError::Timeout(_) => "timeout",
            DispatchError::WorkerDied { .. } => "worker_died",
            DispatchError::Shutdown => "shutdown",
            DispatchError::DuplicateJob(_) => "rejected",
        }
    }
}

/// Why a typed compute job ([`Dispatcher::run`]) gave no response: the kind the handler (or the
/// pool) gave it, and the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ComputeFailure {
    /// What kind of failure: pool problems (timeout, worker died, shutdown) are transient.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
}

impl ComputeFailure {
    /// A passing condition: trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Transient
    }

    /// The forecast is not what the miner signed.
    pub fn is_verification(&self) -> bool {
        self.kind == FailureKind::Verification
    }

    fn internal(message: String) -> Self {
        Self {
            kind: FailureKind::Internal,
            message,
        }
    }

    fn from_result(result: &ResultUnit) -> Self {
        Self {
            kind: result.failure_kind.unwrap_or(FailureKind::Internal),
            message: result
                .error
                .clone()
                .unwrap_or_else(|| "no error text".into()),
        }
    }
}

/// The outcome of one dispatch.
pub type Outcome = Result<ResultUnit, DispatchError>;

struct Waiter {
    task: String,
    tx: oneshot::Sender<Outcome>,
}

/// The IO-Engine's side of the pool.
pub struct Dispatcher {
    /// Jobs waiting for a worker.
    pub queue: WorkQueue,
    waiters: Mutex<HashMap<String, Waiter>>,
    results_tx: mpsc::Sender<ResultUnit>,
    results_rx: Mutex<Option<mpsc::Receiver<ResultUnit>>>,
    /// Metrics shared with the endpoint.
    pub metrics: Arc<Metrics>,
    shutting_down: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    in_flight: AtomicUsize,
    /// Directory of shared-memory segments.
    pub shm_dir: PathBuf,
    /// Supervisor PID (segment names).
    pub supervisor_pid: u32,
    /// The validator's database, once the tasks have opened it (for `/health`).
    pub database: std::sync::OnceLock<gaia_store::Store>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

struct InFlight<'a>(&'a AtomicUsize);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Dispatcher {
    /// A dispatcher with a work and a result queue of `queue_size` each.
    pub fn new(
        queue_size: usize,
        metrics: Arc<Metrics>,
        shm_dir: PathBuf,
        supervisor_pid: u32,
    ) -> Arc<Self> {
        let (results_tx, results_rx) = mpsc::channel(queue_size);
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Self {
            queue: WorkQueue::new(queue_size),
            waiters: Mutex::new(HashMap::new()),
            results_tx,
            results_rx: Mutex::new(Some(results_rx)),
            metrics,
            shutting_down: AtomicBool::new(false),
            shutdown_tx,
            in_flight: AtomicUsize::new(0),
            shm_dir,
            supervisor_pid,
            database: std::sync::OnceLock::new(),
        })
    }

    /// Jobs dispatched and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Jobs registered with a waiter (for leak checks).
    pub fn waiting(&self) -> usize {
        self.waiters.lock().map_or(0, |w| w.len())
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// A receiver that turns true when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Stop accepting new dispatches.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let _ = self.shutdown_tx.send(true);
    }

    /// Fail every job still waiting in the queue (end of the grace period).
    pub fn fail_queued(&self) {
        for job in self.queue.drain() {
            self.deliver(&job.unit.job_id, Err(DispatchError::Shutdown));
        }
        self.update_depths();
    }

    /// Refresh the queue-depth gauges.
    pub fn update_depths(&self) {
        self.metrics.set_queue_depth("work", self.queue.depth());
        let result_depth = self.results_tx.max_capacity() - self.results_tx.capacity();
        self.metrics.set_queue_depth("result", result_depth);
    }

    /// Deliver an outcome to the job's waiter if it is still there; returns whether it was.
    pub fn deliver(&self, job_id: &str, outcome: Outcome) -> bool {
        let waiter = self.waiters.lock().ok().and_then(|mut w| w.remove(job_id));
        let Some(waiter) = waiter else { return false };
        let (label, seconds) = match &outcome {
            Ok(r) => ("success", Some(r.execution_time_ms / 1000.0)),
            Err(DispatchError::Handler(r)) => ("handler_error", Some(r.execution_time_ms / 1000.0)),
            Err(e) => (e.outcome(), None),
        };
        self.metrics.record_job(&waiter.task, label, seconds);
        let _ = waiter.tx.send(outcome);
        true
    }

    /// Hand a result from a worker connection to the result queue.
    pub async fn submit_result(&self, result: ResultUnit) {
        let _ = self.results_tx.send(result).await;
        self.update_depths();
    }

    /// The result router: resolves waiters, logs and cleans up orphans. Run once.
    pub async fn route_results(self: Arc<Self>) {
        let rx = self.results_rx.lock().ok().and_then(|mut r| r.take());
        let Some(mut rx) = rx else { return };
        while let Some(result) = rx.recv().await {
            self.update_depths();
            let job_id = result.job_id.clone();
            let outcome = if result.success {
                Ok(result.clone())
            } else {
                Err(DispatchError::Handler(Box::new(result.clone())))
            };
            if !self.deliver(&job_id, outcome) {
                self.metrics.orphaned_results.inc();
                tracing::warn!(job_id = %job_id, task = %result.task_name, "orphaned result dropped: its waiter gave up");
                for reference in result.shared_data_result.iter().flat_map(|m| m.values()) {
                    drop(SharedArray::adopt(&self.shm_dir, reference));
                }
            }
        }
    }

    /// Run compute job `J` in the pool and wait for its typed response (or why there is none).
    pub async fn run<J: ComputeJob>(
        &self,
        job_id: String,
        request: &J::Request,
        timeout_seconds: u64,
    ) -> Result<J::Response, ComputeFailure> {
        let payload = serde_json::to_value(request).map_err(|e| {
            ComputeFailure::internal(format!("{}: cannot encode the request: {e}", J::TASK))
        })?;
        let mut unit = WorkUnit::new(job_id, J::TASK, payload);
        unit.timeout_seconds = timeout_seconds;
        let result = match self.dispatch_and_wait(unit).await {
            Ok(r) if r.success => r,
            Ok(r) => return Err(ComputeFailure::from_result(&r)),
            Err(DispatchError::Handler(r)) => return Err(ComputeFailure::from_result(&r)),
            Err(e) => {
                return Err(ComputeFailure {
                    kind: FailureKind::Transient,
                    message: e.to_string(),
                })
            }
        };
        serde_json::from_value(result.result.unwrap_or(serde_json::Value::Null)).map_err(|e| {
            ComputeFailure::internal(format!("{}: cannot decode the response: {e}", J::TASK))
        })
    }

    /// Dispatch a unit and wait for its one outcome.
    pub async fn dispatch_and_wait(&self, unit: WorkUnit) -> Outcome {
        if self.is_shutting_down() {
            return Err(DispatchError::Shutdown);
        }
        let job_id = unit.job_id.clone();
        let timeout_s = unit.timeout_seconds;
        let (tx, rx) = oneshot::channel();
        {
            let Ok(mut waiters) = self.waiters.lock() else {
                return Err(DispatchError::Shutdown);
            };
            if waiters.contains_key(&job_id) {
                return Err(DispatchError::DuplicateJob(job_id));
            }
            waiters.insert(
                job_id.clone(),
                Waiter {
                    task: unit.task_name.clone(),
                    tx,
                },
            );
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let _in_flight = InFlight(&self.in_flight);
        let guard = WaiterGuard {
            dispatcher: self,
            job_id: &job_id,
        };
        let deadline = Instant::now() + Duration::from_secs(timeout_s);
        let cancelled = tokio::select! {
            flag = self.queue.push(unit, deadline) => Some(flag),
            _ = tokio::time::sleep_until(deadline) => None,
        };
        self.update_depths();
        let mut rx = rx;
        let outcome = tokio::select! {
            res = &mut rx => res.unwrap_or(Err(DispatchError::Shutdown)),
            _ = tokio::time::sleep_until(deadline) => {
                if let Some(flag) = &cancelled {
                    flag.store(true, Ordering::Release);
                }
                // A connection may be delivering right now; whoever removes the waiter wins.
                if self.deliver(&job_id, Err(DispatchError::Timeout(timeout_s))) {
                    Err(DispatchError::Timeout(timeout_s))
                } else {
                    rx.await.unwrap_or(Err(DispatchError::Timeout(timeout_s)))
                }
            }
        };
        drop(guard);
        outcome
    }
}

/// Removes the waiter entry however the dispatch future ends (including being dropped).
struct WaiterGuard<'a> {
    dispatcher: &'a Dispatcher,
    job_id: &'a str,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.dispatcher.waiters.lock() {
            w.remove(self.job_id);
        }
    }
}
