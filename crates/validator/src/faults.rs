//! Deliberate faults for the soak's self-test (issue 16): a build that leaks memory in the
//! IO-Engine on every finished compute job, and one that silently drops one ERA5 score write.
//! They prove that the soak's memory and data-correctness criteria can fail.
//!
//! Only the developer binary installs faults (`gaia-dev`, from `GAIA_DEV_FAULT_LEAK_BYTES_PER_JOB`
//! and `GAIA_DEV_FAULT_DROP_SCORE_WRITE`); the production binary never calls [`install`], so
//! every hook below is a no-op there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Which faults are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Bytes the IO-Engine retains (touched, never freed) per finished compute job.
    pub leak_bytes_per_job: usize,
    /// Drop the first ERA5 score write (the step still reports success).
    pub drop_one_score_write: bool,
}

impl Faults {
    /// The faults the developer binary's environment asks for (none when unset or unreadable).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        Self {
            leak_bytes_per_job: var("GAIA_DEV_FAULT_LEAK_BYTES_PER_JOB")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            drop_one_score_write: var("GAIA_DEV_FAULT_DROP_SCORE_WRITE")
                .is_some_and(|v| v.trim() == "1" || v.trim() == "true"),
        }
    }
}

/// Installed faults and what they did so far.
#[derive(Debug, Default)]
pub struct FaultState {
    faults: Faults,
    leaked: Mutex<Vec<Vec<u8>>>,
    dropped: AtomicBool,
}

impl FaultState {
    /// State for `faults`, nothing done yet.
    pub fn new(faults: Faults) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    /// A compute job finished: retain (and touch) the configured bytes.
    pub fn job_finished(&self) {
        if self.faults.leak_bytes_per_job > 0 {
            if let Ok(mut l) = self.leaked.lock() {
                l.push(vec![1u8; self.faults.leak_bytes_per_job]);
            }
        }
    }

    /// True exactly once when the lossy fault is on.
    pub fn drop_score_write(&self) -> bool {
        self.faults.drop_one_score_write && !self.dropped.swap(true, Ordering::SeqCst)
    }

    /// Bytes retained so far.
    pub fn leaked_bytes(&self) -> usize {
        self.leaked
            .lock()
            .map(|l| l.iter().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

static STATE: OnceLock<FaultState> = OnceLock::new();

/// Turn `faults` on for this process; false when faults were installed already.
pub fn install(faults: Faults) -> bool {
    STATE.set(FaultState::new(faults)).is_ok()
}

/// Hook: a compute job finished (IO-Engine). Leaks when asked to.
pub fn job_finished() {
    if let Some(s) = STATE.get() {
        s.job_finished();
    }
}

/// Hook: a score is about to be written; true exactly once when the lossy fault is on.
pub fn drop_score_write() -> bool {
    STATE.get().is_some_and(FaultState::drop_score_write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_happens_without_faults_and_each_fault_acts() {
        // Nothing is installed in the tests' process: the hooks do nothing.
        assert!(!drop_score_write());
        job_finished();
        assert_eq!(Faults::from_env(), Faults::default());
        let off = FaultState::new(Faults::default());
        off.job_finished();
        assert!(!off.drop_score_write());
        assert_eq!(off.leaked_bytes(), 0);
        let on = FaultState::new(Faults {
            leak_bytes_per_job: 10,
            drop_one_score_write: true,
        });
        on.job_finished();
        on.job_finished();
        assert_eq!(on.leaked_bytes(), 20);
        assert!(on.drop_score_write());
        assert!(!on.drop_score_write(), "only one write is dropped");
    }
}
