//! The bounded work queue between `dispatch_and_wait` and the worker connections.
//!
//! Capacity is `IPC_QUEUE_SIZE`: a dispatch waits for a free place (back-pressure) and holds it
//! until a worker connection takes the job. A job given back by a worker that said `Goodbye`
//! before starting it goes to the front, without waiting for a place, so it is never lost.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gaia_ipc::WorkUnit;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A queued job.
#[derive(Debug)]
pub struct QueuedJob {
    /// The work.
    pub unit: WorkUnit,
    /// When the waiter gives up.
    pub deadline: Instant,
    /// Set when the waiter gave up before a worker took the job.
    pub cancelled: Arc<AtomicBool>,
    _place: Option<OwnedSemaphorePermit>,
}

/// Bounded FIFO with back-pressure.
#[derive(Debug)]
pub struct WorkQueue {
    items: Mutex<VecDeque<QueuedJob>>,
    places: Arc<Semaphore>,
    ready: Notify,
    capacity: usize,
}

impl WorkQueue {
    /// A queue with `capacity` places.
    pub fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            places: Arc::new(Semaphore::new(capacity)),
            ready: Notify::new(),
            capacity,
        }
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Jobs waiting for a worker.
    pub fn depth(&self) -> usize {
        self.items.lock().map_or(0, |q| q.len())
    }

    /// Wait for a place, then enqueue. Returns the cancellation flag of the job.
    pub async fn push(&self, unit: WorkUnit, deadline: Instant) -> Arc<AtomicBool> {
        let place = self.places.clone().acquire_owned().await.ok();
        let cancelled = Arc::new(AtomicBool::new(false));
        let job = QueuedJob {
            unit,
            deadline,
            cancelled: cancelled.clone(),
            _place: place,
        };
        if let Ok(mut q) = self.items.lock() {
            q.push_back(job);
        }
        self.ready.notify_one();
        cancelled
    }

    /// Put a job a worker gave back at the front.
    pub fn push_front(&self, mut job: QueuedJob) {
        job._place = None;
        if let Ok(mut q) = self.items.lock() {
            q.push_front(job);
        }
        self.ready.notify_one();
    }

    /// Take the next job that has not been cancelled, waiting until there is one.
    pub async fn pop(&self) -> QueuedJob {
        loop {
            let notified = self.ready.notified();
            if let Some(job) = self.try_pop() {
                return job;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<QueuedJob> {
        let mut q = self.items.lock().ok()?;
        while let Some(job) = q.pop_front() {
            if !job.cancelled.load(Ordering::Acquire) {
                if !q.is_empty() {
                    self.ready.notify_one();
                }
                return Some(job);
            }
        }
        None
    }

    /// Remove every waiting job (shutdown); their waiters are failed by the caller.
    pub fn drain(&self) -> Vec<QueuedJob> {
        self.items
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn unit(id: &str) -> WorkUnit {
        WorkUnit::new(id, "sys.echo", serde_json::json!(null))
    }

    #[tokio::test]
    async fn fifo_with_backpressure_cancel_and_front_requeue() {
        let q = Arc::new(WorkQueue::new(2));
        let far = Instant::now() + Duration::from_secs(60);
        q.push(unit("a"), far).await;
        let cancel_b = q.push(unit("b"), far).await;
        assert_eq!(q.depth(), 2);
        // Third push waits for a place.
        let q2 = q.clone();
        let third = tokio::spawn(async move { q2.push(unit("c"), far).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!third.is_finished());
        assert_eq!(q.depth(), 2);
        let a = q.pop().await;
        assert_eq!(a.unit.job_id, "a");
        drop(a);
        third.await.unwrap();
        cancel_b.store(true, Ordering::Release);
        let c = q.pop().await;
        assert_eq!(c.unit.job_id, "c", "cancelled jobs are skipped");
        q.push_front(c);
        assert_eq!(q.pop().await.unit.job_id, "c");
        assert_eq!(q.depth(), 0);
        q.push(unit("d"), far).await;
        assert_eq!(q.drain().len(), 1);
        assert_eq!(q.capacity(), 2);
    }
}
